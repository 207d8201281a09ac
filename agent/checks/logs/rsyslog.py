"""The rsyslog drop-in that gives the logs check real severities on hosts without journald.

rsyslog's default file formats drop the priority. This drop-in writes, beside them, one
more file (``PRIORITY_FILE``) with warnings and worse plus every auth/authpriv message in
RFC 5424 lines (rsyslog's built-in ``RSYSLOG_SyslogProtocol23Format``: ``<PRI>1 TIME HOST
APP PROCID MSGID SD MSG``), and a logrotate entry for it. ``hostpatrol-agent install
--rsyslog`` writes both; the logs check reads that file instead of the plain system files
when it exists. Pure text: nothing here touches the OS.
"""

from __future__ import annotations

PRIORITY_FILE = "/var/log/hostpatrol/syslog.log"
DROPIN_NAME = "60-hostpatrol.conf"
LOGROTATE_NAME = "hostpatrol-syslog"


def rsyslog_dropin(log_file: str = PRIORITY_FILE) -> str:
    """The /etc/rsyslog.d drop-in (RainerScript), for ``log_file``."""
    return f"""\
# hostpatrol: warnings and worse, and every login event (auth, authpriv), with their
# syslog priority, for the hostpatrol logs check. Written by
# `hostpatrol-agent install --rsyslog`; remove this file and restart rsyslog to undo.
# Lines are RFC 5424: <PRI>1 TIME HOST APP PROCID MSGID STRUCTURED-DATA MSG
*.warning;auth,authpriv.* action(type="omfile" file="{log_file}"
                                 template="RSYSLOG_SyslogProtocol23Format"
                                 fileCreateMode="0640" dirCreateMode="0750")
"""


def logrotate_entry(log_file: str = PRIORITY_FILE) -> str:
    """The /etc/logrotate.d entry for ``log_file`` (rsyslog reopens it after rotation)."""
    return f"""\
# hostpatrol: rotation of the file `hostpatrol-agent install --rsyslog` set up.
{log_file} {{
\tweekly
\trotate 8
\tmissingok
\tnotifempty
\tcompress
\tdelaycompress
\tsharedscripts
\tpostrotate
\t\t/usr/lib/rsyslog/rsyslog-rotate
\tendscript
}}
"""

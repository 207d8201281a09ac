"""Default rectification measures (整改措施) per rule of the default policy, translated.

Section 三 of the report prints one per problem type; the preparer can replace any of
them in the draft (stored with the report). A rule without one here (a rule a user added)
gets :data:`GENERIC` until the preparer writes its measure.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

GENERIC = _l("Rectify host by host as the register lists; each problem counts as rectified "
             "only after the next automatic inspection confirms it.")

MEASURES = {
    "disk-used": _l("Free space or extend the disk; archive or remove old files and logs."),
    "inodes-used": _l("Remove the small files piling up (caches, sessions, mail queues) or "
                      "extend the file system."),
    "security-updates": _l("Install the pending security updates within the deadline; "
                           "test first where the system is critical."),
    "reboot-required": _l("Reboot in a maintenance window so that the installed updates "
                          "take effect."),
    "package-index-age": _l("Refresh the package index and check the update source."),
    "av-installed": _l("Install the unit's approved antivirus and put it under central "
                       "management."),
    "av-running": _l("Start the antivirus service, make it start at boot and find out why "
                     "it stopped."),
    "av-realtime": _l("Turn real-time protection back on and lock it by central policy."),
    "av-signatures": _l("Update the virus signatures; check the update source and schedule."),
    "av-last-scan": _l("Run a full scan and check the scan schedule."),
    "malware-detected": _l("Confirm the infection is removed, find its source and scan the "
                           "hosts around it."),
    "malware-not-cleaned": _l("Isolate the host, remove the infection (rebuild if needed) "
                              "and report it by the emergency plan."),
    "failed-logins": _l("Block the source address, check the accounts it tried and harden "
                        "remote login."),
    "login-after-failures": _l("Check the account for compromise, reset its password and "
                               "review what it did."),
    "log-errors": _l("Review the errors with the system's owner and remove their cause."),
    "logging-alive": _l("Restart the logging service, find out why it stopped and check "
                        "that no logs are missing."),
    "empty-passwords": _l("Set a password or lock the account."),
    "services-down": _l("Restart the required service and find out why it stopped."),
    "new-admin": _l("Confirm the admin account was approved; remove it, or approve it into "
                    "the baseline."),
    "new-port": _l("Close the port, or approve it into the baseline."),
    "software-changed": _l("Confirm the change was approved; remove the software, or "
                           "approve it into the baseline."),
    "network-changed": _l("Confirm the change was approved; revert it, or approve it into "
                          "the baseline."),
    "hardware-changed": _l("Confirm the change was approved and update the asset register."),
    "denied-software": _l("Uninstall the denied software."),
    "backup-age": _l("Run the backup, repair the backup job and keep several copies."),
    "isolation-egress": _l("Disconnect the host from the internet at once, find how it got "
                           "out and report it by the rules."),
    "usb-crossing": _l("Withdraw the USB stick, check it and the hosts for leaks and "
                       "malware, and report it by the rules."),
    "clock-unsynchronised": _l("Configure and start time synchronisation."),
    "firewall-off": _l("Turn the host firewall on with the unit's rule set."),
    "host-silent": _l("Check the host and its inspection client and restore reporting."),
    "weekly-missed": _l("Find out why the weekly inspection did not run, and run it."),
    "weekly-late": _l("Check the client's schedule and connection so that inspections "
                      "arrive on time."),
}


def measure_for(rule_id: str, overrides: dict[str, str]) -> str:
    """The preparer's measure for a problem type, else the default one (translated)."""
    own = (overrides or {}).get(rule_id, "").strip()
    if own:
        return own
    return str(MEASURES.get(rule_id, GENERIC))

"""Tests for the logs check: parsers on recorded logs, positions, journald, real sshd+rsyslog."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest
from hostpatrol.agent.checks.logs.check import LogsCheck
from hostpatrol.agent.checks.logs.files import read_since
from hostpatrol.agent.checks.logs.parse import (
    keyword_severity,
    parse_auth_event,
    parse_syslog_line,
    template_of,
)
from hostpatrol.agent.checks.logs.state import PENDING_FILE, STATE_FILE, commit_state
from hostpatrol.agent.checks.logs.summary import Tally
from hostpatrol.agent.checks.logs.windows import parse_wevtutil_xml, parse_winevent_json
from hostpatrol.agent.commands import CommandResult
from hostpatrol.shared.schemas import load_schema
from machine import stop_process

FIXTURES = Path(__file__).parent.parent / "fixtures" / "logs"
VALIDATOR = jsonschema.Draft202012Validator(load_schema("logs"))


def tally_file(name: str) -> tuple[dict, dict]:
    tally = Tally(threshold=3)
    for raw in (FIXTURES / name).read_text().splitlines():
        tally.add_line(parse_syslog_line(raw))
    return tally.to_data()


def make_check(tmp_path: Path, files: list[str], **config) -> LogsCheck:
    # these tests read dated fixture lines: a look-back wide enough to keep every one
    config = {"first_run_hours": 10 ** 6, **config}
    return LogsCheck({"system_files": [], "priority_file": "", "extra_files": files, **config},
                     state_dir=tmp_path / "state", journald=lambda: False,
                     processes=lambda: {"rsyslogd"})


def collect(check: LogsCheck) -> dict:
    outcome = check.collect()
    VALIDATOR.validate(outcome.data)
    return outcome.data


# --- line parsing ---------------------------------------------------------------------

def test_syslog_formats_and_priorities():
    rfc5424 = parse_syslog_line(
        '<11>1 2026-11-28T13:51:12Z host app 42 ID7 [x@1 a="x\\]y"] disk gone')
    assert (rfc5424.source, rfc5424.severity, rfc5424.message) == ("app", 3, "disk gone")
    rfc3164 = parse_syslog_line("<34>Oct 11 22:14:15 mymachine su: 'su root' failed on /dev/pts/8")
    assert (rfc3164.source, rfc3164.severity, rfc3164.by_keyword) == ("su", 2, False)
    old = parse_syslog_line("Jun 15 04:06:20 combo logrotate: ALERT exited abnormally with [1]")
    assert (old.source, old.severity, old.by_keyword) == ("logrotate", 3, True)
    new = parse_syslog_line("2026-11-28T13:55:20.9+00:00 vm sshd: Failed password for x#015")
    assert (new.source, new.message) == ("sshd", "Failed password for x")
    info = parse_syslog_line("2026-11-28T13:55:20+00:00 vm cron[5]: (root) CMD (true)")
    assert info.severity is None
    assert keyword_severity("kernel: segfault at 0 ip 7f") == 2
    assert keyword_severity("all fine") is None


def test_templates_mask_variables():
    msg = ("conn 1234 from 10.1.2.3:5555 id 9f86d081884c7d65 uuid "
           "123e4567-e89b-12d3-a456-426614174000 file /var/lib/x/y.db 0xdeadbeef fe80::1")
    assert template_of(msg) == ("conn <num> from <ip> id <hex> uuid <uuid> file <path> <hex> <ip>")


def test_ten_thousand_identical_lines_are_one_row():
    tally = Tally(max_samples=3)
    for n in range(10_000):
        tally.add_line(parse_syslog_line(f"<11>Nov 28 10:00:00 h app[1]: timeout after {n} ms"))
    errors, _ = tally.to_data()
    assert errors["total"] == 10_000
    assert len(errors["templates"]) == 1
    row = errors["templates"][0]
    assert (row["count"], row["template"], len(row["samples"])) == (
        10_000, "timeout after <num> ms", 3)


def test_template_cap_is_reported():
    tally = Tally(max_templates=2)
    for word in ("alpha", "beta", "gamma"):
        tally.add_line(parse_syslog_line(f"<11>Nov 28 10:00:00 h app: {word} broke"))
    errors, _ = tally.to_data()
    assert len(errors["templates"]) == 2
    assert errors["templates_total"] == 3
    assert errors["templates_truncated"] is True


def test_real_openssh_log_counts_attempts_once():
    errors, auth = tally_file("openssh_loghub.log")
    # Failed password lines: 1 + 1 + (1 + "repeated 5 times") + 2 + 1; PAM lines of sshd
    # describe the same tries and do not count again.
    assert auth["failed_attempts"] == 11
    assert {r["ip"]: r["count"] for r in auth["by_ip"]} == {
        "5.36.59.76": 6, "112.95.230.3": 3, "173.234.31.186": 1, "52.80.34.196": 1}
    assert {r["user"]: r["count"] for r in auth["by_user"]} == {
        "root": 8, "webmaster": 1, "test9": 1, "pgadmin": 1}
    kinds = auth["by_kind"]
    assert kinds["ssh_invalid_user"] == 3
    assert kinds["ssh_max_attempts"] == 1
    assert kinds["ssh_preauth_disconnect"] == 6
    assert kinds["pam_failure:sshd"] == 6
    assert auth["sources_over_threshold"] == 2
    # the "reverse mapping ... failed" line: a keyword guess (the file has no priority),
    # noted but never counted as an error
    assert errors["total"] == 0
    assert errors["keyword_classified"] == 1
    assert errors["guesses"]["samples"][0]["message"].startswith("reverse mapping")


def test_real_old_pam_format_and_keyword_errors():
    errors, auth = tally_file("linux_loghub.log")
    assert auth["by_kind"] == {"pam_failure:sshd": 4}
    assert auth["failed_attempts"] == 0
    assert errors["templates"] == []  # no line of this file carries a priority
    assert errors["keyword_classified"] >= 3
    guessed = [g["message"] for g in errors["guesses"]["samples"]]
    assert "ALERT exited abnormally with [1]" in guessed


@pytest.mark.parametrize(("source", "message", "expected"), [
    ("sudo", "pam_unix(sudo:auth): authentication failure; logname=bob uid=1000 euid=0 "
             "tty=/dev/pts/0 ruser=bob rhost=  user=bob", ("pam_failure:sudo", "bob", None, True)),
    ("sudo", "     bob : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/bob ; "
             "USER=root ; COMMAND=/bin/ls", ("sudo_incorrect_password", "bob", None, False)),
    ("su", "FAILED SU (to root) bob on pts/0", ("su_failed", "bob", None, False)),
    ("sshd", "error: maximum authentication attempts exceeded for invalid user admin from "
             "10.9.8.7 port 4242 ssh2 [preauth]", ("ssh_max_attempts", "admin", "10.9.8.7", False)),
    ("sshd", "Accepted password for alice from 2001:db8::5 port 22 ssh2",
     ("ssh_accepted", "alice", "2001:db8::5", False)),
])
def test_auth_line_kinds(source, message, expected):
    event = parse_auth_event(source, message)
    assert event is not None
    assert (event.kind, event.user, event.ip, event.attempt) == expected


def test_success_after_many_failures_fails_the_check(tmp_path):
    log = tmp_path / "auth.log"
    lines = [f"Nov 28 10:00:0{i} h sshd[9]: Failed password for root from 198.51.100.7 port "
             f"{4000 + i} ssh2" for i in range(6)]
    lines.append("Nov 28 10:00:09 h sshd[9]: Accepted password for root from 198.51.100.7 "
                 "port 4100 ssh2")
    log.write_text("\n".join(lines) + "\n")
    outcome = make_check(tmp_path, [str(log)]).collect()
    VALIDATOR.validate(outcome.data)
    assert outcome.status == "fail"
    assert outcome.data["auth"]["success_after_failures"] == [
        {"ip": "198.51.100.7", "user": "root", "failures_before": 6, "kind": "ssh_accepted"}]


# --- Windows (recorded outputs, see SOURCES.md) ----------------------------------------

def test_wevtutil_security_4625_and_4624():
    events = parse_wevtutil_xml((FIXTURES / "wevtutil_security.xml").read_text())
    tally = Tally()
    for ev in events:
        auth = ev.auth_event()
        assert auth is not None
        tally.add_auth(auth)
    _, auth = tally.to_data()
    assert auth["failed_attempts"] == 3
    assert auth["successful_logins"] == 2
    assert {r["user"] for r in auth["by_user"]} == {"Administrator123", "tuser1", "administrator"}
    assert {r["ip"] for r in auth["by_ip"]} == {"203.204.205.206", "61.62.63.68", "41.42.43.44"}
    assert events[0].record_id == 37860


def test_wevtutil_application_errors():
    events = parse_wevtutil_xml((FIXTURES / "wevtutil_application.xml").read_text())
    lines = [ev.to_line() for ev in events]
    assert [(ln.source, ln.severity) for ln in lines] == [
        ("EventCreate", 3), ("VisualSVN Server 3.9", 3), ("MSSQL$SQLEXPRESS", 6)]
    assert lines[0].message == "[1000] My custom error event for the application log"


def test_get_winevent_json():
    (event,) = parse_winevent_json((FIXTURES / "winevent_system.json").read_text())
    assert (event.event_id, event.level, event.provider, event.record_id) == (
        13, 4, "Microsoft-Windows-Hyper-V-Netvsc", 2555)
    assert event.to_line().severity == 6
    with (FIXTURES / "win_4625_message.txt").open(newline="") as f:
        message = f.read()
    doc = {"Id": 4625, "Level": 0, "LogName": "Security", "RecordId": 1,
           "ProviderName": "Microsoft-Windows-Security-Auditing", "Message": message}
    (failed,) = parse_winevent_json(json.dumps([doc]))
    auth = failed.auth_event()
    assert auth is not None
    assert (auth.user, auth.ip, auth.attempt) == (
        "WIN-LU6CDTG3LRH\\Administrator", "127.0.0.1", True)


def test_windows_check_with_recorded_wevtutil(tmp_path):
    calls = []
    outputs = {"Security": "wevtutil_security.xml", "Application": "wevtutil_application.xml"}

    def fake_run(argv, timeout):
        calls.append(list(argv))
        name = outputs.get(argv[2])
        text = (FIXTURES / name).read_text() if name else ""
        return CommandResult(tuple(argv), 0, text, "")

    check = LogsCheck({}, state_dir=tmp_path, run=fake_run, platform="win32",
                      processes=lambda: set())
    data = collect(check)
    assert data["auth"]["failed_attempts"] == 3
    assert data["errors"]["total"] == 2
    assert data["logging"]["alive"] is True
    assert "timediff" in calls[0][3]
    check.commit()
    calls.clear()
    collect(check)
    assert "EventRecordID>35797896" in calls[2][3]  # Security: highest record id seen


# --- file positions ------------------------------------------------------------------

def test_rotation_finishes_old_file_first(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("<11>Nov 28 10:00:00 h a: e1\n<11>Nov 28 10:00:00 h a: e2\n")
    check = make_check(tmp_path, [str(log)])
    assert collect(check)["errors"]["total"] == 2
    check.commit()
    with log.open("a") as f:
        f.write("<11>Nov 28 10:00:00 h a: e3\n")
    log.rename(tmp_path / "app.log.1")
    log.write_text("<11>Nov 28 10:00:00 h a: e4\n<11>Nov 28 10:00:00 h a: e5\n")
    data = collect(check)
    assert data["errors"]["total"] == 3
    (row,) = data["sources"]["files"]
    assert row["rotated"] is True
    assert row["rotated_from"] == str(tmp_path / "app.log.1")
    check.commit()
    assert collect(check)["errors"]["total"] == 0


def test_truncation_restarts_at_zero(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("<11>Nov 28 10:00:00 h a: a long first error line\n" * 3)
    check = make_check(tmp_path, [str(log)])
    collect(check)
    check.commit()
    log.write_text("<11>Nov 28 10:00:00 h a: new\n")  # same inode, shorter: copytruncate
    data = collect(check)
    assert data["errors"]["total"] == 1
    assert data["sources"]["files"][0]["truncated"] is True


def test_lost_rotation_is_reported(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("x\n")
    check = make_check(tmp_path, [str(log)])
    collect(check)
    check.commit()
    log.rename(tmp_path / "app.log.1.gz")
    log.write_text("<11>Nov 28 10:00:00 h a: e\n")
    row = collect(check)["sources"]["files"][0]
    assert (row["rotated"], row["rotation_lost"], row["lines"]) == (True, True, 1)


def test_partial_last_line_waits(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"<11>Nov 28 10:00:00 h a: one\n<11>Nov 28 10:00:00 h a: tw")
    seen: list[str] = []
    first = read_since(str(log), None, 100, seen.append)
    assert first.lines == 1
    with log.open("ab") as f:
        f.write(b"o\n")
    second = read_since(str(log), first.position, 100, seen.append)
    assert second.lines == 1
    assert seen[1].endswith("two\n")


def test_budget_truncates_and_position_only_moves_on_commit(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("".join(f"<11>Nov 28 10:00:00 h a: e{i}\n" for i in range(10)))
    check = make_check(tmp_path, [str(log)], max_lines=4)
    data = collect(check)
    assert (data["truncated"], data["lines_read"], data["errors"]["total"]) == (True, 4, 4)
    state = tmp_path / "state" / "logs"
    assert (state / PENDING_FILE).exists()
    assert not (state / STATE_FILE).exists()
    assert collect(check)["errors"]["templates"][0]["samples"][0] == "e0"  # not committed
    assert commit_state(tmp_path / "state") is True
    assert commit_state(tmp_path / "state") is False
    assert collect(check)["errors"]["templates"][0]["samples"][0] == "e4"
    check.commit()
    data = collect(check)
    assert (data["truncated"], data["lines_read"]) == (False, 2)


def test_budget_spent_inside_rotated_file(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("<11>Nov 28 10:00:00 h a: e0\n")
    check = make_check(tmp_path, [str(log)], max_lines=2)
    collect(check)
    check.commit()
    with log.open("a") as f:
        f.write("".join(f"<11>Nov 28 10:00:00 h a: o{i}\n" for i in range(3)))
    log.rename(tmp_path / "app.log.1")
    log.write_text("<11>Nov 28 10:00:00 h a: n0\n")
    first = collect(check)
    assert (first["truncated"], first["errors"]["total"]) == (True, 2)
    check.commit()
    second = collect(check)
    samples = [s for t in second["errors"]["templates"] for s in t["samples"]]
    assert sorted(samples) == ["n0", "o2"]


def test_unreadable_and_absent_files_are_data(tmp_path):
    check = make_check(tmp_path, [str(tmp_path / "nope.log")])
    data = collect(check)
    assert data["sources"]["skipped_files"] == [{"path": str(tmp_path / "nope.log"),
                                                 "reason": "absent"}]


def test_no_log_daemon_fails(tmp_path):
    check = LogsCheck({"system_files": []}, state_dir=tmp_path, journald=lambda: False,
                      processes=lambda: {"bash"})
    outcome = check.collect()
    VALIDATOR.validate(outcome.data)
    assert outcome.status == "fail"
    assert outcome.data["logging"]["alive"] is False


# --- journald, read for real by journalctl from a journal built here -----------------

def write_journal(path: Path, entries: list[dict[str, str]]) -> None:
    now = int(time.time() * 1_000_000)
    chunks = []
    for i, fields in enumerate(entries):
        # Monotonic time must grow across files of one boot, as in a real journal.
        base = {"__REALTIME_TIMESTAMP": str(now + i),
                "__MONOTONIC_TIMESTAMP": str(time.monotonic_ns() // 1000 + i),
                "_BOOT_ID": "0123456789abcdef0123456789abcdef"}
        chunks.append("".join(f"{k}={v}\n" for k, v in {**base, **fields}.items()))
    subprocess.run(["/lib/systemd/systemd-journal-remote", f"--output={path}", "-"],
                   input="\n".join(chunks) + "\n", text=True, check=True, capture_output=True)


def journal_entries(n_err: int, n_fail: int, tag: str) -> list[dict[str, str]]:
    out = [{"MESSAGE": f"I/O error on dev sda sector {i} {tag}", "PRIORITY": "3",
            "SYSLOG_IDENTIFIER": "kernel"} for i in range(n_err)]
    out += [{"MESSAGE": f"Failed password for root from 192.0.2.9 port {i} ssh2", "PRIORITY": "6",
             "SYSLOG_FACILITY": "10", "SYSLOG_IDENTIFIER": "sshd",
             "_SYSTEMD_UNIT": "ssh.service"} for i in range(n_fail)]
    out.append({"MESSAGE": "just info", "PRIORITY": "6", "SYSLOG_IDENTIFIER": "cron"})
    return out


def test_journal_cursor_real_journalctl(tmp_path):
    jdir = tmp_path / "journal"
    jdir.mkdir()
    write_journal(jdir / "a.journal", journal_entries(3, 4, "a"))
    check = LogsCheck({"journal_directory": str(jdir), "system_files": []},
                      state_dir=tmp_path / "state", processes=lambda: {"systemd-journald"})
    data = collect(check)
    assert data["errors"]["total"] == 3
    assert data["errors"]["by_source"] == [{"source": "kernel", "count": 3}]
    assert data["auth"]["failed_attempts"] == 4
    assert data["auth"]["by_ip"] == [{"ip": "192.0.2.9", "count": 4}]
    check.commit()
    write_journal(jdir / "b.journal", journal_entries(2, 1, "b"))
    data = collect(check)
    assert (data["errors"]["total"], data["auth"]["failed_attempts"]) == (2, 1)
    check.commit()
    data = collect(check)
    assert (data["errors"]["total"], data["auth"]["failed_attempts"]) == (0, 0)


def test_journal_budget_and_bad_cursor(tmp_path):
    jdir = tmp_path / "journal"
    jdir.mkdir()
    write_journal(jdir / "a.journal", journal_entries(5, 0, "a"))
    state = tmp_path / "state"
    check = LogsCheck({"journal_directory": str(jdir), "max_lines": 3}, state_dir=state,
                      processes=lambda: {"systemd-journald"})
    data = collect(check)
    assert (data["truncated"], data["errors"]["total"]) == (True, 3)
    check.commit()
    data = collect(check)
    assert (data["truncated"], data["errors"]["total"]) == (False, 2)
    doc = json.loads((state / "logs" / PENDING_FILE).read_text())
    doc["journal"]["errors"] = "s=bogus"
    (state / "logs" / STATE_FILE).write_text(json.dumps(doc))
    data = collect(check)
    assert data["sources"]["journal"][0]["cursor_reset"] is True
    assert data["errors"]["total"] == 3  # re-read from first_run_hours ago, within budget


# --- real sshd logging through a real rsyslogd, with rotation --------------------------

def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for log lines")
        time.sleep(0.1)


def count_failed(*paths: Path) -> int:
    return sum(p.read_text().count("Failed password for") for p in paths if p.exists())


@pytest.fixture
def sshd_rsyslog(tmp_path):
    """A real rsyslogd (imudp on loopback) writing auth.log; a real sshd feeding it."""
    log = tmp_path / "auth.log"
    udp = free_port(socket.SOCK_DGRAM)
    ssh_port = free_port(socket.SOCK_STREAM)
    (tmp_path / "rsyslog.conf").write_text(
        f'global(workDirectory="{tmp_path}")\nmodule(load="imudp")\n'
        f'input(type="imudp" address="127.0.0.1" port="{udp}")\n'
        f'*.* action(type="omfile" file="{log}")\n')
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(tmp_path / "hostkey")], check=True)
    (tmp_path / "sshd_config").write_text(
        f"HostKey {tmp_path}/hostkey\nPidFile {tmp_path}/sshd.pid\nListenAddress 127.0.0.1\n"
        "UsePAM no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin yes\nLogLevel INFO\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
    procs: list[subprocess.Popen] = []
    try:
        rsyslog = subprocess.Popen(["/usr/sbin/rsyslogd", "-n", "-f",
                                    str(tmp_path / "rsyslog.conf"),
                                    "-i", str(tmp_path / "rsyslog.pid")])
        procs.append(rsyslog)

        def ping() -> bool:
            subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(udp), "-d", "--rfc3164",
                            "-t", "probe", "ready"], check=True)
            time.sleep(0.2)
            return log.exists() and "ready" in log.read_text()
        wait_for(ping)
        sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(tmp_path / "sshd_config"),
                                 "-p", str(ssh_port)], stderr=subprocess.PIPE)
        procs.append(sshd)
        # sshd -e writes to stderr; logger turns each line into a syslog datagram (CRLF kept:
        # rsyslog stores the CR as #015, which the parser handles).
        logger = subprocess.Popen(["logger", "-n", "127.0.0.1", "-P", str(udp), "-d", "--rfc3164",
                                   "-t", "sshd", "-p", "authpriv.info"], stdin=sshd.stderr)
        procs.append(logger)
        wait_for(lambda: "Server listening" in log.read_text())
        yield {"log": log, "port": ssh_port, "rsyslog": rsyslog}
    finally:
        for proc in reversed(procs):
            stop_process(proc)


def ssh_wrong_password(port: int, user: str) -> None:
    proc = subprocess.run(
        ["sshpass", "-p", "wrong-password", "ssh", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=password",
         "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1", "-o", "LogLevel=ERROR",
         "-p", str(port), f"{user}@127.0.0.1", "true"], capture_output=True, timeout=30)
    assert proc.returncode != 0


def test_real_sshd_failures_through_rsyslog_with_rotation(tmp_path, sshd_rsyslog):
    log: Path = sshd_rsyslog["log"]
    rotated = log.with_name("auth.log.1")
    port = sshd_rsyslog["port"]
    check = LogsCheck({"system_files": [], "extra_files": [str(log)]},
                      state_dir=tmp_path / "state", journald=lambda: False)
    for user in ("root", "nosuchuser", "root"):
        ssh_wrong_password(port, user)
    wait_for(lambda: count_failed(log) == 3)
    first = collect(check)
    assert first["auth"]["failed_attempts"] == 3
    assert first["auth"]["by_ip"] == [{"ip": "127.0.0.1", "count": 3}]
    assert {r["user"]: r["count"] for r in first["auth"]["by_user"]} == {"root": 2, "nosuchuser": 1}
    assert first["auth"]["by_kind"]["ssh_invalid_user"] == 1
    assert "rsyslogd" in first["logging"]["daemons_running"]
    check.commit()

    for user in ("root", "nosuchuser"):
        ssh_wrong_password(port, user)
    wait_for(lambda: count_failed(log) == 5)
    log.rename(rotated)  # what logrotate does (create mode), then make rsyslog reopen
    sshd_rsyslog["rsyslog"].send_signal(signal.SIGHUP)
    for user in ("root", "root", "nosuchuser"):
        ssh_wrong_password(port, user)
    wait_for(lambda: count_failed(rotated, log) == 8)
    assert count_failed(log) == 3

    second = collect(check)
    (row,) = second["sources"]["files"]
    assert (row["rotated"], row["rotated_from"]) == (True, str(rotated))
    assert second["auth"]["failed_attempts"] == 5
    assert second["auth"]["by_ip"] == [{"ip": "127.0.0.1", "count": 5}]
    check.commit()
    # Nothing lost, nothing twice: the two runs add up to what the files hold.
    total = first["auth"]["failed_attempts"] + second["auth"]["failed_attempts"]
    assert total == count_failed(rotated, log) == 8
    assert collect(check)["auth"]["failed_attempts"] == 0


# --- this host, for real ---------------------------------------------------------------

def test_real_host_run_matches_ps(tmp_path):
    outcome = LogsCheck({}, state_dir=tmp_path).collect()
    VALIDATOR.validate(outcome.data)
    ps = subprocess.run(["ps", "-eo", "comm="], capture_output=True, text=True, check=True)
    comms = {line.strip() for line in ps.stdout.splitlines()}
    expected = sorted(comms & {"systemd-journal", "rsyslogd", "syslog-ng", "syslogd"})
    got = [d for d in outcome.data["logging"]["daemons_running"] if d != "systemd-journald"]
    assert got == expected
    assert outcome.data["logging"]["alive"] == bool(expected)
    journald = Path("/run/systemd/journal/socket").exists()
    assert outcome.data["logging"]["journald"] == journald
    for row in outcome.data["sources"]["files"]:
        path = Path(row["path"])
        if row["error"] is None and os.access(path, os.R_OK):
            assert row["lines"] == len(path.read_bytes().splitlines()) or row["hit_budget"]
    assert shutil.which("journalctl") is not None


def test_journald_present_skips_system_files_and_queries_both_streams(tmp_path):
    calls = []

    def fake_streamer(argv, timeout):
        calls.append(list(argv))
        if "--priority=0..3" in argv:
            yield json.dumps({"__CURSOR": "s=1;i=1", "MESSAGE": "oops", "PRIORITY": "2",
                              "_SYSTEMD_UNIT": "app.service", "SYSLOG_IDENTIFIER": "app"}) + "\n"
        else:
            yield json.dumps({"__CURSOR": "s=1;i=2", "PRIORITY": "6", "SYSLOG_IDENTIFIER": "sshd",
                              "MESSAGE": "Invalid user bob from 203.0.113.4 port 1"}) + "\n"

    check = LogsCheck({}, state_dir=tmp_path, journald=lambda: True, streamer=fake_streamer,
                      processes=lambda: {"systemd-journald"}, platform="linux")
    data = collect(check)
    assert {s["reason"] for s in data["sources"]["skipped_files"]} == {
        "journald present: these repeat the journal"}
    assert all("--since=-24h" in argv for argv in calls)
    assert "SYSLOG_FACILITY=10" in calls[1]
    assert data["errors"]["by_source"] == [{"source": "app.service", "count": 1}]
    assert data["auth"]["by_kind"] == {"ssh_invalid_user": 1}
    check.commit()
    calls.clear()
    collect(check)
    assert calls[0][-2:] == ["--after-cursor=s=1;i=1", "--priority=0..3"]

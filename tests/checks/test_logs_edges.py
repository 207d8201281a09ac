"""logs at the edges, with a real rsyslogd and a real logrotate on this machine: severity
from the drop-in `install --rsyslog` writes (judged against rsyslog's own `*.err`
selector), files that give none, copytruncate rotation, and the first run's look-back."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from harness import agent
from hostpatrol.agent.checks.logs.check import LogsCheck
from hostpatrol.agent.checks.logs.parse import line_time, parse_syslog_line
from hostpatrol.agent.checks.logs.rsyslog import logrotate_entry, rsyslog_dropin
from hostpatrol.shared.schemas import load_schema
from machine import stop_process

VALIDATOR = jsonschema.Draft202012Validator(load_schema("logs"))
pytestmark = pytest.mark.skipif(shutil.which("rsyslogd") is None and
                                not Path("/usr/sbin/rsyslogd").exists(),
                                reason="scripts/test-deps.sh installs rsyslog")
# The lines: three real errors the keywords miss, one info line they would count.
MESSAGES = [
    ("user.err", "disk controller timeout"),
    ("auth.crit", "pam configuration unreadable"),
    ("daemon.alert", "raid array degraded"),
    ("user.info", "replica failed over as planned"),
    ("user.notice", "nightly job done"),
]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for rsyslog"
        time.sleep(0.1)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def rsyslog(tmp_path) -> Iterator[dict]:
    """rsyslogd on a loopback UDP port with the hostpatrol drop-in (its file in tmp_path),
    a plain file of everything, and rsyslog's own `*.err` file as the judge."""
    prio, plain, errs = tmp_path / "hp" / "syslog.log", tmp_path / "syslog", tmp_path / "err.log"
    port = free_udp_port()
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(f'global(workDirectory="{tmp_path}")\nmodule(load="imudp")\n'
                    f'input(type="imudp" address="127.0.0.1" port="{port}")\n'
                    + rsyslog_dropin(str(prio))
                    + f'*.* action(type="omfile" file="{plain}" '
                      f'template="RSYSLOG_TraditionalFileFormat")\n'
                    + f'*.err action(type="omfile" file="{errs}")\n')
    check = subprocess.run(["rsyslogd", "-N1", "-f", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(["rsyslogd", "-n", "-f", str(conf), "-i", str(tmp_path / "pid")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def send(priority: str, message: str, tag: str = "app") -> None:
        subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(port), "-d", "--rfc3164",
                        "-p", priority, "-t", tag, message], check=True)

    try:
        wait_for(lambda: (send("user.err", "ready"), time.sleep(0.2))[1] is None
                 and any("ready" in x for x in lines(errs)))
        yield {"prio": prio, "plain": plain, "errs": errs, "send": send, "proc": proc}
    finally:
        stop_process(proc)


def make(tmp_path: Path, prio: Path | str, system: list[Path], **config) -> LogsCheck:
    return LogsCheck({"system_files": [str(p) for p in system], "priority_file": str(prio),
                      "extra_files": [], **config},
                     state_dir=tmp_path / "state", journald=lambda: False,
                     processes=lambda: {"rsyslogd"}, platform="linux")


def collect(check: LogsCheck) -> dict:
    out = check.collect()
    VALIDATOR.validate(out.data)
    return out.data


def test_priority_file_gives_real_severity_like_rsyslogs_own_selector(tmp_path, rsyslog):
    base = len(lines(rsyslog["errs"]))
    for priority, message in MESSAGES:
        rsyslog["send"](priority, message)
    wait_for(lambda: len(lines(rsyslog["errs"])) == base + 3
             and any("nightly job done" in x for x in lines(rsyslog["plain"])))
    judged = lines(rsyslog["errs"])  # what rsyslog itself files as err or worse
    data = collect(make(tmp_path, rsyslog["prio"], [rsyslog["plain"]]))
    (row,) = data["sources"]["files"]
    assert row["path"] == str(rsyslog["prio"])
    assert row["lines_without_severity"] == 0
    assert {s["path"]: s["reason"] for s in data["sources"]["skipped_files"]}[
        str(rsyslog["plain"])].startswith("priority_file present")
    assert data["errors"]["total"] == len(judged)
    assert data["errors"]["by_priority"] == {"err": 2, "crit": 1, "alert": 1}  # "ready" too
    samples = {s for t in data["errors"]["templates"] for s in t["samples"]}
    assert {"disk controller timeout", "pam configuration unreadable",
            "raid array degraded"} <= samples
    assert not any("failed over" in s for s in samples)
    assert data["errors"]["keyword_classified"] == 0


def test_plain_file_says_it_gives_no_severity_and_guesses_count_nothing(tmp_path, rsyslog):
    for priority, message in MESSAGES:
        rsyslog["send"](priority, message)
    wait_for(lambda: any("nightly job done" in x for x in lines(rsyslog["plain"])))
    data = collect(make(tmp_path, "", [rsyslog["plain"]]))
    (row,) = data["sources"]["files"]
    assert row["lines_without_severity"] == row["lines"] == len(lines(rsyslog["plain"]))
    assert data["errors"]["total"] == 0
    assert data["errors"]["severity_unknown_lines"] == row["lines"]
    guessed = [g["message"] for g in data["errors"]["guesses"]["samples"]]
    assert guessed == ["replica failed over as planned"]  # the info line, by keyword only
    assert data["errors"]["keyword_classified"] == 1


def test_install_rsyslog_writes_the_dropin_and_a_valid_logrotate_entry(tmp_path):
    dest = tmp_path / "etc"
    out = agent(tmp_path / "state", "install", "--rsyslog", "--dest", str(dest))
    assert (dest / "60-hostpatrol.conf").read_text() == rsyslog_dropin()
    assert (dest / "hostpatrol-syslog").read_text() == logrotate_entry()
    assert "systemctl restart rsyslog" in out.stdout
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(f'global(workDirectory="{tmp_path}")\n' + rsyslog_dropin(
        str(tmp_path / "hp.log")))
    assert subprocess.run(["rsyslogd", "-N1", "-f", str(conf)], capture_output=True
                          ).returncode == 0
    (tmp_path / "hp.log").write_text("x\n")
    entry = tmp_path / "rotate.conf"
    entry.write_text(logrotate_entry(str(tmp_path / "hp.log")))
    debug = subprocess.run(["logrotate", "-d", "-s", str(tmp_path / "lr.state"), str(entry)],
                           capture_output=True, text=True)
    assert debug.returncode == 0, debug.stderr
    assert f"considering log {tmp_path / 'hp.log'}" in debug.stdout + debug.stderr


def test_copytruncate_loses_nothing_even_when_the_file_grows_past_the_old_offset(
        tmp_path, rsyslog):
    prio, errs = rsyslog["prio"], rsyslog["errs"]
    check = make(tmp_path, prio, [])
    send = rsyslog["send"]
    for i in range(3):
        send("user.err", f"before the first read {i}")
    wait_for(lambda: sum("before the first read" in x for x in lines(prio)) == 3)
    first = collect(check)
    read_up_to = prio.stat().st_size
    assert first["errors"]["total"] == len(lines(prio))  # the probe line and these three
    check.commit()
    start = len(lines(errs))
    for i in range(2):  # written after the read, before the truncation
        send("user.err", f"between read and rotation {i}")
    wait_for(lambda: sum("between read" in x for x in lines(prio)) == 2)
    conf = tmp_path / "copytruncate.conf"
    conf.write_text(f"{prio} {{\n\tcopytruncate\n\trotate 2\n\tmissingok\n}}\n")
    rot = subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "lr.state"), str(conf)],
                         capture_output=True, text=True)
    assert rot.returncode == 0, rot.stderr
    assert Path(f"{prio}.1").exists()
    for i in range(6):  # the truncated file grows past where the last read stopped
        send("user.err", f"after the truncation, a longer line than before {i}")
    wait_for(lambda: sum("after the truncation" in x for x in lines(prio)) == 6)
    assert prio.stat().st_size > read_up_to
    data = collect(check)
    (row,) = data["sources"]["files"]
    assert (row["truncated"], row["rotated_from"], row["rotation_lost"]) == (
        True, f"{prio}.1", False)
    judged = len(lines(errs)) - start  # rsyslog's own count of errors since the first read
    assert judged == 8
    assert data["errors"]["total"] == judged
    check.commit()
    assert collect(check)["errors"]["total"] == 0


def test_first_run_reads_only_the_look_back_window(tmp_path, rsyslog):
    prio = rsyslog["prio"]
    rsyslog["send"]("user.err", "a recent failure")
    wait_for(lambda: any("a recent failure" in x for x in lines(prio)))
    recent = next(x for x in lines(prio) if "a recent failure" in x)
    stamp = recent.split()[1]
    when = datetime.fromisoformat(stamp)
    # the same line as rsyslog wrote it, 40 days earlier: before the look-back window
    old = recent.replace(stamp, (when - timedelta(days=40)).isoformat())
    body = prio.read_text()
    prio.write_text(old.replace("a recent failure", "an old failure") + "\n" + body)
    data = collect(make(tmp_path, prio, []))
    # the judge: GNU date reads each line's own time; within 24 hours of now counts
    now = datetime.now(UTC)
    expected = 0
    for line in lines(prio):
        iso = line.split()[1]
        t = subprocess.run(["date", "-u", "-d", iso, "+%s"], capture_output=True, text=True,
                           check=True).stdout
        expected += now - datetime.fromtimestamp(int(t), UTC) <= timedelta(hours=24)
    assert data["errors"]["total"] == expected == len(lines(prio)) - 1
    samples = {s for t in data["errors"]["templates"] for s in t["samples"]}
    assert "an old failure" not in samples
    (row,) = data["sources"]["files"]
    assert row["first_read_from"] == len(lines(prio)[0]) + 1


def test_line_times_of_every_format():
    now = datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp()
    assert line_time("<11>1 2026-02-28T10:00:00.5+00:00 h app - - - x", now) == \
        datetime(2026, 2, 28, 10, 0, 0, 500000, tzinfo=UTC).timestamp()
    assert line_time("2026-02-28T10:00:00Z h app: x", now) == \
        datetime(2026, 2, 28, 10, tzinfo=UTC).timestamp()
    bsd = line_time("Dec 31 23:00:00 h app: x", now)  # no year: the latest one not ahead
    assert bsd is not None
    assert datetime.fromtimestamp(bsd).year == 2025
    assert line_time("<34>Feb 28 10:00:00 h su: x", now) is not None
    assert line_time("no time here", now) is None
    assert parse_syslog_line("<11>1 2026-02-28T10:00:00Z h app - - - x").severity == 3

#!/usr/bin/env bash
# The date-sensitive part of the suite again, under hostpatrol's clock shifted
#   1. 30 years ahead (past 2038, far from any date a test was written on), and
#   2. to 23:59 UTC on Sunday 31 December 2028, so the run crosses the turn of a year, a
#      quarter, a month and an ISO week at once (2029-01-01 is the Monday of 2029-W01).
# The shift is HOSTPATROL_TEST_CLOCK_SHIFT (seconds), read by hostpatrol.shared.clock and
# inherited by every agent and collector process a test starts; the kernel's clock (file
# times, certificates, sleeps) stays real. Part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

# Tests whose subject is hostpatrol's own notion of time: periods, deadlines, tokens,
# replay horizon, retention, schedules, rules over history, the report. The real-host
# check tests compare files and logs the kernel dated, so they run on the real clock only.
DATE_SENSITIVE=(
  tests/collector
  tests/shared
  tests/agent/test_schedule.py
  tests/agent/test_cron_edges.py
  tests/agent/test_state_jams.py
  tests/security/test_compromised_agent.py
  tests/faults/test_clock_skew.py
)

shift_to() {  # seconds from now until the instant "$1" (UTC, ISO 8601)
  "$PY" -c 'import sys; from datetime import UTC, datetime
print(int((datetime.fromisoformat(sys.argv[1]) - datetime.now(UTC)).total_seconds()))' "$1"
}

# Each shift is computed just before its run, so the run starts where its label says.
for target in far-future new-year; do
  if [ "$target" = far-future ]; then
    HOSTPATROL_TEST_CLOCK_SHIFT=$("$PY" -c 'from datetime import UTC, datetime
n = datetime.now(UTC).replace(day=1)
print(int((n.replace(year=n.year + 30) - n).total_seconds()))')
  else  # a minute before Monday 2029-01-01: year, quarter, month and ISO week turn mid-run
    HOSTPATROL_TEST_CLOCK_SHIFT=$(shift_to "2028-12-31T23:59:00+00:00")
  fi
  export HOSTPATROL_TEST_CLOCK_SHIFT
  start=$("$PY" -c 'from hostpatrol.shared.clock import utcnow
print(utcnow().isoformat(timespec="seconds"))' 2>/dev/null)
  echo "shifted clock, $target: HOSTPATROL_TEST_CLOCK_SHIFT=$HOSTPATROL_TEST_CLOCK_SHIFT s, from $start"
  "$PY" -m pytest -q -p no:cacheprovider "${DATE_SENSITIVE[@]}"
done

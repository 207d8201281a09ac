#!/usr/bin/env bash
# The main job: a collector on the embedded SQLite in ./demo-data, served over HTTPS on
# 127.0.0.1, a local agent enrolled to it, one full inspection delivered. Then it keeps
# serving until Ctrl-C. Re-running reuses what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DEMO=${HOSTPATROL_DEMO_DIR:-demo-data}
PORT=${HOSTPATROL_DEMO_PORT:-8443}
DATA="$DEMO/collector"
STATE="$DEMO/agent"
PWFILE="$DEMO/admin-password.txt"
URL="https://127.0.0.1:$PORT"
collector() { "$BIN/hostpatrol-collector" --data-dir "$DATA" "$@"; }

mkdir -p "$DEMO"
chmod 700 "$DEMO"
if [ ! -f "$DATA/collector.yaml" ]; then
  collector init --bind "127.0.0.1:$PORT"
fi
if [ ! -f "$PWFILE" ]; then
  (umask 077; "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(12))' > "$PWFILE")
  collector user add admin --role admin --password-file "$PWFILE"
fi

# The server runs in its own process group (job control on for this one job): Ctrl-C then
# reaches this script only, which stops the server with one SIGTERM to its main process.
# A SIGINT sent to granian's workers as well makes them refuse the graceful stop, and the
# port stayed open until granian killed them 20 s later.
set -m
"$BIN/hostpatrol-collector" --data-dir "$DATA" serve --bind "127.0.0.1:$PORT" \
  > "$DEMO/collector.log" 2>&1 &  # not the shell function: $! is the server itself
SERVER=$!
set +m
stop_server() {
  trap - EXIT INT TERM
  kill -TERM "$SERVER" 2>/dev/null || return 0
  for _ in $(seq 1 30); do  # granian stops in well under a second; 3 s at most
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$SERVER" 2>/dev/null || true  # whatever of its group is left
  wait "$SERVER" 2>/dev/null || true
}
trap stop_server EXIT
trap 'echo " stopping the collector"; stop_server; exit 130' INT TERM
"$BIN/python" - "$URL" "$DATA" <<'PY'
import sys, time, requests
from hostpatrol.agent.client import Client
from hostpatrol.collector.intake.identity import fingerprint
url, data = sys.argv[1], sys.argv[2]
client = Client(url, fingerprint(f"{data}/tls/cert.pem"), timeout=3)
for _ in range(100):
    try:
        client.session.get(f"{url}/healthz", timeout=3, verify=False).raise_for_status()
        break
    except requests.RequestException:
        time.sleep(0.2)
else:
    sys.exit(f"collector did not start; see its log")
PY

export HOSTPATROL_STATE_DIR="$STATE"
if [ ! -f "$STATE/enrollment.json" ]; then
  JOIN=$(collector token create --auto-approve 2>/dev/null)
  echo "join line: $JOIN"
  # shellcheck disable=SC2086 # the join line is a command line
  "$BIN/"$JOIN
fi
"$BIN/hostpatrol-agent" run --once || echo "(the inspection ran; see the messages above)"

cat <<TXT

  hostpatrol is running.
  Dashboard:  $URL/   (self-signed certificate: accept it in the browser;
              its fingerprint is $(collector init --bind "127.0.0.1:$PORT" | sed -n 's/^TLS certificate fingerprint: //p'))
  Login:      admin / $(cat "$PWFILE")
  API:        curl -k -H "Authorization: Bearer \$(.venv/bin/hostpatrol-collector --data-dir $DATA user api-token admin)" $URL/api/v1/hosts
  Inspect again:  HOSTPATROL_STATE_DIR=$STATE .venv/bin/hostpatrol-agent run --once
  Press Ctrl-C to stop the collector.
TXT
wait "$SERVER"

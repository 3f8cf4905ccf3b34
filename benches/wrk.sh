#!/usr/bin/env bash
# SPEC §10 with wrk as the load generator: the appliance's /twilio/voice against the
# durable floor (benches/floor: signature check + one row committed through a group-commit
# writer), a bare actix-web handler returning fixed TwiML and, when `node` is installed,
# the Node/Express peer (benches/node: Express + twilio.webhook() + better-sqlite3); same
# machine, same wrk settings, every ratio printed against the floor.
# Usage: benches/wrk.sh [SECONDS] [CONNECTIONS]   (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-64}
threads=2
# SPEC §10: the servers on one core, wrk on the other.
pin_server=""; pin_wrk=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_server="taskset -c 0"; pin_wrk="taskset -c 1"
fi
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
work=$(mktemp -d)
node_pid=""
trap 'pkill -P "$server" 2>/dev/null; kill "$server" $node_pid 2>/dev/null; sleep 0.5; rm -rf "$work" 2>/dev/null || true' EXIT

# The Node peer, built once (better-sqlite3 from source against the installed headers).
node_port=""
peer_works() { (cd benches/node && node -e "require('better-sqlite3')(':memory:')") >/dev/null 2>&1; }
if command -v node >/dev/null && command -v npm >/dev/null; then
  if ! peer_works; then
    (cd benches/node && npm install --no-audit --no-fund && npm rebuild better-sqlite3 --nodedir=/usr) >/dev/null 2>&1 ||
      echo "(the Node peer could not be built: npm install in benches/node failed)" >&2
  fi
  if peer_works; then
    node_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  fi
fi

cargo bench --bench webhooks --no-run 2>/dev/null
lines=$(( seconds * 40000 ))
WEBHOOKS_BENCH_SERVE="$work" WEBHOOKS_BENCH_LINES=$lines WEBHOOKS_BENCH_NODE_PORT="$node_port" \
  $pin_server cargo bench --bench webhooks -- $(( seconds * 3 + 60 )) >/dev/null 2>&1 &
server=$!
while [ ! -e "$work/ready" ]; do sleep 0.2; done
read -r app_port bare_port floor_port _ < "$work/ports"
# A quarter of the appliance's requests is kept for the run at 4 connections, so every
# request of both runs is a new CallSid.
app_lines=$(wc -l < "$work/app.txt")
head -n $(( app_lines * 3 / 4 )) "$work/app.txt" > "$work/app64.txt"
tail -n +$(( app_lines * 3 / 4 + 1 )) "$work/app.txt" > "$work/app4.txt"
if [ -n "$node_port" ]; then
  $pin_server node benches/node/server.js "$node_port" "$(cat "$work/token")" "$work" &
  node_pid=$!
  while [ ! -e "$work/node-ready" ]; do sleep 0.2; done
fi
run() {
  $pin_wrk wrk -t$threads -c"${3:-$connections}" -d"${seconds}s" --latency -s benches/wrk.lua "http://127.0.0.1:$2" -- "$work/$1.txt" $threads
}
rps() { echo "$1" | awk '/Requests\/sec/ {print $2}'; }
echo "=== bare actix handler (fixed TwiML)"
bare=$(run bare "$bare_port")
echo "$bare" | grep -E "Requests/sec|99%|Non-2xx"
echo "=== durable floor"
floor=$(run floor "$floor_port")
echo "$floor" | grep -E "Requests/sec|99%|Non-2xx"
echo "=== switchboard /twilio/voice"
app=$(run app64 "$app_port")
echo "$app" | grep -E "Requests/sec|99%|Non-2xx"
f=$(rps "$floor")
awk -v a="$(rps "$app")" -v f="$f" 'BEGIN { printf "ratio (switchboard / floor): %.1f %%  (SPEC §10 target >= 90 %%)\n", 100 * a / f }'
awk -v b="$(rps "$bare")" -v f="$f" 'BEGIN { printf "ratio (bare actix / floor): %.1f %%\n", 100 * b / f }'
echo "=== switchboard /twilio/voice at 4 connections (SPEC §10: p99 <= 3 ms)"
run app4 "$app_port" 4 | grep -E "Requests/sec|99%|Non-2xx"
if [ -n "$node_port" ]; then
  echo "=== Node/Express + twilio.webhook() + better-sqlite3"
  node=$(run node "$node_port")
  echo "$node" | grep -E "Requests/sec|99%|Non-2xx"
  awk -v n="$(rps "$node")" -v f="$f" 'BEGIN { printf "ratio (node / floor): %.1f %%\n", 100 * n / f }'
  awk -v a="$(rps "$app")" -v n="$(rps "$node")" 'BEGIN { printf "switchboard / node: %.1fx  (SPEC §10 target >= 5x)\n", a / n }'
else
  echo "(no Node peer: node and npm are not installed)"
fi
read -r wal_peak _ < "$work/wal"
sleep 3
read -r _ wal_idle < "$work/wal"
awk -v p="$wal_peak" -v i="$wal_idle" 'BEGIN { printf "WAL file: peak %.1f MiB under load, %.1f MiB after 3 s idle (bound: 64 MiB)\n", p / 1048576, i / 1048576 }'
# The servers' process (cargo's child): its peak resident memory under the load above.
bench_pid=$(pgrep -P "$server" | head -n1 || true)
if [ -n "$bench_pid" ] && [ -r "/proc/$bench_pid/status" ]; then
  awk '/VmHWM/ { printf "peak RSS: %.1f MiB for the appliance, the floor and the bare handler together (SPEC §10 bound for the appliance: 64 MiB)\n", $2 / 1024 }' "/proc/$bench_pid/status"
fi

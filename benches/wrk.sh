#!/usr/bin/env bash
# SPEC §10 with wrk as the load generator: the appliance's /twilio/voice against the
# durable floor (benches/floor: signature check + one row committed through a group-commit
# writer) and a bare actix-web handler returning fixed TwiML, same process, same machine,
# same wrk settings.
# Usage: benches/wrk.sh [SECONDS] [CONNECTIONS]   (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-64}
threads=2
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
work=$(mktemp -d)
trap 'pkill -P "$server" 2>/dev/null; kill "$server" 2>/dev/null; sleep 0.5; rm -rf "$work" 2>/dev/null || true' EXIT
cargo bench --bench webhooks --no-run 2>/dev/null
lines=$(( seconds * 40000 ))
WEBHOOKS_BENCH_SERVE="$work" WEBHOOKS_BENCH_LINES=$lines cargo bench --bench webhooks -- $(( seconds * 2 + 60 )) >/dev/null 2>&1 &
server=$!
while [ ! -e "$work/ready" ]; do sleep 0.2; done
read -r app_port bare_port floor_port < "$work/ports"
run() {
  wrk -t$threads -c"$connections" -d"${seconds}s" --latency -s benches/wrk.lua "http://127.0.0.1:$2" -- "$work/$1.txt" $threads
}
echo "=== bare actix handler (fixed TwiML)"
bare=$(run bare "$bare_port")
echo "$bare" | grep -E "Requests/sec|99%|Non-2xx"
echo "=== durable floor"
floor=$(run floor "$floor_port")
echo "$floor" | grep -E "Requests/sec|99%|Non-2xx"
echo "=== switchboard /twilio/voice"
app=$(run app "$app_port")
echo "$app" | grep -E "Requests/sec|99%|Non-2xx"
b=$(echo "$bare" | awk '/Requests\/sec/ {print $2}')
f=$(echo "$floor" | awk '/Requests\/sec/ {print $2}')
a=$(echo "$app" | awk '/Requests\/sec/ {print $2}')
awk -v a="$a" -v f="$f" 'BEGIN { printf "ratio (switchboard / floor): %.1f %%  (SPEC §10 target >= 90 %%)\n", 100 * a / f }'
awk -v f="$f" -v b="$b" 'BEGIN { printf "ratio (floor / bare): %.1f %%\n", 100 * f / b }'
read -r wal_peak _ < "$work/wal"
sleep 3
read -r _ wal_idle < "$work/wal"
awk -v p="$wal_peak" -v i="$wal_idle" 'BEGIN { printf "WAL file: peak %.1f MiB under load, %.1f MiB after 3 s idle (bound: 64 MiB)\n", p / 1048576, i / 1048576 }'

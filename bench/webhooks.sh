#!/usr/bin/env bash
# Receipt throughput, side by side in one run (docs/PERFORMANCE.md): `storesync serve` (verify,
# SQLite dedupe, durable enqueue) and a bare axum handler answering 200, both loaded by wrk with
# the same signed WMS deliveries from the same machine.
# usage: [PACED=7000] bash bench/webhooks.sh [SECONDS] [CONNECTIONS] [DELIVERIES]
# One wrk thread: wrk starts its clock after every thread's `init` (loading the file), so with
# -tN the first threads send uncounted seconds early and overstate the rate (docs/PERFORMANCE.md).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
CONNS=${2:-32}
# The paced run's offered rate (requests a second); the target is ≥ 5,000/s at p99 ≤ 20 ms.
PACED=${PACED:-7000}
# More unique deliveries than a run can send (storesync answers at most about 50,000 a second
# here), so that every request to storesync is a first delivery.
EVENTS=${3:-$((SECS * 100000))}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p storesync-local --bin storesync --example bare_axum
BIN=target/release/storesync
BARE=target/release/examples/bare_axum
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
export STORESYNC_WMS_SECRET=bench-secret STORESYNC_WMS_SIGNATURE=hmac
"$BIN" --state "$WORK/gen" webhooks storm --events "$EVENTS" --entities 100000 --duplicate-share 0 --emit "$WORK/deliveries.tsv" >/dev/null
echo "deliveries: $(wc -l <"$WORK/deliveries.tsv") lines, $(du -h "$WORK/deliveries.tsv" | cut -f1)"

wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

run() { # name port [delay ms: paced]
  echo "== $1"
  local script=bench/wrk_webhooks.lua
  [ -n "${3:-}" ] && script=bench/wrk_webhooks_paced.lua
  wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s "$script" "http://127.0.0.1:$2/webhooks/wms" -- "$WORK/deliveries.tsv" 1 ${3:-} | tee "$WORK/$1.out" | grep -E 'RESULT|Non-2xx' || true
}

"$BIN" --state "$WORK/state" serve --addr 127.0.0.1:18080 >"$WORK/serve.log" 2>&1 &
wait_port 18080
run storesync 18080
sent=$(grep -o 'requests=[0-9]*' "$WORK/storesync.out" | cut -d= -f2)
queued=$("$BIN" --state "$WORK/state" webhooks status | tee "$WORK/status.txt" | awk '/webhooks-/{s+=$2} END{print s+0}')
echo "queued after the run: $queued"
cat "$WORK/status.txt"
# Every answered request queued a message unless it was a duplicate (wrk, having sent the whole
# file, starts it again): then the run measured cheaper reads, not admissions.
if [ "$queued" -lt "$sent" ]; then
  echo "not every request was a first delivery ($sent requests, $queued queued): pass a larger DELIVERIES" >&2
  exit 1
fi
kill %1; wait %1 2>/dev/null || true

"$BARE" 127.0.0.1:18081 2>/dev/null &
bare=$!
wait_port 18081
run bare-axum 18081

s=$(grep -o 'rps=[0-9]*' "$WORK/storesync.out" | cut -d= -f2)
b=$(grep -o 'rps=[0-9]*' "$WORK/bare-axum.out" | cut -d= -f2)
python3 -c "print(f'storesync / bare axum = {$s}/{$b} = {$s/$b:.2f}x')"
kill "$bare"; wait "$bare" 2>/dev/null || true

# The absolute target at a steady load rather than at saturation: each connection pauses
# between requests for an offered rate of about PACED per second (fresh state: every request
# is a first delivery again).
DELAY=$((CONNS * 1000 / PACED))
"$BIN" --state "$WORK/paced" serve --addr 127.0.0.1:18082 >"$WORK/paced.log" 2>&1 &
wait_port 18082
run "storesync-paced-${PACED}" 18082 "$DELAY"

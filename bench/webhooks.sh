#!/usr/bin/env bash
# Receipt throughput, side by side in one run (docs/PERFORMANCE.md): `storesync serve` (verify,
# SQLite dedupe, durable enqueue), the same receipt storing nothing (example receipt_unstored:
# what the request path costs) and a bare axum handler answering 200, all loaded by wrk with the
# same signed WMS deliveries from the same machine, in two placements:
# - shared: no affinity, the server and wrk share both cores as the scheduler likes;
# - pinned: the server on CPU 1, wrk on CPU 0 (taskset): each program's cost per request on one
#   core of its own, steadier from run to run than the shared placement.
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
command -v taskset >/dev/null || { echo "taskset (util-linux) is missing: the pinned placement needs it" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "the pinned placement needs two CPUs, this machine has $(nproc)" >&2; exit 1; }
cargo build --release -q -p storesync-local --bin storesync --example bare_axum --example receipt_unstored
BIN=target/release/storesync
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
export STORESYNC_WMS_SECRET=bench-secret STORESYNC_WMS_SIGNATURE=hmac
"$BIN" --state "$WORK/gen" webhooks storm --events "$EVENTS" --entities 100000 --duplicate-share 0 --emit "$WORK/deliveries.tsv" >/dev/null
echo "deliveries: $(wc -l <"$WORK/deliveries.tsv") lines, $(du -h "$WORK/deliveries.tsv" | cut -f1)"

wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

# load NAME PORT WRK_CPUS [delay ms: paced]
load() {
  local script=bench/wrk_webhooks.lua
  [ -n "${4:-}" ] && script=bench/wrk_webhooks_paced.lua
  printf '%-28s ' "$1"
  taskset -c "$3" wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s "$script" "http://127.0.0.1:$2/webhooks/wms" -- "$WORK/deliveries.tsv" 1 ${4:-} \
    | tee "$WORK/$1.out" | grep -E 'RESULT|Non-2xx' || true
}
# result NAME FIELD: a field of wrk's RESULT line for that run (requests, rps, …).
result() { grep -o "$2=[0-9]*" "$WORK/$1.out" | cut -d= -f2; }
# start CPUS PORT LOG COMMAND…: runs a server on those CPUs (its pid in $pid) until its port opens.
start() { taskset -c "$1" "${@:4}" >"$WORK/$3.log" 2>&1 & pid=$!; wait_port "$2"; }
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; }

# placement SERVER_CPUS WRK_CPUS: the three programs, one after the other, each on fresh state.
placement() {
  local name=$1 srv=$2 gen=$3
  echo "== $name (server on CPU $srv, wrk on CPU $gen)"
  start "$srv" 18080 "serve-$name" "$BIN" --state "$WORK/state-$name" serve --addr 127.0.0.1:18080
  load "storesync-$name" 18080 "$gen"
  local sent queued
  sent=$(result "storesync-$name" requests)
  queued=$("$BIN" --state "$WORK/state-$name" webhooks status | awk '/webhooks-/{s+=$2} END{print s+0}')
  # Every answered request queued a message unless it was a duplicate (wrk, having sent the
  # whole file, starts it again): then the run measured cheaper reads, not admissions.
  if [ "$queued" -lt "$sent" ]; then
    echo "not every request was a first delivery ($sent requests, $queued queued): pass a larger DELIVERIES" >&2
    exit 1
  fi
  stop
  start "$srv" 18081 "unstored-$name" target/release/examples/receipt_unstored 127.0.0.1:18081
  load "unstored-$name" 18081 "$gen"
  stop
  start "$srv" 18082 "bare-axum-$name" target/release/examples/bare_axum 127.0.0.1:18082
  load "bare-axum-$name" 18082 "$gen"
  stop

  python3 -c "
s, u, b = $(result "storesync-$name" rps), $(result "unstored-$name" rps), $(result "bare-axum-$name" rps)
print(f'$name: storesync / bare axum = {s}/{b} = {s/b:.2f}x; storing nothing = {u}/{b} = {u/b:.2f}x')
if '$name' == 'pinned':  # one core's time a request: its inverse rate
    print(f'one server core a request: bare {1e6/b:.1f} us, the request path +{1e6/u-1e6/b:.1f} us, making it durable +{1e6/s-1e6/u:.1f} us')"
}

placement shared 0,1 0,1
placement pinned 1 0

# The absolute target at a steady load rather than at saturation: each connection pauses
# between requests for an offered rate of about PACED per second (fresh state: every request
# is a first delivery again).
DELAY=$((CONNS * 1000 / PACED))
echo "== paced (no affinity)"
start 0,1 18083 paced "$BIN" --state "$WORK/paced" serve --addr 127.0.0.1:18083
load "storesync-paced-${PACED}" 18083 0,1 "$DELAY"
stop

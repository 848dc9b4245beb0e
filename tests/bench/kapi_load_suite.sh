#!/bin/sh
# kapi-load in JSON and protobuf, and the server-side apply scenarios, on a
# fresh store (release build). Prints the machine, the load average
# and every kapi-load line. Run from the repository root:
#
#   cargo build --release -p kapi-server -p kapi-tests
#   sh tests/bench/kapi_load_suite.sh            # DURATION=10 PORT=18080 by default
#   ETCD=1 sh tests/bench/kapi_load_suite.sh     # on a fresh etcd (Debian's etcd-server)
#
# With ETCD=1 the script starts etcd on loopback (client port PORT+1, peer
# port PORT+2) in a temporary data directory, and the CPU and RSS figures are
# kapi's and etcd's together.
#
# JSON and protobuf runs of one scenario follow each other, so they share the
# machine's conditions. Lists run before any create so they see exactly the
# 10,000 preloaded ConfigMaps.
set -eu
DURATION=${DURATION:-10}
PORT=${PORT:-18080}
DATA=$(mktemp -d)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
ETCD_FLAGS=""
PIDS=""
if [ "${ETCD:-0}" = 1 ]; then
  EC="http://127.0.0.1:$((PORT + 1))"
  EP="http://127.0.0.1:$((PORT + 2))"
  etcd --name bench --data-dir "$DATA/etcd" --listen-client-urls "$EC" \
    --advertise-client-urls "$EC" --listen-peer-urls "$EP" \
    --initial-advertise-peer-urls "$EP" --initial-cluster "bench=$EP" \
    --log-level warn --logger zap >"$DATA/etcd.log" 2>&1 &
  ETCD_PID=$!
  PIDS="--pid $ETCD_PID"
  ETCD_FLAGS="--etcd-servers $EC"
  for _ in $(seq 100); do
    curl -sf "$EC/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
# shellcheck disable=SC2086
target/release/kapi --data-dir "$DATA" --port "$PORT" $ETCD_FLAGS >"$DATA/kapi.log" 2>&1 &
KAPI=$!
trap 'kill $KAPI ${ETCD_PID:-}; wait; rm -rf "$DATA"' EXIT
sleep 1
L="target/release/kapi-load --url http://127.0.0.1:$PORT --pid $KAPI $PIDS"
echo "== $(date -u +%FT%TZ) store: $([ "${ETCD:-0}" = 1 ] && etcd --version | head -1 || echo embedded), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
$L preload --count 10000
for e in json protobuf; do $L --encoding $e get --concurrency 64 --duration "$DURATION"; done
for e in json protobuf; do $L --encoding $e get --concurrency 1 --duration "$DURATION"; done
for e in json protobuf; do $L --encoding $e list --concurrency 8 --duration "$DURATION"; done
for n in 100 1000; do
  for e in json protobuf; do $L --encoding $e watch --watchers $n --events 100; done
done
# The same 1,000 watchers with the creates 10 ms apart (the reference's
# watch_test.py --interval-ms): each event's fan-out alone, without the queue
# that back-to-back creates build.
for e in json protobuf; do $L --encoding $e watch --watchers 1000 --events 100 --interval-ms 10; done
for e in json protobuf; do $L --encoding $e create --concurrency 64 --duration "$DURATION"; done
for s in apply-noop apply-changed; do
  for c in 1 64; do $L $s --concurrency $c --duration "$DURATION"; done
done
echo "== done $(date -u +%FT%TZ), load average: $(cut -d' ' -f1-3 /proc/loadavg)"

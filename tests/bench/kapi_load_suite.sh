#!/bin/sh
# kapi-load in JSON and protobuf, and the server-side apply scenarios, on a
# fresh embedded store (release build). Prints the machine, the load average
# and every kapi-load line. Run from the repository root:
#
#   cargo build --release -p kapi-server -p kapi-tests
#   sh tests/bench/kapi_load_suite.sh            # DURATION=10 PORT=18080 by default
#
# JSON and protobuf runs of one scenario follow each other, so they share the
# machine's conditions. Lists run before any create so they see exactly the
# 10,000 preloaded ConfigMaps.
set -eu
DURATION=${DURATION:-10}
PORT=${PORT:-18080}
DATA=$(mktemp -d)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
target/release/kapi --data-dir "$DATA" --port "$PORT" >"$DATA/kapi.log" 2>&1 &
KAPI=$!
trap 'kill $KAPI; rm -rf "$DATA"' EXIT
sleep 1
L="target/release/kapi-load --url http://127.0.0.1:$PORT --pid $KAPI"
echo "== $(date -u +%FT%TZ) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
$L preload --count 10000
for e in json protobuf; do $L --encoding $e get --concurrency 64 --duration "$DURATION"; done
for e in json protobuf; do $L --encoding $e get --concurrency 1 --duration "$DURATION"; done
for e in json protobuf; do $L --encoding $e list --concurrency 8 --duration "$DURATION"; done
for n in 100 1000; do
  for e in json protobuf; do $L --encoding $e watch --watchers $n --events 100; done
done
for e in json protobuf; do $L --encoding $e create --concurrency 64 --duration "$DURATION"; done
for s in apply-noop apply-changed; do
  for c in 1 64; do $L $s --concurrency $c --duration "$DURATION"; done
done
echo "== done $(date -u +%FT%TZ), load average: $(cut -d' ' -f1-3 /proc/loadavg)"

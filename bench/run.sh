#!/usr/bin/env bash
# Side-by-side benchmark: tokenbus and nginx + nchan, the same scenarios, interleaved, in one run;
# writes the table into docs/BENCHMARKS.md. Needs root for apt-get (nginx-light and
# libnginx-mod-nchan from Debian) the first time. Everything listens on 127.0.0.1 only.
#
#   bench/run.sh                          # the default matrix, capacity, TTFT and idle memory (about 20 minutes)
#   SUBSCRIBERS="100 1000" RATES="50" SECONDS_PER_RUN=5 TRANSPORTS="sse" bench/run.sh   # a quick one
set -euo pipefail
cd "$(dirname "$0")/.."

SUBSCRIBERS=${SUBSCRIBERS:-"100 1000 5000 10000"}
RATES=${RATES:-"50 500"}
TRANSPORTS=${TRANSPORTS:-"sse ws"}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
# What has not arrived this long after the last token was due counts as lost (nchan takes minutes to push 50M messages).
DRAIN_SECONDS=${DRAIN_SECONDS:-30}
# The capacity ladder: N at 50 tokens/s over SSE, both servers; the largest N served with p99 < 100 ms is the figure.
CAPACITY=${CAPACITY:-"2000 3000 4000 5000 6000 8000 10000"}
# Cross-node: a three-node cluster (deploy/local-cluster.sh) on the same cores, the generation on one node, N subscribers on the other two.
CROSS_NODE=${CROSS_NODE:-5000}
OUT=${OUT:-docs/BENCHMARKS.md}
WORK=$(mktemp -d /tmp/tokenbus-bench.XXXXXX)
RESULTS="$WORK/results.jsonl"
CAPACITY_RESULTS="$WORK/capacity.jsonl"

if ! [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ]; then
  apt-get update -qq > /dev/null && apt-get install -y -qq nginx-light libnginx-mod-nchan > /dev/null
fi
{ [ -f target/tokenbus.jar ] && [ -f target/tokenbus-bench.jar ]; } || mvn -q -B package -DskipTests
ulimit -n "$(ulimit -Hn)"

cleanup() {
  [ -n "${HUB:-}" ] && kill "$HUB" 2> /dev/null || true
  [ -n "${CLUSTER:-}" ] && kill "$CLUSTER" 2> /dev/null || true
  nginx -p "$WORK/nchan" -c "$PWD/bench/nchan.conf" -s quit 2> /dev/null || true
}
trap cleanup EXIT

OPENAI_BASE_URL=http://127.0.0.1:9700/v1 TOKENBUS_HTTP_HOST=127.0.0.1 bin/tokenbus > "$WORK/hub.log" 2>&1 &
HUB=$!
mkdir -p "$WORK/nchan/tmp"
nginx -p "$WORK/nchan" -c "$PWD/bench/nchan.conf"
until grep -q "tokenbus listening" "$WORK/hub.log"; do sleep 0.2; done
NGINX_WORKERS=$(pgrep -f "nginx: worker" | paste -sd, -)

# The tool's own JVM: the parallel collector, which has no concurrent refinement threads (G1's cost
# the client more than a tenth of its CPU at 10,000 subscribers, on the cores the hub needs).
bench() {
  java -XX:+UseParallelGC -jar target/tokenbus-bench.jar --seconds "$SECONDS_PER_RUN" --drain-seconds "$DRAIN_SECONDS" "$@" \
    2>> "$WORK/bench.log" | tail -1 >> "${INTO:-$RESULTS}"
}

echo "== warm-up (not recorded): the JVM compiles the hot paths of both transports at both rates" >&2
for transport in sse ws; do
  for rate in 50 500; do
    INTO=/dev/null bench --target tokenbus --hub-port 8080 --hub-pid "$HUB" --subscribers 1000 --rate "$rate" --transport "$transport"
  done
done

for transport in $TRANSPORTS; do
  for rate in $RATES; do
    for n in $SUBSCRIBERS; do
      echo "== $transport, $n subscribers, $rate tokens/s" >&2
      bench --target tokenbus --hub-port 8080 --hub-pid "$HUB" --subscribers "$n" --rate "$rate" --transport "$transport"
      bench --target nchan --hub-port 9800 --hub-pid "$NGINX_WORKERS" --subscribers "$n" --rate "$rate" --transport "$transport"
    done
  done
done

for n in $CAPACITY; do
  echo "== capacity: sse, $n subscribers, 50 tokens/s" >&2
  INTO=$CAPACITY_RESULTS bench --target tokenbus --hub-port 8080 --hub-pid "$HUB" --subscribers "$n" --rate 50 --transport sse
  INTO=$CAPACITY_RESULTS bench --target nchan --hub-port 9800 --hub-pid "$NGINX_WORKERS" --subscribers "$n" --rate 50 --transport sse
done
echo "== time to first token" >&2
bench --mode ttft --hub-port 8080 --requests 200
echo "== memory per idle subscriber" >&2
bench --mode idle --hub-port 8080 --hub-pid "$HUB" --subscribers 10000

kill "$HUB" && wait "$HUB" 2> /dev/null || true
HUB=
if [ -n "$CROSS_NODE" ]; then
  echo "== cross-node: a three-node cluster" >&2
  WITH_NGINX=no OPENAI_BASE_URL=http://127.0.0.1:9700/v1 TOKENBUS_CLUSTER_NAME=tokenbus-bench-$$ deploy/local-cluster.sh > "$WORK/cluster.out" 2>&1 &
  CLUSTER=$!
  until grep -q "^node 3:" "$WORK/cluster.out"; do
    kill -0 "$CLUSTER" 2> /dev/null || { cat "$WORK/cluster.out" >&2; exit 1; }
    sleep 0.5
  done
  NODES=$(sed -n 's/^node .*(pid \([0-9]*\),.*/\1/p' "$WORK/cluster.out" | paste -sd, -)
  INTO=/dev/null bench --target tokenbus --hub-ports 8081,8082,8083 --hub-pid "$NODES" --subscribers 1000 --rate 50 --transport sse
  for transport in $TRANSPORTS; do
    for n in $CROSS_NODE; do
      echo "== cross-node: $transport, $n subscribers on two nodes, 50 tokens/s" >&2
      bench --target tokenbus --hub-ports 8081,8082,8083 --hub-pid "$NODES" --subscribers "$n" --rate 50 --transport "$transport"
    done
  done
  kill "$CLUSTER" && wait "$CLUSTER" 2> /dev/null || true
  CLUSTER=
fi

{
  echo "# Benchmarks: tokenbus and nginx + nchan, side by side"
  echo
  echo "Written by \`bench/run.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),"
  echo "$(java -version 2>&1 | head -1), nginx $(nginx -v 2>&1 | cut -d/ -f2), the load tool on the same cores."
  echo "Each row: one generation (one nchan channel) with N subscribers, R tokens/s for ${SECONDS_PER_RUN} s;"
  echo "latency from each token's scheduled emit time, start + (seq - 1) / rate, for both (so a source held back by"
  echo "the server under test counts), to the subscriber's read; delivered/s is the tokens over the time until the last one."
  echo "tokenbus runs on its defaults (bin/tokenbus) after warm-up runs that are not recorded (SSE and WebSocket, 50 and 500 tokens/s,"
  echo "1,000 subscribers); nchan with bench/nchan.conf. The token source (the tool's upstream, or nchan's publisher) has an event loop of"
  echo "its own in the tool; subscribers are dealt over the tool's other loops, one per core; the tool starts the tokens once the hub counts"
  echo "every subscriber as a viewer. Latency figures count every token; the raw results also give them without the first 2 s (steady_ms_*)."
  echo
  java -cp target/tokenbus-bench.jar io.tokenbus.bench.Table "$RESULTS" "$CAPACITY_RESULTS"
  echo
  echo "Reproduce: \`SUBSCRIBERS=\"$SUBSCRIBERS\" RATES=\"$RATES\" TRANSPORTS=\"$TRANSPORTS\" SECONDS_PER_RUN=$SECONDS_PER_RUN DRAIN_SECONDS=$DRAIN_SECONDS CAPACITY=\"$CAPACITY\" CROSS_NODE=\"$CROSS_NODE\" bench/run.sh\`"
} > "$OUT"
echo "wrote $OUT (raw results: $RESULTS)" >&2

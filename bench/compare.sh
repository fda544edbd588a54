#!/usr/bin/env bash
# Two builds of the hub side by side: the same load tool, the same cells, the builds interleaved
# round by round (A, B, A, B, ...), so whatever else the machine does hits both alike. For a change
# that must not make the hub slower: compare its jar with the one before it. Needs jq.
#
#   bench/compare.sh /tmp/before.jar target/tokenbus.jar
#   ROUNDS=3 SUBSCRIBERS="1000 5000" TRANSPORTS="sse ws" RATE=50 bench/compare.sh A.jar B.jar
#
# Prints, per cell, each build's median over the rounds of the hub's CPU per delivered token and
# the p99 latency, and writes every run's JSON line (with "build" and "round") to $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 2 ] || { echo "usage: bench/compare.sh A.jar B.jar" >&2; exit 2; }
JARS=("$1" "$2")
ROUNDS=${ROUNDS:-3}
SUBSCRIBERS=${SUBSCRIBERS:-"1000 5000"}
TRANSPORTS=${TRANSPORTS:-"sse ws"}
RATE=${RATE:-50}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
DRAIN_SECONDS=${DRAIN_SECONDS:-30}
WORK=$(mktemp -d /tmp/tokenbus-compare.XXXXXX)
OUT=${OUT:-$WORK/results.jsonl}
command -v jq > /dev/null || { echo "bench/compare.sh needs jq (apt-get install -y jq)" >&2; exit 2; }
[ -f target/tokenbus-bench.jar ] || mvn -q -B package -DskipTests
ulimit -n "$(ulimit -Hn)"

cleanup() { [ -n "${HUB:-}" ] && kill "$HUB" 2> /dev/null || true; }
trap cleanup EXIT

bench() {
  java -XX:+UseParallelGC -jar target/tokenbus-bench.jar --seconds "$SECONDS_PER_RUN" --drain-seconds "$DRAIN_SECONDS" \
    --target tokenbus --hub-port 8080 --hub-pid "$HUB" "$@" 2>> "$WORK/bench.log" | tail -1
}

for round in $(seq "$ROUNDS"); do
  for build in 0 1; do
    label=$([ "$build" = 0 ] && echo A || echo B)
    echo "== round $round, build $label (${JARS[$build]})" >&2
    TOKENBUS_JAR=${JARS[$build]} OPENAI_BASE_URL=http://127.0.0.1:9700/v1 TOKENBUS_HTTP_HOST=127.0.0.1 \
      bin/tokenbus > "$WORK/hub-$round-$label.log" 2>&1 &
    HUB=$!
    until grep -q "tokenbus listening" "$WORK/hub-$round-$label.log"; do
      kill -0 "$HUB" 2> /dev/null || { cat "$WORK/hub-$round-$label.log" >&2; exit 1; }
      sleep 0.2
    done
    for transport in $TRANSPORTS; do # warm-up, not recorded: the JIT compiles both write paths first
      bench --subscribers 1000 --rate "$RATE" --transport "$transport" > /dev/null
    done
    for transport in $TRANSPORTS; do
      for n in $SUBSCRIBERS; do
        bench --subscribers "$n" --rate "$RATE" --transport "$transport" \
          | jq -c --arg build "$label" --argjson round "$round" '. + {build: $build, round: $round}' >> "$OUT"
      done
    done
    kill "$HUB" && wait "$HUB" 2> /dev/null || true
    HUB=
  done
done

echo "A: ${JARS[0]}"
echo "B: ${JARS[1]}"
jq -rs '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  group_by([.transport, .subscribers]) | .[] | . as $cell
  | [$cell[0].transport, ($cell[0].subscribers | tostring)]
    + ([["A", "B"][] as $b | $cell | map(select(.build == $b))
        | [(map(.hub_cpu_us_per_token) | median | tostring), (map(.latency_ms_p99) | median | tostring),
           (map(.lost + .duplicated + .out_of_order) | add | tostring)]] | flatten)
  | @tsv' "$OUT" \
  | { printf "transport\tsubscribers\tA µs/token\tA p99 ms\tA lost+dup+ooo\tB µs/token\tB p99 ms\tB lost+dup+ooo\n"; cat; } | column -t -s $'\t'
echo "every run: $OUT" >&2

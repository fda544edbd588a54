#!/usr/bin/env bash
# What metrics cost on the fan-out's hot path: two hubs, one with metrics on (the default) and one
# with TOKENBUS_METRICS_ENABLED=false, measured by the load tool in turns (ROUNDS rounds,
# SUBSCRIBERS SSE subscribers at RATE tokens/s for SECONDS_PER_RUN s each), as hub CPU µs per
# token delivered. Prints each run's JSON line and the medians. Everything listens on 127.0.0.1.
#   bench/metrics-overhead.sh                          # 5,000 subscribers at 50 tokens/s, 4 rounds
#   SUBSCRIBERS=1000 ROUNDS=1 SECONDS_PER_RUN=5 bench/metrics-overhead.sh   # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
SUBSCRIBERS=${SUBSCRIBERS:-5000}
RATE=${RATE:-50}
ROUNDS=${ROUNDS:-4}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-20}
{ [ -f target/tokenbus.jar ] && [ -f target/tokenbus-bench.jar ]; } || mvn -q -B package -DskipTests
ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d /tmp/tokenbus-metrics-overhead.XXXXXX)
pids=()
cleanup() { kill "${pids[@]}" 2> /dev/null || true; }
trap cleanup EXIT

start_hub() { # port, then settings
  local port=$1
  shift
  env "$@" OPENAI_BASE_URL=http://127.0.0.1:9700/v1 TOKENBUS_HTTP_HOST=127.0.0.1 TOKENBUS_HTTP_PORT="$port" \
    bin/tokenbus > "$WORK/hub-$port.log" 2>&1 &
  pids+=($!)
  until grep -q "tokenbus listening" "$WORK/hub-$port.log"; do sleep 0.2; done
}
start_hub 8091 TOKENBUS_METRICS_ENABLED=true
ON=${pids[0]}
start_hub 8092 TOKENBUS_METRICS_ENABLED=false
OFF=${pids[1]}

bench() { # label, port, pid, subscribers
  java -XX:+UseParallelGC -jar target/tokenbus-bench.jar --seconds "$SECONDS_PER_RUN" --drain-seconds 30 \
    --target tokenbus --hub-port "$2" --hub-pid "$3" --subscribers "$4" --rate "$RATE" --transport sse \
    2>> "$WORK/bench.log" | tail -1 | sed "s/^{/{\"metrics\":\"$1\",/"
}

echo "== warm-up (not recorded)" >&2
bench on 8091 "$ON" 1000 > /dev/null
bench off 8092 "$OFF" 1000 > /dev/null
for round in $(seq "$ROUNDS"); do
  # Each round in the other order than the one before: the first run of a pair must not always be
  # the same configuration.
  order="on off"
  [ $((round % 2)) -eq 0 ] && order="off on"
  for config in $order; do
    if [ "$config" = on ]; then port=8091 pid=$ON; else port=8092 pid=$OFF; fi
    bench "$config" "$port" "$pid" "$SUBSCRIBERS" | tee -a "$WORK/results.jsonl"
  done
done
python3 - "$WORK/results.jsonl" << 'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
med = {c: statistics.median(r["hub_cpu_us_per_token"] for r in runs if r["metrics"] == c) for c in ("on", "off")}
p99 = {c: statistics.median(r["latency_ms_p99"] for r in runs if r["metrics"] == c) for c in ("on", "off")}
on = [r["hub_cpu_us_per_token"] for r in runs if r["metrics"] == "on"]
off = [r["hub_cpu_us_per_token"] for r in runs if r["metrics"] == "off"]
pairs = [round((a - b) / b * 100, 1) for a, b in zip(on, off)]
print(json.dumps({"cpu_us_per_token_median": med, "p99_ms_median": p99,
                  "overhead_pct": round((med["on"] - med["off"]) / med["off"] * 100, 1),
                  "overhead_pct_per_round": pairs}))
PY

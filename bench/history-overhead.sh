#!/usr/bin/env bash
# What the durable history costs (README, "Durable history"): two hubs, one with a PostgreSQL of
# the script's own (Debian's postgresql package; data in a temporary directory, port 55433) and one
# without, measured by the load tool in turns (ROUNDS rounds, SUBSCRIBERS SSE subscribers at RATE
# tokens/s for SECONDS_PER_RUN s each) as hub CPU µs per token and p99 latency; then sustained
# session posts per second against each (bench/session-posts.mjs). Everything on 127.0.0.1.
#   bench/history-overhead.sh                             # 1,000 and 5,000 subscribers, 3 rounds
#   SUBSCRIBERS=1000 ROUNDS=1 SECONDS_PER_RUN=5 bench/history-overhead.sh   # a quick look
#   POSTS_ONLY=yes bench/history-overhead.sh               # the session posts only
set -euo pipefail
cd "$(dirname "$0")/.."
SUBSCRIBERS=${SUBSCRIBERS:-"1000 5000"}
RATE=${RATE:-50}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-20}
POST_SECONDS=${POST_SECONDS:-15}
{ [ -f target/tokenbus.jar ] && [ -f target/tokenbus-bench.jar ]; } || mvn -q -B package -DskipTests
ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d /tmp/tokenbus-history-overhead.XXXXXX)
pids=()
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg=()
[ "$(id -u)" = 0 ] && { chown postgres "$WORK"; as_pg=(runuser -u postgres --); }
cleanup() {
  kill "${pids[@]}" 2> /dev/null || true
  "${as_pg[@]}" "$bin/pg_ctl" -D "$WORK/pg" -m fast stop > /dev/null 2>&1 || true
}
trap cleanup EXIT

# A PostgreSQL as it would run beside an app: default settings (fsync on).
password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$password" > "$WORK/pw"
[ "$(id -u)" = 0 ] && chown postgres "$WORK/pw"
"${as_pg[@]}" "$bin/initdb" -D "$WORK/pg" -U tokenbus --pwfile="$WORK/pw" --auth-host=scram-sha-256 \
  --auth-local=trust -E UTF8 --locale=C > /dev/null
"${as_pg[@]}" "$bin/pg_ctl" -D "$WORK/pg" -w -l "$WORK/pg.log" -o "-k $WORK -p 55433 -c listen_addresses=127.0.0.1" start > /dev/null
"${as_pg[@]}" "$bin/createdb" -h "$WORK" -p 55433 -U tokenbus tokenbus

start_hub() { # port, then settings
  local port=$1
  shift
  env "$@" OPENAI_BASE_URL=http://127.0.0.1:9700/v1 TOKENBUS_HTTP_HOST=127.0.0.1 TOKENBUS_HTTP_PORT="$port" \
    TOKENBUS_MOCK_DEFAULT_MAX_TOKENS=4 TOKENBUS_MOCK_TOKENS_PER_SECOND=1000 \
    bin/tokenbus > "$WORK/hub-$port.log" 2>&1 &
  pids+=($!)
  until grep -q "tokenbus listening" "$WORK/hub-$port.log" 2> /dev/null; do
    kill -0 "${pids[-1]}" 2> /dev/null || { cat "$WORK/hub-$port.log"; exit 1; }
    sleep 0.2
  done
}
start_hub 8093 TOKENBUS_DATABASE_URL=postgresql://tokenbus@127.0.0.1:55433/tokenbus TOKENBUS_DATABASE_PASSWORD="$password"
WITH=${pids[0]}
start_hub 8094
WITHOUT=${pids[1]}

bench() { # label, port, pid, subscribers
  java -XX:+UseParallelGC -jar target/tokenbus-bench.jar --seconds "$SECONDS_PER_RUN" --drain-seconds 30 \
    --target tokenbus --hub-port "$2" --hub-pid "$3" --subscribers "$4" --rate "$RATE" --transport sse \
    2>> "$WORK/bench.log" | tail -1 | sed "s/^{/{\"database\":\"$1\",/"
}

if [ "${POSTS_ONLY:-no}" = yes ]; then SUBSCRIBERS=""; else
echo "== warm-up (not recorded)" >&2
bench with 8093 "$WITH" 1000 > /dev/null
bench without 8094 "$WITHOUT" 1000 > /dev/null
fi
for subscribers in $SUBSCRIBERS; do
  for round in $(seq "$ROUNDS"); do
    order="with without"
    [ $((round % 2)) -eq 0 ] && order="without with"
    for config in $order; do
      if [ "$config" = with ]; then port=8093 pid=$WITH; else port=8094 pid=$WITHOUT; fi
      bench "$config" "$port" "$pid" "$subscribers" | tee -a "$WORK/results.jsonl"
    done
  done
done
[ -f "$WORK/results.jsonl" ] && python3 - "$WORK/results.jsonl" "$RATE" << 'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
for n in sorted({r["subscribers"] for r in runs}):
    cell = [r for r in runs if r["subscribers"] == n]
    cpu = {c: statistics.median(r["hub_cpu_us_per_token"] for r in cell if r["database"] == c) for c in ("with", "without")}
    p99 = {c: statistics.median(r["latency_ms_p99"] for r in cell if r["database"] == c) for c in ("with", "without")}
    print(f"{n} subscribers at {sys.argv[2]} tokens/s, medians: CPU µs/token with {cpu['with']:.2f}, "
          f"without {cpu['without']:.2f} ({(cpu['with'] - cpu['without']) / cpu['without'] * 100:+.1f}%); "
          f"p99 with {p99['with']:.0f} ms, without {p99['without']:.0f} ms")
PY
echo "== session posts, ${POST_SECONDS} s each" >&2
echo "with a database:    $(TOKENBUS_URL=http://127.0.0.1:8093 node bench/session-posts.mjs "$POST_SECONDS" 32)"
echo "without a database: $(TOKENBUS_URL=http://127.0.0.1:8094 node bench/session-posts.mjs "$POST_SECONDS" 32)"

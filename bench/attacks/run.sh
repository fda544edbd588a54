#!/usr/bin/env bash
# The attacks of issue 14 against real nodes (java -Xmx512m -jar target/tokenbus.jar, plain
# processes on 127.0.0.1), each on a fresh node, then tenant isolation on a two-node cluster.
# Writes one JSON line per attack to $OUT; docs/ATTACKS.md reads them. Builds nothing: run
# `mvn -q -B -DskipTests package` first. Needs Node 18+ and the JDK's jcmd. About 15 minutes.
#
#   bench/attacks/run.sh                                  # every attack
#   ATTACKS="slowloris malformed" ISOLATION=no bench/attacks/run.sh
#   ATTACKS= bench/attacks/run.sh                       # only tenant isolation on two nodes
#   NODE_ENV="TOKENBUS_GENERATION_RETENTION_SECONDS=5" ATTACKS=huge-generations bench/attacks/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

ATTACKS=${ATTACKS-"huge-generations large-prompts full-sessions slowloris slow-streams upstream-endless-event ping-flood malformed"}
ISOLATION=${ISOLATION:-yes}
OUT=${OUT:-bench/results/$(date -u +%F)-attacks.jsonl}
PORT=${PORT:-8180}
UPSTREAM_PORT=${UPSTREAM_PORT:-9780}
# An operator giving a node 512 MiB of heap lowers what it keeps of finished generations (256 MiB by default).
RETAINED_BYTES=${RETAINED_BYTES:-67108864}
WORK=$(mktemp -d /tmp/tokenbus-attacks.XXXXXX)
[ -f target/tokenbus.jar ] || { echo "target/tokenbus.jar is missing: mvn -q -B -DskipTests package" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
: > "$OUT"

PIDS=()

export TOKENBUS_API_KEYS=acme:sk-acme-1234567890abcdef,globex:sk-globex-1234567890abcdef
export TOKENBUS_GENERATION_MAX_RETAINED_BYTES=$RETAINED_BYTES
export OPENAI_BASE_URL=http://127.0.0.1:$UPSTREAM_PORT/v1 OPENAI_API_KEY=x

# start_node <log> <env assignments...>: starts a node, waits for its start-up line, sets NODE.
start_node() {
  local log=$1
  shift
  # shellcheck disable=SC2086 # NODE_ENV is a list of NAME=value words
  env ${NODE_ENV:-} "$@" java -Xmx512m -jar target/tokenbus.jar > "$log" 2>&1 &
  NODE=$!
  PIDS+=("$NODE")
  for _ in $(seq 1 600); do
    grep -q "tokenbus listening" "$log" && return 0
    kill -0 "$NODE" 2> /dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "node did not start in 60 s: $log" >&2
  return 1
}

# SIGTERM, then SIGKILL after 10 s (a node out of memory may never finish shutting down).
stop_node() {
  kill "$1" 2> /dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$1" 2> /dev/null || break; sleep 0.1; done
  kill -9 "$1" 2> /dev/null || true
  wait "$1" 2> /dev/null || true
}

cleanup() {
  for pid in "${PIDS[@]}"; do stop_node "$pid"; done
}
trap cleanup EXIT
trap 'exit 143' INT TERM

echo "machine: $(nproc) cores, $(java -version 2>&1 | head -1), node $(node --version), ulimit -n $(ulimit -n)" >&2
for attack in $ATTACKS; do
  extra=()
  # 26,000 session requests would take the attacker over four minutes at its 6,000 a minute: this
  # run is about the node's bounds, so the rate limit is raised and the mock made fast for it.
  [ "$attack" = full-sessions ] && extra=(TOKENBUS_LIMITS_REQUESTS_PER_MINUTE=1000000 TOKENBUS_MOCK_TOKENS_PER_SECOND=100000)
  echo "== $attack" >&2
  start_node "$WORK/$attack.log" TOKENBUS_HTTP_PORT="$PORT" "${extra[@]}"
  NODE_ULIMIT_N=$(awk '/Max open files/ {print $4}' "/proc/$NODE/limits") \
    node bench/attacks/attacks.mjs "$attack" --pid "$NODE" --port "$PORT" --upstream-port "$UPSTREAM_PORT" | tee -a "$OUT" >&2
  if ! kill -0 "$NODE" 2> /dev/null; then
    echo "!! the node died during $attack; its log's last lines:" >&2
    tail -20 "$WORK/$attack.log" >&2
  fi
  grep -E "OutOfMemoryError|ERROR" "$WORK/$attack.log" | head -5 >&2 || true
  stop_node "$NODE"
done

if [ "$ISOLATION" = yes ]; then
  echo "== tenant-isolation (two-node cluster)" >&2
  SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  # The attacker's tenant has a rate limit it will exceed (a second's worth at once, then 20 a
  # second); the victim keeps the defaults (6,000 a minute), well above its own pace.
  cat > "$WORK/isolation.yaml" <<YAML
limits:
  tenants:
    acme:
      requests-per-minute: ${CLUSTER_RPM:-1200}
      requests-burst: ${CLUSTER_BURST:-20}
YAML
  cluster=(TOKENBUS_CLUSTER=true TOKENBUS_CLUSTER_SECRET="$SECRET"
    TOKENBUS_CLUSTER_NAME="attacks-$RANDOM$RANDOM"
    TOKENBUS_CLUSTER_MEMBERS=127.0.0.1:5781,127.0.0.1:5782
    TOKENBUS_CONFIG="$WORK/isolation.yaml")
  start_node "$WORK/node1.log" "${cluster[@]}" TOKENBUS_HTTP_PORT=8181 TOKENBUS_CLUSTER_PORT=5781
  first=$NODE
  start_node "$WORK/node2.log" "${cluster[@]}" TOKENBUS_HTTP_PORT=8182 TOKENBUS_CLUSTER_PORT=5782
  second=$NODE
  node bench/attacks/isolation.mjs --ports 8181,8182 --pids "$first,$second" | tee -a "$OUT" >&2
  stop_node "$second"
  stop_node "$first"
fi
echo "results: $OUT; node logs: $WORK" >&2

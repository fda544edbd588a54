#!/usr/bin/env bash
# Starts the docker-compose topology as plain processes on this machine: three clustered tokenbus
# nodes (HTTP 8081-8083, Hazelcast 5701-5703) and, if nginx is installed, nginx on 8080 in front
# of them with deploy/nginx.conf (WITH_NGINX=no leaves it out). Needs target/tokenbus.jar
# (mvn -q -B package -DskipTests). Every node listens on 127.0.0.1 unless TOKENBUS_HTTP_HOST says
# otherwise, and takes the rest of its configuration from the environment (OPENAI_BASE_URL, ...).
# Stop everything with Ctrl-C (or SIGTERM).
# The durable history, as compose's postgres service: WITH_POSTGRES=yes starts a PostgreSQL of the
# script's own (Debian's postgresql package; data in the run's temporary directory, port 55432) and
# points the nodes at it; or set TOKENBUS_DATABASE_URL to a server of yours.
set -euo pipefail
cd "$(dirname "$0")/.."
jar=target/tokenbus.jar
[ -f "$jar" ] || { echo "build first: mvn -q -B package -DskipTests" >&2; exit 1; }
run=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$run"; }
trap cleanup EXIT INT TERM

if [ "${WITH_POSTGRES:-no}" = yes ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  [ -x "$bin/initdb" ] || { echo "WITH_POSTGRES=yes needs PostgreSQL: apt-get install -y postgresql" >&2; exit 1; }
  as_pg=(); [ "$(id -u)" = 0 ] && { chown postgres "$run"; as_pg=(runuser -u postgres --); }
  password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s\n' "$password" > "$run/pw"; [ "$(id -u)" = 0 ] && chown postgres "$run/pw"
  "${as_pg[@]}" "$bin/initdb" -D "$run/pg" -U tokenbus --pwfile="$run/pw" --auth-host=scram-sha-256 \
    --auth-local=trust -E UTF8 --locale=C > "$run/pg-init.log"
  "${as_pg[@]}" "$bin/pg_ctl" -D "$run/pg" -w -l "$run/pg.log" -o "-k $run -p 55432 -c listen_addresses=127.0.0.1" start > /dev/null
  "${as_pg[@]}" "$bin/createdb" -h "$run" -p 55432 -U tokenbus tokenbus
  cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true
    "${as_pg[@]}" "$bin/pg_ctl" -D "$run/pg" -m fast stop > /dev/null 2>&1 || true; rm -rf "$run"; }
  export TOKENBUS_DATABASE_URL=postgresql://tokenbus@127.0.0.1:55432/tokenbus TOKENBUS_DATABASE_PASSWORD=$password
  echo "postgres: $TOKENBUS_DATABASE_URL (data in $run/pg, removed on exit)"
fi

members=127.0.0.1:5701,127.0.0.1:5702,127.0.0.1:5703
# The nodes' shared secret: yours if TOKENBUS_CLUSTER_SECRET is set, else a fresh one per run.
export TOKENBUS_CLUSTER_SECRET=${TOKENBUS_CLUSTER_SECRET:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}
for i in 1 2 3; do
  TOKENBUS_HTTP_HOST=${TOKENBUS_HTTP_HOST:-127.0.0.1} TOKENBUS_HTTP_PORT=$((8080 + i)) TOKENBUS_CLUSTER=true TOKENBUS_CLUSTER_NAME=${TOKENBUS_CLUSTER_NAME:-tokenbus-local} \
  TOKENBUS_CLUSTER_HOST=127.0.0.1 TOKENBUS_CLUSTER_PORT=$((5700 + i)) TOKENBUS_CLUSTER_MEMBERS=$members \
    bin/tokenbus > "$run/node-$i.log" 2>&1 &
  pids+=($!)
  # One after another: a node joins an existing cluster faster than three form one together.
  until grep -q "tokenbus listening" "$run/node-$i.log"; do
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$run/node-$i.log"; exit 1; }
    sleep 0.2
  done
  echo "node $i: http://127.0.0.1:$((8080 + i))  (pid ${pids[-1]}, log $run/node-$i.log)"
done

if [ "${WITH_NGINX:-yes}" != no ] && command -v nginx > /dev/null; then
  sed -e 's/tokenbus-\([123]\):8080/127.0.0.1:808\1/' -e "s|^events {|pid $run/nginx.pid;\nerror_log $run/nginx-error.log;\nevents {|" \
    -e "s|^http {|http {\n  access_log off;\n  client_body_temp_path $run;\n  proxy_temp_path $run;|" deploy/nginx.conf > "$run/nginx.conf"
  nginx -c "$run/nginx.conf" -g 'daemon off;' &
  pids+=($!)
  echo "nginx: http://127.0.0.1:8080 -> nodes 8081-8083"
fi
wait

#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for the test suite (PITFALLS.md #26) and print
#   export TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
# on stdout (everything else goes to stderr). With an argument, the URL is also written to that file.
#
# Idempotent: a server that already accepts `postgres` on 127.0.0.1:PORT (default 55432) is
# reused; if the port is taken by anything else, the next free port is used. Installs the Debian
# package when no initdb is found. Exits non-zero when no server could be started.
#
#   line=$(bash .ci/start-postgres.sh) && eval "$line"
set -euo pipefail

port=${CASEFLOW_PG_PORT:-55432}
url_file=${1:-}
[ -z "$url_file" ] || [[ "$url_file" = /* ]] || url_file="$PWD/$url_file"
log() { echo "start-postgres: $*" >&2; }

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

if [ -z "$(find_bin)" ]; then
  log "installing postgresql (apt-get)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends postgresql >&2
fi
PGBIN=$(find_bin)
[ -x "$PGBIN/initdb" ] || { log "no initdb found under /usr/lib/postgresql/*/bin"; exit 1; }

# Run as the postgres user when we are root (initdb and pg_ctl refuse root).
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
usable() {  # a PostgreSQL server that lets `postgres` in (the timeout: anything else may not answer)
  PGCONNECT_TIMEOUT=3 timeout 10 "$PGBIN/psql" -h 127.0.0.1 -p "$1" -U postgres -d postgres -Atqc 'select 1' \
    >/dev/null 2>&1
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

emit() {
  local url="postgresql+psycopg://postgres@127.0.0.1:$1/postgres"
  [ -z "$url_file" ] || printf '%s\n' "$url" >"$url_file"
  printf 'export TEST_DATABASE_URL=%s\n' "$url"
}

for _ in $(seq 1 20); do
  if usable "$port"; then
    log "reusing the server on 127.0.0.1:$port"
    emit "$port"
    exit 0
  fi
  port_open "$port" || break
  log "port $port is taken by something else; trying $((port + 1))"
  port=$((port + 1))
done
port_open "$port" && { log "no free port found"; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/caseflow-pg.XXXXXX")
[ "$(id -u)" != 0 ] || chown postgres: "$dir"
cd "$dir"  # the postgres user may not be able to read the caller's directory
log "initdb in $dir/data"
as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
log "starting on 127.0.0.1:$port (log: $dir/log)"
if ! as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" >&2; then
  cat "$dir/log" >&2 || true
  exit 1
fi
for _ in $(seq 1 60); do
  if usable "$port"; then
    emit "$port"
    exit 0
  fi
  sleep 0.5
done
log "the server did not become ready"; cat "$dir/log" >&2 || true
exit 1

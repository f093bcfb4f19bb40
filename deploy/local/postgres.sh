#!/usr/bin/env bash
# Start a throwaway PostgreSQL on 127.0.0.1 for tests (installing Debian's package if missing); print its URL.
# Usage: deploy/local/postgres.sh [start|stop]. Settings: MCE_PG_PORT (55432), MCE_PG_DIR (/tmp/mce-pg),
# MCE_PG_KEEP (0; 1 restarts the cluster already in MCE_PG_DIR instead of making a new one: `make up-real` keeps its data).
set -euo pipefail
port="${MCE_PG_PORT:-55432}"
dir="${MCE_PG_DIR:-/tmp/mce-pg}"
db="mce_test"
log() { echo "[postgres] $*" >&2; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

if [ -z "$(pg_bin)" ]; then
  if [ "$(id -u)" != 0 ]; then log "PostgreSQL is not installed; run: sudo apt-get install -y postgresql"; exit 1; fi
  log "installing Debian's postgresql package"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
bin="$(pg_bin)"

# initdb refuses to run as root, so as root the cluster belongs to the postgres user.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ "${1:-start}" = "stop" ]; then
  as_owner "$bin/pg_ctl" -D "$dir" stop -m fast >&2 || true
  exit 0
fi

if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
  if [ "${MCE_PG_KEEP:-0}" != 1 ] || [ ! -f "$dir/PG_VERSION" ]; then
    # Not running: start from a new cluster, so a stale lock file or half-written data from a killed run cannot stop us.
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
    log "initdb in $dir"
    as_owner "$bin/initdb" -D "$dir" -U postgres -A trust --no-sync >/dev/null
  fi
  log "starting on 127.0.0.1:$port"
  # fsync off: a test database trades durability for speed; never copy these flags to production.
  as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start \
    -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >&2
fi
if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
  "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db"
fi
echo "postgresql://postgres@127.0.0.1:$port/$db"

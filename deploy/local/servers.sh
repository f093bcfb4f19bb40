#!/usr/bin/env bash
# Start (or stop) the real backing servers on loopback, all at once where they do not depend on one another, and
# print their endpoints as NAME=value lines (also kept in $local_dir/servers.env): what `make up-real` runs the
# platform on and what `make test` runs the real-backend tests against.
# Usage: deploy/local/servers.sh [start|stop|reset] [names...] (reset = stop and remove their data, keeping the
# download cache); names: postgres kafka mirrormaker opensearch moto azurite
# (all by default). Logs: stderr, and each server's own under $local_dir/<name>.
# Settings: MCE_PG_PORT, MCE_PG_DIR, MCE_PG_KEEP (see postgres.sh), and each script's own.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"

ALL=(postgres kafka opensearch moto azurite mirrormaker)
action="${1:-start}"
names=("${@:2}")
[ "${#names[@]}" -gt 0 ] || names=("${ALL[@]}")
for name in "${names[@]}"; do [ -x "$here/$name.sh" ] || die "unknown server $name (known: ${ALL[*]})"; done

# postgres.sh prints a URL; the platform reads the design's RDS_* names, the tests the URL.
postgres_lines() {
  local url="$1" rest hostport
  rest="${url#*://}"; rest="${rest#*@}"; hostport="${rest%%/*}"
  echo "POSTGRES_URL=$url"
  echo "RDS_HOST=${hostport%%:*}"
  echo "RDS_PORT=${hostport##*:}"
  echo "RDS_USER=postgres"
}

run_one() {
  local name="$1" out="$2"
  if [ "$name" = postgres ]; then
    local url; url="$("$here/postgres.sh" start)" || return 1
    postgres_lines "$url" >"$out"
  else
    "$here/$name.sh" start >"$out"
  fi
}

wanted() { local n; for n in "${names[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }

case "$action" in
  start)
    work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
    declare -A pids=()
    started=$(date +%s)
    # MirrorMaker bridges the two Kafka clusters, so it starts once they are up; the rest start side by side.
    for name in "${ALL[@]}"; do
      wanted "$name" && [ "$name" != mirrormaker ] || continue
      run_one "$name" "$work/$name.env" &
      pids[$name]=$!
    done
    failed=()
    for name in "${!pids[@]}"; do wait "${pids[$name]}" || failed+=("$name"); done
    if wanted mirrormaker && [ "${#failed[@]}" -eq 0 ]; then run_one mirrormaker "$work/mirrormaker.env" || failed+=(mirrormaker); fi
    [ "${#failed[@]}" -eq 0 ] || die "these did not start: ${failed[*]} (their logs are above and under $local_dir)"
    cat "$work"/*.env >"$work/all"
    (umask 077; cp "$work/all" "$local_dir/servers.env")
    log "ready in $(( $(date +%s) - started )) s: ${names[*]}"
    cat "$work/all"
    ;;
  stop)
    # In the reverse order of their dependencies: the bridge before the clusters it reads.
    for name in mirrormaker azurite moto opensearch kafka postgres; do
      wanted "$name" || continue
      "$here/$name.sh" stop || log "$name did not stop cleanly"
    done
    ;;
  reset)
    "$0" stop "${names[@]}"
    for name in "${names[@]}"; do
      case "$name" in
        postgres) rm -rf "${MCE_PG_DIR:-/tmp/mce-pg}" ;;
        kafka) rm -rf "$local_dir/kafka/msk" "$local_dir/kafka/eventhubs" ;;
        *) rm -rf "${local_dir:?}/${name:?}" ;;
      esac
    done
    ;;
  *) die "usage: $0 [start|stop|reset] [names...]" ;;
esac

#!/usr/bin/env bash
# moto 5 in server mode on 127.0.0.1: the DynamoDB, S3 and SQS endpoint of the real backends (an emulator, in memory).
# Usage: deploy/local/moto.sh [start|stop]. Prints AWS_ENDPOINT_URL=... on stdout; logs under $local_dir/moto.
# Settings: MCE_MOTO_PORT (15000). moto_server comes from the project's virtualenv (make install-dev).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port="${MCE_MOTO_PORT:-15000}"
dir="$local_dir/moto"
pidfile="$dir/moto.pid"
logfile="$dir/moto.log"
url="http://127.0.0.1:$port"
server="$repo/.venv/bin/moto_server"

# Readiness: moto answers HTTP (its dashboard's JSON of the in-memory state), not merely a bound port.
# Plain bash over /dev/tcp, so the script needs no curl.
answers() {
  local status
  status="$( (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
    timeout 2 head -n 1 <&3) 2>/dev/null || true)"
  [[ "$status" == "HTTP/1."?" 200"* ]]
}

case "${1:-start}" in
  stop)
    stop_daemon "$pidfile" 10
    exit 0
    ;;
  start) ;;
  *) die "usage: $0 [start|stop]" ;;
esac

if running "$pidfile" && answers; then
  log "already running on $url (PID $(cat "$pidfile"))"
  echo "AWS_ENDPOINT_URL=$url"
  exit 0
fi
[ -x "$server" ] || die "$server is missing: run 'make install-dev' first (moto[server] is a dev dependency)"
stop_daemon "$pidfile" 5
mkdir -p "$dir"
log "starting moto on $url (log: $logfile)"
start_daemon "$pidfile" "$logfile" "$server" -H 127.0.0.1 -p "$port"
waited=0
until answers; do
  if ! running "$pidfile" || [ "$waited" -ge 300 ]; then
    log "moto did not answer on $url; the end of its log:"
    tail -n 30 "$logfile" >&2 || true
    stop_daemon "$pidfile" 2
    exit 1
  fi
  sleep 0.1; waited=$((waited + 1))
done
log "ready on $url"
echo "AWS_ENDPOINT_URL=$url"

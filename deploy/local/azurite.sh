#!/usr/bin/env bash
# Azurite, the Azure Storage emulator, on 127.0.0.1 as the Azure side's Table and Blob storage (the analytics Function's
# windows table and its latest.json); prints the connection string the Azure SDK and the Function read.
# Usage: deploy/local/azurite.sh [start|stop]. Installs npm's azurite@3.37.0 into the download cache once (it runs on
# Node 20 with an engine warning). Data and log under $local_dir/azurite/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

version="3.37.0"
blob_port=10000
queue_port=10001
table_port=10002
dir="$local_dir/azurite"
pidfile="$dir/azurite.pid"
logfile="$dir/azurite.log"
install="$downloads/azurite-$version"
bin="$install/node_modules/.bin/azurite"
# The emulator's one well-known development account and key (public, in Microsoft's documentation; not a secret).
account="devstoreaccount1"
key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

connection_string() {
  echo "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName=$account;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$blob_port/$account;QueueEndpoint=http://127.0.0.1:$queue_port/$account;TableEndpoint=http://127.0.0.1:$table_port/$account;"
}

# Whether the endpoint on this port answers HTTP at all (any status: without a signature Azurite says 403 or 400).
answers() { [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/$account?comp=list")" != "000" ]; }
healthy() { answers "$blob_port" && answers "$table_port"; }

if [ "${1:-start}" = "stop" ]; then
  # Azurite ignores SIGTERM, so the grace before SIGKILL is short; its data is written as it goes.
  stop_daemon "$pidfile" 2
  exit 0
fi

if running "$pidfile" && healthy; then
  log "already running (PID $(cat "$pidfile"))"
  connection_string
  exit 0
fi
stop_daemon "$pidfile" 2

if [ ! -x "$bin" ]; then
  command -v npm >/dev/null || die "npm is needed to install Azurite; run: apt-get install -y nodejs npm"
  log "installing azurite@$version from npm into $install"
  rm -rf "$install"
  npm install --prefix "$install" --no-audit --no-fund --loglevel=error "azurite@$version" >&2 \
    || die "npm could not install azurite@$version"
fi

mkdir -p "$dir/data"
log "starting on 127.0.0.1 (blob $blob_port, queue $queue_port, table $table_port)"
# --silent: no access log; --skipApiVersionCheck: the SDK may be newer than the emulator; --loose: ignore headers
# Azurite does not implement instead of refusing the request.
start_daemon "$pidfile" "$logfile" "$bin" --silent --loose --skipApiVersionCheck --location "$dir/data" \
  --blobHost 127.0.0.1 --blobPort "$blob_port" --queueHost 127.0.0.1 --queuePort "$queue_port" \
  --tableHost 127.0.0.1 --tablePort "$table_port"
pid="$(cat "$pidfile")"
for port in "$blob_port" "$table_port"; do
  if ! wait_port 127.0.0.1 "$port" 60 "$pid"; then
    log "Azurite did not start; the end of $logfile:"
    tail -n 30 "$logfile" >&2
    stop_daemon "$pidfile" 2
    exit 1
  fi
done
waited=0
until healthy; do
  if [ "$waited" -ge 100 ] || ! kill -0 "$pid" 2>/dev/null; then
    log "Azurite does not answer HTTP; the end of $logfile:"
    tail -n 30 "$logfile" >&2
    stop_daemon "$pidfile" 2
    exit 1
  fi
  sleep 0.1; waited=$((waited + 1))
done
log "ready (PID $pid)"
connection_string

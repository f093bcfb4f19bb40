#!/usr/bin/env bash
# Run a single-node OpenSearch on 127.0.0.1 (the minimal distribution from Maven Central, no security plugin) for the
# search index; print OPENSEARCH_ENDPOINT. Usage: deploy/local/opensearch.sh [start|stop].
# Data, logs and its config copy live in $local_dir/opensearch; it runs as the unprivileged local user (it refuses root)
# on a JDK of 21 or newer, with a 512 MB heap. Settings: MCE_OPENSEARCH_HEAP (512m).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

version="3.8.0"
http_port=19200
transport_port=19300
heap="${MCE_OPENSEARCH_HEAP:-512m}"
home="$downloads/opensearch-$version"
dir="$local_dir/opensearch"
pidfile="$dir/opensearch.pid"
logfile="$dir/logs/console.log"
endpoint="http://127.0.0.1:$http_port"

healthy() { curl -fsS -m 5 "$endpoint/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; }

if [ "${1:-start}" = "stop" ]; then
  stop_daemon "$pidfile" 30
  exit 0
fi

if running "$pidfile" && healthy; then
  echo "OPENSEARCH_ENDPOINT=$endpoint"
  exit 0
fi
running "$pidfile" && stop_daemon "$pidfile" 30

if [ ! -x "$home/bin/opensearch" ]; then
  maven_fetch "$downloads/opensearch-$version-zip" "org.opensearch.distribution.integ-test-zip:opensearch:$version:zip"
  log "unpacking OpenSearch $version"
  rm -rf "$home.tmp" && mkdir -p "$home.tmp"
  unzip -q "$downloads/opensearch-$version-zip/opensearch-$version.zip" -d "$home.tmp"
  mv "$home.tmp/opensearch-$version" "$home" && rm -rf "$home.tmp"
  # Maven's cache keeps the zip; this copy of it is not needed again.
  rm -rf "$downloads/opensearch-$version-zip"
fi
java_home="$(java_home_at_least 21)" || die "OpenSearch $version needs a JDK of 21 or newer (none in JAVA_HOME, PATH or /usr/lib/jvm)"

ensure_local_user
# A fresh copy of the stock config each start, so a changed script or a half-written keystore never lingers.
mkdir -p "$dir/data" "$dir/logs"
rm -rf "$dir/config" && cp -r "$home/config" "$dir/config"
cat >"$dir/config/opensearch.yml" <<EOF
cluster.name: mce-local
node.name: mce-local-1
discovery.type: single-node
network.host: 127.0.0.1
http.port: $http_port
transport.port: $transport_port
path.data: $dir/data
path.logs: $dir/logs
# A nearly full laptop disk must not turn the index read-only under the tests.
cluster.routing.allocation.disk.threshold_enabled: false
EOF
# jvm.options names its GC log, error file and heap dumps relative to the install, which is not ours to write.
sed -i -e "s|=data\$|=$dir/data|" -e "s|logs/|$dir/logs/|g" "$dir/config/jvm.options"
if [ "$(id -u)" = 0 ]; then chown -R "$LOCAL_USER" "$dir"; fi

log "starting OpenSearch $version on $endpoint (JDK $java_home, heap $heap)"
runner=()
if [ "$(id -u)" = 0 ]; then runner=(runuser -u "$LOCAL_USER" --); fi
start_daemon "$pidfile" "$logfile" "${runner[@]}" env \
  OPENSEARCH_JAVA_HOME="$java_home" OPENSEARCH_PATH_CONF="$dir/config" \
  OPENSEARCH_JAVA_OPTS="-Xms$heap -Xmx$heap" "$home/bin/opensearch"

waited=0
until healthy; do
  if ! running "$pidfile" || [ "$waited" -ge 180 ]; then
    log "OpenSearch did not become healthy; the end of its logs:"
    tail -n 40 "$logfile" >&2 || true
    tail -n 40 "$dir/logs/mce-local.log" >&2 2>/dev/null || true
    stop_daemon "$pidfile" 10
    exit 1
  fi
  sleep 1; waited=$((waited + 1))
done
log "OpenSearch is up (cluster health yellow or green)"
echo "OPENSEARCH_ENDPOINT=$endpoint"

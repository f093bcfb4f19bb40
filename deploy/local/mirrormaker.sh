#!/usr/bin/env bash
# MirrorMaker 2 in dedicated mode on Java 17: copies `user-events` from the msk cluster into the Event Hubs side's
# `events` hub (and each namespaced `user-events.<name>` into `events.<name>`, which tests use), with the Event Hubs
# client settings (SASL PLAIN, username `$ConnectionString`). Needs deploy/local/kafka.sh's clusters and jars.
# Usage: deploy/local/mirrormaker.sh [start|stop|restart|status] (status: exit 0 when it runs). Ready when a probe
# message sent to msk has been read back from the Event Hubs side. Prints MCE_EVENTHUBS_EVENTS_HUB.
# Config, compiled classes and logs: $local_dir/mirrormaker.
# Settings: KAFKA_BOOTSTRAP (127.0.0.1:19092), EVENTHUBS_BOOTSTRAP (127.0.0.1:19094), EVENTHUBS_CONNECTION_STRING
# (kafka.sh's), MCE_EVENTHUBS_SECURITY_PROTOCOL (SASL_PLAINTEXT here; SASL_SSL for Azure), MCE_USER_EVENTS_TOPIC
# (user-events), MCE_EVENTHUBS_EVENTS_HUB (events), MCE_MIRROR_HEAP (256m), MCE_MIRROR_REFRESH_S (2: how soon a new
# topic is mirrored).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

home="$local_dir/mirrormaker"
lib="$local_dir/kafka/lib"
sources="$repo/deploy/mirrormaker/src"
heap="${MCE_MIRROR_HEAP:-256m}"
refresh="${MCE_MIRROR_REFRESH_S:-2}"
source_bootstrap="${KAFKA_BOOTSTRAP:-127.0.0.1:19092}"
target_bootstrap="${EVENTHUBS_BOOTSTRAP:-127.0.0.1:19094}"
protocol="${MCE_EVENTHUBS_SECURITY_PROTOCOL:-SASL_PLAINTEXT}"
from_topic="${MCE_USER_EVENTS_TOPIC:-user-events}"
to_hub="${MCE_EVENTHUBS_EVENTS_HUB:-events}"
probe_topic="mce.mirror.probe"

java_home() { java_home_exactly 17 || die "MirrorMaker runs here on Java 17 (with javac); run: apt-get install -y openjdk-17-jdk-headless"; }

connection_string() {
  if [ -n "${EVENTHUBS_CONNECTION_STRING:-}" ]; then echo "$EVENTHUBS_CONNECTION_STRING"; return; fi
  [ -s "$local_dir/kafka/eventhubs-connection-string" ] ||
    die "EVENTHUBS_CONNECTION_STRING is not set and deploy/local/kafka.sh has not made one"
  cat "$local_dir/kafka/eventhubs-connection-string"
}

# Our ReplicationPolicy and probe, compiled once per source and JDK into a directory keyed on both.
compile() {
  local jh="$1" key classes
  key="$( { cat "$sources"/mce/mirror/*.java; "$jh/bin/javac" -version 2>&1; } | sha256sum | cut -c1-16)"
  classes="$home/classes-$key"
  if [ ! -f "$classes/.compiled" ]; then
    [ -x "$jh/bin/javac" ] || die "no javac in $jh; run: apt-get install -y openjdk-17-jdk-headless"
    log "compiling deploy/mirrormaker's policy and probe"
    rm -rf "$home"/classes-*
    mkdir -p "$classes"
    "$jh/bin/javac" -nowarn -d "$classes" -cp "$lib/*" "$sources"/mce/mirror/*.java >&2
    touch "$classes/.compiled"
  fi
  echo "$classes"
}

# The Event Hubs client settings, each line prefixed with $1 (a cluster alias and a dot, or nothing).
target_client() {
  local prefix="$1" secret
  secret="$(connection_string)"
  echo "${prefix}bootstrap.servers=$target_bootstrap"
  echo "${prefix}security.protocol=$protocol"
  echo "${prefix}sasl.mechanism=PLAIN"
  echo "${prefix}sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"\$ConnectionString\" password=\"$secret\";"
}

write_config() {
  local escaped
  mkdir -p "$home/logs"
  # A topic regex for MirrorMaker: the topic itself and its namespaced copies.
  escaped="$(printf '%s' "$from_topic" | sed 's/[.]/\\./g')"
  (
    umask 077
    {
      echo "clusters=msk, eventhubs"
      echo "msk.bootstrap.servers=$source_bootstrap"
      target_client "eventhubs."
      cat "$repo/deploy/mirrormaker/replication.properties"
      echo "msk->eventhubs.topics=$escaped, $escaped\\..*, ${probe_topic//./\\.}"
      echo "replication.policy.topic.renames=$from_topic:$to_hub"
      echo "refresh.topics.interval.seconds=$refresh"
      for setting in replication.factor offset-syncs.topic.replication.factor heartbeats.topic.replication.factor \
        checkpoints.topic.replication.factor config.storage.replication.factor offset.storage.replication.factor \
        status.storage.replication.factor; do
        echo "$setting=1"
      done
    } >"$home/mm2.properties"
    echo "bootstrap.servers=$source_bootstrap" >"$home/probe-source.properties"
    target_client "" >"$home/probe-target.properties"
  )
  cat >"$home/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $home/logs/mirrormaker.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.common.name = org.apache.kafka.common
logger.common.level = WARN
EOF
}

probe() {
  local jh="$1" classes="$2" timeout="$3"
  "$jh/bin/java" -Xmx64m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$home/log4j2.properties" \
    -cp "$classes:$lib/*" mce.mirror.MirrorProbe \
    "$home/probe-source.properties" "$home/probe-target.properties" "$probe_topic" "$timeout"
}

start() {
  local jh classes
  [ -d "$lib" ] || die "no Kafka jars in $lib; run deploy/local/kafka.sh start first"
  jh="$(java_home)"
  classes="$(compile "$jh")"
  if running "$home/pid"; then
    write_config
    probe "$jh" "$classes" 60 || die "MirrorMaker runs (PID $(cat "$home/pid")) but the probe did not cross"
    return 0
  fi
  write_config
  log "starting MirrorMaker 2: $source_bootstrap $from_topic -> $target_bootstrap $to_hub"
  : >"$home/logs/mirrormaker.log"
  start_daemon "$home/pid" "$home/logs/stdout.log" "$jh/bin/java" -Xms"$heap" -Xmx"$heap" -XX:+UseSerialGC \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$home/log4j2.properties" \
    -cp "$classes:$lib/*" org.apache.kafka.connect.mirror.MirrorMaker "$home/mm2.properties"
  if ! probe "$jh" "$classes" 120 || ! running "$home/pid"; then
    log "MirrorMaker did not start copying; the end of its logs:"
    tail -n 40 "$home/logs/mirrormaker.log" "$home/logs/stdout.log" >&2 || true
    stop_daemon "$home/pid" 10
    exit 1
  fi
}

case "${1:-start}" in
  start) start; echo "MCE_EVENTHUBS_EVENTS_HUB=$to_hub" ;;
  stop) stop_daemon "$home/pid" 20 ;;
  status) running "$home/pid" ;;
  restart) stop_daemon "$home/pid" 20; "$0" start ;;
  *) die "usage: $0 [start|stop|restart|status]" ;;
esac

#!/bin/sh
# MirrorMaker 2 in dedicated mode: MSK `user-events` -> the Event Hubs hub `events` (deploy/local/mirrormaker.sh runs
# the same locally). Writes its config under /tmp (the root filesystem is read-only) from the environment, then execs
# Java. Given a properties file (Kubernetes mounts one from a ConfigMap), it runs that file instead.
# Settings: KAFKA_BOOTSTRAP, MCE_KAFKA_SECURITY_PROTOCOL (SASL_SSL), MCE_KAFKA_SASL_MECHANISM (SCRAM-SHA-512),
# MCE_KAFKA_SASL_USERNAME, MCE_KAFKA_SASL_PASSWORD, EVENTHUBS_BOOTSTRAP, EVENTHUBS_CONNECTION_STRING,
# MCE_EVENTHUBS_SECURITY_PROTOCOL (SASL_SSL), MCE_USER_EVENTS_TOPIC (user-events), MCE_EVENTHUBS_EVENTS_HUB (events),
# MCE_MIRROR_REPLICATION_FACTOR (3), MCE_MIRROR_HEAP (256m), MCE_MIRROR_HOME (/tmp/mirrormaker, where the config goes).
set -eu
home="${MCE_MIRROR_HOME:-/tmp/mirrormaker}"
shared="${MCE_MIRROR_REPLICATION_PROPERTIES:-/opt/mirrormaker/replication.properties}"
from_topic="${MCE_USER_EVENTS_TOPIC:-user-events}"
to_hub="${MCE_EVENTHUBS_EVENTS_HUB:-events}"
factor="${MCE_MIRROR_REPLICATION_FACTOR:-3}"
source_protocol="${MCE_KAFKA_SECURITY_PROTOCOL:-SASL_SSL}"
escaped="$(printf '%s' "$from_topic" | sed 's/[.]/\\./g')"
heap="${MCE_MIRROR_HEAP:-256m}"
run() {
  exec java -Xms"$heap" -Xmx"$heap" -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile=/opt/mirrormaker/log4j2.properties \
    -cp "/opt/mirrormaker/classes:/opt/mirrormaker/lib/*" org.apache.kafka.connect.mirror.MirrorMaker "$1"
}
if [ "$#" -gt 0 ]; then
  [ -r "$1" ] || { echo "mirrormaker: cannot read $1" >&2; exit 2; }
  run "$1"
fi
mkdir -p "$home"
umask 077
{
  echo "clusters=msk, eventhubs"
  echo "msk.bootstrap.servers=${KAFKA_BOOTSTRAP:?KAFKA_BOOTSTRAP is not set}"
  echo "msk.security.protocol=$source_protocol"
  case "$source_protocol" in
    SASL_*)
      echo "msk.sasl.mechanism=${MCE_KAFKA_SASL_MECHANISM:-SCRAM-SHA-512}"
      echo "msk.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"${MCE_KAFKA_SASL_USERNAME:-}\" password=\"${MCE_KAFKA_SASL_PASSWORD:-}\";"
      ;;
  esac
  echo "eventhubs.bootstrap.servers=${EVENTHUBS_BOOTSTRAP:?EVENTHUBS_BOOTSTRAP is not set}"
  echo "eventhubs.security.protocol=${MCE_EVENTHUBS_SECURITY_PROTOCOL:-SASL_SSL}"
  echo "eventhubs.sasl.mechanism=PLAIN"
  echo "eventhubs.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"\$ConnectionString\" password=\"${EVENTHUBS_CONNECTION_STRING:-}\";"
  cat "$shared"
  echo "msk->eventhubs.topics=$escaped, $escaped\\..*"
  echo "replication.policy.topic.renames=$from_topic:$to_hub"
  for setting in replication.factor offset-syncs.topic.replication.factor heartbeats.topic.replication.factor \
    checkpoints.topic.replication.factor config.storage.replication.factor offset.storage.replication.factor \
    status.storage.replication.factor; do
    echo "$setting=$factor"
  done
} >"$home/mm2.properties"
run "$home/mm2.properties"

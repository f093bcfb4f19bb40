#!/usr/bin/env bash
# Two single-node Kafka clusters in KRaft mode on loopback, from Maven Central's jars on Java 17:
#   msk        plays Amazon MSK: PLAINTEXT on 127.0.0.1:19092 (controller :19093)
#   eventhubs  plays Azure Event Hubs' Kafka endpoint: SASL_PLAINTEXT with PLAIN on 127.0.0.1:19094 (controller :19095),
#              username `$ConnectionString`, the password an Event Hubs style connection string (anything else refused)
#   scratch    a throwaway plaintext cluster on 127.0.0.1:19096 (controller :19097) that tests stop and start to see
#              an outage, so the shared two are never disturbed; only started when named
# Usage: deploy/local/kafka.sh [start|stop|restart] [msk|eventhubs|scratch] (msk and eventhubs when none is named).
# Prints KAFKA_BOOTSTRAP, EVENTHUBS_BOOTSTRAP and EVENTHUBS_CONNECTION_STRING (for scratch alone: KAFKA_BOOTSTRAP
# with its port). Data and logs: $local_dir/kafka/<cluster>.
# Settings: MCE_KAFKA_HEAP (512m), MCE_KAFKA_PARTITIONS (3: a topic's partitions when a client creates it implicitly).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KAFKA_VERSION=4.1.1
LOG4J_VERSION=2.24.3
home="$local_dir/kafka"
lib="$home/lib"
heap="${MCE_KAFKA_HEAP:-512m}"
partitions="${MCE_KAFKA_PARTITIONS:-3}"

port_of() {
  case "$1" in
    msk) echo 19092 ;; eventhubs) echo 19094 ;; scratch) echo 19096 ;;
    *) die "unknown cluster $1 (msk, eventhubs or scratch)" ;;
  esac
}

fetch_jars() {
  # connect-runtime and connect-mirror are MirrorMaker 2's, fetched with the broker so that one version serves both.
  maven_fetch "$lib" \
    "org.apache.kafka:kafka_2.13:$KAFKA_VERSION" "org.apache.kafka:kafka-tools:$KAFKA_VERSION" \
    "org.apache.kafka:connect-runtime:$KAFKA_VERSION" "org.apache.kafka:connect-mirror:$KAFKA_VERSION" \
    "org.apache.logging.log4j:log4j-slf4j-impl:$LOG4J_VERSION"
}

java_bin() {
  local jh
  jh="$(java_home_exactly 17)" || die "Kafka $KAFKA_VERSION runs here on Java 17; run: apt-get install -y openjdk-17-jre-headless"
  echo "$jh/bin/java"
}

# The Event Hubs side's shared access key, made once and kept (mode 600) so clients and restarts agree.
connection_string() {
  local file="$home/eventhubs-connection-string" key
  if [ ! -s "$file" ]; then
    mkdir -p "$home"
    key="$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
    (umask 077; echo "Endpoint=sb://127.0.0.1:19094/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=$key" >"$file.tmp")
    mv "$file.tmp" "$file"
  fi
  cat "$file"
}

write_config() {
  local cluster="$1" dir="$home/$1" port controller
  port="$(port_of "$cluster")"; controller=$((port + 1))
  mkdir -p "$dir/data" "$dir/logs"
  {
    echo "process.roles=broker,controller"
    echo "node.id=1"
    echo "controller.quorum.voters=1@127.0.0.1:$controller"
    echo "controller.listener.names=CONTROLLER"
    echo "log.dirs=$dir/data"
    echo "num.partitions=$partitions"
    echo "auto.create.topics.enable=true"
    echo "offsets.topic.replication.factor=1"
    echo "offsets.topic.num.partitions=3"
    echo "transaction.state.log.replication.factor=1"
    echo "transaction.state.log.min.isr=1"
    echo "share.coordinator.state.topic.replication.factor=1"
    echo "share.coordinator.state.topic.min.isr=1"
    # One member joining a group need not wait 3 s for others: tests and restarts start consuming at once.
    echo "group.initial.rebalance.delay.ms=0"
    echo "log.retention.hours=168"
    if [ "$cluster" != eventhubs ]; then
      echo "listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller"
      echo "advertised.listeners=PLAINTEXT://127.0.0.1:$port"
      echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
      echo "inter.broker.listener.name=PLAINTEXT"
    else
      local secret; secret="$(connection_string)"
      echo "listeners=SASL_PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller"
      echo "advertised.listeners=SASL_PLAINTEXT://127.0.0.1:$port"
      echo "listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"
      echo "inter.broker.listener.name=SASL_PLAINTEXT"
      echo "sasl.enabled.mechanisms=PLAIN"
      echo "sasl.mechanism.inter.broker.protocol=PLAIN"
      # Event Hubs' one account: username $ConnectionString, password the namespace's connection string.
      echo "listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"\$ConnectionString\" password=\"$secret\" user_\$ConnectionString=\"$secret\";"
    fi
  } >"$dir/server.properties.tmp"
  chmod 600 "$dir/server.properties.tmp"
  mv "$dir/server.properties.tmp" "$dir/server.properties"
  cat >"$dir/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $dir/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
EOF
}

start_cluster() {
  local cluster="$1" dir="$home/$1" java port
  port="$(port_of "$cluster")"
  if running "$dir/pid"; then return 0; fi
  java="$(java_bin)"
  write_config "$cluster"
  if [ ! -f "$dir/data/meta.properties" ]; then
    local id; id="$("$java" -cp "$lib/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    log "formatting $cluster's storage (cluster $id)"
    "$java" -cp "$lib/*" -Dlog4j2.configurationFile="$dir/log4j2.properties" kafka.tools.StorageTool format \
      -t "$id" -c "$dir/server.properties" --ignore-formatted >/dev/null
  fi
  log "starting $cluster on 127.0.0.1:$port"
  : >"$dir/logs/server.log"
  start_daemon "$dir/pid" "$dir/logs/stdout.log" "$java" -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    -cp "$lib/*" kafka.Kafka "$dir/server.properties"
}

# Ready when the broker logs that it started (the port opens earlier, before it can serve metadata).
await_cluster() {
  local cluster="$1" dir="$home/$1" waited=0
  until grep -q "Kafka Server started" "$dir/logs/server.log" 2>/dev/null; do
    if ! running "$dir/pid" || [ "$waited" -ge 900 ]; then
      log "$cluster did not start; the end of its logs:"
      tail -n 30 "$dir/logs/server.log" "$dir/logs/stdout.log" >&2 || true
      exit 1
    fi
    sleep 0.1; waited=$((waited + 1))
  done
  wait_port 127.0.0.1 "$(port_of "$cluster")" 10
}

print_endpoints() {
  if [ "${clusters[*]}" = scratch ]; then
    echo "KAFKA_BOOTSTRAP=127.0.0.1:$(port_of scratch)"
    return
  fi
  echo "KAFKA_BOOTSTRAP=127.0.0.1:19092"
  echo "EVENTHUBS_BOOTSTRAP=127.0.0.1:19094"
  echo "EVENTHUBS_CONNECTION_STRING=$(connection_string)"
}

action="${1:-start}"
clusters=("${@:2}")
[ "${#clusters[@]}" -gt 0 ] || clusters=(msk eventhubs)
for cluster in "${clusters[@]}"; do port_of "$cluster" >/dev/null; done

case "$action" in
  start)
    fetch_jars
    for cluster in "${clusters[@]}"; do start_cluster "$cluster"; done
    for cluster in "${clusters[@]}"; do await_cluster "$cluster"; done
    print_endpoints
    ;;
  stop)
    for cluster in "${clusters[@]}"; do stop_daemon "$home/$cluster/pid" 30; done
    ;;
  restart)
    for cluster in "${clusters[@]}"; do stop_daemon "$home/$cluster/pid" 30; done
    "$0" start "${clusters[@]}"
    ;;
  *) die "usage: $0 [start|stop|restart] [msk|eventhubs|scratch]..." ;;
esac

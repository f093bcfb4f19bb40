#!/usr/bin/env bash
# Fetch Flink's Kafka SQL connector (a shaded jar, Kafka client included) from Maven Central into the download cache
# and print its path as MCE_FLINK_KAFKA_JAR, the setting the stream job's Kafka mode reads. Fast once cached.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CONNECTOR=org.apache.flink:flink-sql-connector-kafka:5.0.0-2.2
dir="$downloads/flink-kafka"
maven_fetch "$dir" "$CONNECTOR"
jar="$dir/flink-sql-connector-kafka-5.0.0-2.2.jar"
[ -s "$jar" ] || die "Maven fetched $CONNECTOR but $jar is not there"
echo "MCE_FLINK_KAFKA_JAR=$jar"

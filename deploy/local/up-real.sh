#!/usr/bin/env bash
# `make up-real`: start the real servers on loopback from empty (the download cache stays), then every service on
# them with the settings in deploy/local/real.env, and print the URLs. Ctrl-C stops the platform, then the servers.
# moto keeps DynamoDB and S3 in memory, so a platform kept across runs would point at carts and images that are gone:
# each run starts from empty servers instead, like a fresh cloud account.
# Settings: MCE_DATA_DIR (<repo>/.mce/real), MCE_PG_PORT (15432), and every setting of the services (see README).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"

export MCE_PG_DIR="$local_dir/postgres" MCE_PG_PORT="${MCE_PG_PORT:-15432}" MCE_PG_KEEP=0
export MCE_DATA_DIR="${MCE_DATA_DIR:-$repo/.mce/real}"

"$here/servers.sh" reset
trap 'log "stopping the servers…"; "$here/servers.sh" stop' EXIT
endpoints="$("$here/servers.sh" start)"
flink_python="$("$here/flink-env.sh")"
flink_jar="$("$here/flink-kafka.sh")"

set -a
while IFS='=' read -r name value; do [ -n "$name" ] && printf -v "$name" '%s' "$value"; done <<<"$endpoints
$flink_jar"
# shellcheck source=/dev/null
source "$here/real.env"
export MCE_FLINK_PYTHON="$flink_python"
set +a
rm -rf "$MCE_DATA_DIR"
"$repo/.venv/bin/mce" up

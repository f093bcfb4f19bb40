#!/usr/bin/env bash
# What `make test` runs: start the test servers (the real backends, Chromium, PyFlink's environment), then run every
# test with their endpoints exported as MCE_TEST_<NAME>. The deployment checkers build meanwhile, at the lowest CPU
# priority so the timed tests keep the machine, and the deployment tests run last, once they are there.
# Arguments go to both pytest runs (e.g. -x, -k name).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
venv="${UV_PROJECT_ENVIRONMENT:-.venv}"
mkdir -p .mce

# apt is used by one script at a time: shellcheck now, Chromium below, then the Go builds go to the background.
deploy/check/tools.sh shellcheck >/dev/null
nice -n 19 deploy/check/tools.sh >.mce/deploy-tools.out 2>.mce/deploy-tools.log &
tools_pid=$!
trap 'kill "$tools_pid" 2>/dev/null || true' EXIT

deploy/local/servers.sh reset
servers="$(deploy/local/servers.sh start)"
chromium="$(deploy/local/chromium.sh)"
flink_python="$(deploy/local/flink-env.sh)"
flink_jar="$(deploy/local/flink-kafka.sh)"
checkov="$(deploy/check/checkov.sh)"
eval "$(sed -E "s/^([A-Z_]+)=(.*)$/export MCE_TEST_\1='\2'/" <<<"$servers")"
export MCE_FLINK_KAFKA_JAR="${flink_jar#*=}" MCE_CHROMIUM="$chromium" MCE_FLINK_PYTHON="$flink_python"
export MCE_CHECKOV="$checkov" MCE_REQUIRE_TEST_SERVERS=1

status=0
"$venv/bin/pytest" -m "not deploy" "$@" || status=$?

echo "[test] waiting for the deployment checkers (log: .mce/deploy-tools.log)" >&2
if ! wait "$tools_pid"; then
  tail -n 30 .mce/deploy-tools.log >&2
  echo "[test] building the deployment checkers failed" >&2
  exit 1
fi
trap - EXIT
# The API server's dry run (etcd and kube-apiserver, another ~6 minutes of building on a fresh machine) is left to
# `make deploy-check`, which keeps a fresh machine's `make test` under 30 minutes.
MCE_DEPLOY_TOOLS_BIN="$(tail -n 1 .mce/deploy-tools.out)" "$venv/bin/pytest" -m "deploy and not apiserver" "$@" || status=$?
exit "$status"

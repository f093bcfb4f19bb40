#!/usr/bin/env bash
# Build PyFlink's own virtual environment (.venv-flink) from deploy/flink/requirements.txt, with Java 17 for its JVM;
# print the path of a python that runs Flink jobs (the venv's python with JAVA_HOME set). Logs go to stderr.
# Fast when nothing changed: a stamp keyed on the requirements, the python and the JVM skips the install.
# Settings: MCE_FLINK_VENV (<repo>/.venv-flink), MCE_FLINK_BASE_PYTHON (python3.11), JAVA_HOME (searched if unset).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${MCE_FLINK_VENV:-$repo/.venv-flink}"
requirements="$repo/deploy/flink/requirements.txt"
log() { echo "[flink-env] $*" >&2; }

is_java17() { [ -x "$1/bin/java" ] && "$1/bin/java" -version 2>&1 | head -n 1 | grep -q '"17\.'; }

find_java17() {
  local candidates=("${JAVA_HOME:-}")
  if command -v java >/dev/null; then candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"); fi
  candidates+=(/usr/lib/jvm/*17*)
  for home in "${candidates[@]}"; do
    if [ -n "$home" ] && is_java17 "$home"; then readlink -f "$home"; return 0; fi
  done
  return 1
}

if ! java_home="$(find_java17)"; then
  if [ "$(id -u)" != 0 ]; then log "Java 17 not found; run: sudo apt-get install -y openjdk-17-jre-headless"; exit 1; fi
  log "installing Debian's openjdk-17-jre-headless package"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >&2
  java_home="$(find_java17)"
fi

base_python="${MCE_FLINK_BASE_PYTHON:-python3.11}"
if ! command -v "$base_python" >/dev/null; then
  if python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then base_python=python3
  else log "PyFlink 2.2 needs CPython 3.11 here; set MCE_FLINK_BASE_PYTHON"; exit 1; fi
fi
base_python="$(command -v "$base_python")"

runner="$venv/bin/flink-python"
stamp_key="$( { cat "$requirements" "$0"; "$base_python" -VV; echo "$java_home"; } | sha256sum | cut -c1-16)"
stamp="$venv/.installed-$stamp_key"
if [ -f "$stamp" ] && [ -x "$runner" ]; then
  echo "$runner"
  exit 0
fi

# Anything else in the directory is a different or half-built environment: start again so the pins are exact.
log "creating $venv with $("$base_python" -V) and Java 17 at $java_home"
rm -rf "$venv"
"$base_python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements" >&2
"$venv/bin/python" -m pip check >&2
cat >"$runner" <<EOF
#!/bin/sh
# .venv-flink's python with the JVM PyFlink starts; written by deploy/local/flink-env.sh.
JAVA_HOME='$java_home'
export JAVA_HOME
exec '$venv/bin/python' "\$@"
EOF
chmod +x "$runner"
"$runner" -c 'import pyflink.version; print("[flink-env] PyFlink", pyflink.version.__version__)' >&2
touch "$stamp"
echo "$runner"

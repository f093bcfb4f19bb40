# shellcheck shell=bash
# Shared by the scripts that run the real backing servers on loopback: where data and downloads live, fetching from
# Maven Central, starting and stopping a daemon by its PID file, waiting for a port. Source it; it defines, never runs.
# Settings: MCE_LOCAL_DIR (<repo>/.mce/local) holds each server's data and the download cache (kept between runs).

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
local_dir="${MCE_LOCAL_DIR:-$repo/.mce/local}"
downloads="$local_dir/downloads"
mkdir -p "$downloads"

log() { echo "[$(basename "$0" .sh)] $*" >&2; }
die() { log "$*"; exit 1; }

# A JDK home whose major version is at least $1 (17, 21, ...), searching JAVA_HOME, the java on PATH and Debian's JVMs.
java_home_at_least() {
  local want="$1" home major
  local candidates=("${JAVA_HOME:-}")
  if command -v java >/dev/null; then candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"); fi
  candidates+=(/usr/lib/jvm/*)
  for home in "${candidates[@]}"; do
    [ -n "$home" ] && [ -x "$home/bin/java" ] || continue
    major="$("$home/bin/java" -version 2>&1 | head -n 1 | sed -E 's/.*version "([0-9]+).*/\1/')"
    if [ "${major:-0}" -ge "$want" ] 2>/dev/null; then readlink -f "$home"; return 0; fi
  done
  return 1
}

# The JDK home of exactly major version $1, for servers that are only known to work on it (Kafka on 17).
java_home_exactly() {
  local want="$1" home
  for home in "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [ -n "$home" ] && [ -x "$home/bin/java" ] || continue
    if "$home/bin/java" -version 2>&1 | head -n 1 | grep -q "\"$want\."; then readlink -f "$home"; return 0; fi
  done
  return 1
}

# Copy Maven artifacts and everything they depend on into directory $1 (once; a stamp keyed on the list skips it).
# Each further argument is group:artifact:version[:type[:classifier]]. Maven's cache lives under the download cache.
maven_fetch() {
  local dest="$1"; shift
  local key stamp pom dep g a v type classifier
  key="$(printf '%s\n' "$@" | sha256sum | cut -c1-16)"
  stamp="$dest/.fetched-$key"
  [ -f "$stamp" ] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch $*; run: apt-get install -y maven"
  rm -rf "$dest"; mkdir -p "$dest"
  pom="$(mktemp -d)/pom.xml"
  {
    echo '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
    echo '<groupId>mce.local</groupId><artifactId>fetch</artifactId><version>1</version><dependencies>'
    for dep in "$@"; do
      IFS=: read -r g a v type classifier <<<"$dep"
      echo "<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version>"
      [ -n "$type" ] && echo "<type>$type</type>"
      [ -n "$classifier" ] && echo "<classifier>$classifier</classifier>"
      echo "</dependency>"
    done
    echo '</dependencies></project>'
  } >"$pom"
  log "fetching $* from Maven Central"
  mvn -q -B -f "$pom" -Dmaven.repo.local="$downloads/m2" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$dest" >&2 || die "Maven could not fetch $*"
  rm -rf "$(dirname "$pom")"
  touch "$stamp"
}

# Wait until something listens on host $1 port $2, up to $3 seconds (default 60); the optional $4 is a PID that must
# stay alive meanwhile (a server that died will never listen).
wait_port() {
  local host="$1" port="$2" timeout="${3:-60}" pid="${4:-}" waited=0
  until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
    if [ -n "$pid" ] && ! alive "$pid"; then return 1; fi
    [ "$waited" -ge $((timeout * 10)) ] && return 1
    sleep 0.1; waited=$((waited + 1))
  done
}

# Whether process $1 is alive: a zombie (dead, not yet reaped by an init that reaps slowly) is not.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)"
  [ "$state" != Z ]
}

# Whether the process in PID file $1 is alive.
running() { [ -f "$1" ] && alive "$(cat "$1")"; }

# Start a command in its own session, its output to log file $2, its PID into file $1; the rest is the command.
start_daemon() {
  local pidfile="$1" logfile="$2"; shift 2
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
  setsid nohup "$@" >>"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# Stop the process group in PID file $1: SIGTERM, then SIGKILL after $2 seconds (default 10) if it is still there.
stop_daemon() {
  local pidfile="$1" grace="${2:-10}" pid waited=0
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  if alive "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    while alive "$pid" && [ "$waited" -lt $((grace * 10)) ]; do sleep 0.1; waited=$((waited + 1)); done
    if alive "$pid"; then
      log "PID $pid ignored SIGTERM for ${grace}s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

# Servers that refuse root (OpenSearch) run as this unprivileged system user, made on first use.
LOCAL_USER="${MCE_LOCAL_USER:-mce-local}"
ensure_local_user() {
  [ "$(id -u)" = 0 ] || return 0
  id "$LOCAL_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$LOCAL_USER"
}

# Run a command as the unprivileged user when we are root, else as ourselves.
as_local_user() { if [ "$(id -u)" = 0 ]; then runuser -u "$LOCAL_USER" -- "$@"; else "$@"; fi; }

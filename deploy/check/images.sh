#!/usr/bin/env bash
# `make images`: build every container image and run its health check, offline from Docker Hub.
# Starts a dockerd of its own (data root .mce/docker, its own socket and pidfile; stopped at the end unless
# KEEP_DOCKERD=1), makes stand-in base images with debootstrap + `docker import` (Debian bookworm, whose python3 is
# 3.11 like python:3.11-slim-bookworm), builds each image with --build-arg BASE_IMAGE=<stand-in>, then runs each
# container with --network none, a read-only root filesystem and a tmpfs /tmp, and waits for its HEALTHCHECK to say
# healthy. Prints a table: image, size, health, seconds. Exits non-zero when a build fails or an image is not healthy.
# Usage: deploy/check/images.sh [name ...]  (default: every image). Needs root (dockerd, debootstrap) and apt/PyPI/
# Maven Central. Settings: KEEP_DOCKERD=1, REBUILD_BASE=1 (make the stand-ins again), MCE_IMAGES_NETWORK (bridge or
# host: the build's network; default: bridge when a probe container reaches PyPI through it, else host),
# HEALTH_TIMEOUT_S (240), IMAGE_TAG (local). Its state (images and build cache, about 10 GB for all of them) stays in
# .mce/docker for the next run; `make clean` removes it.
set -euo pipefail
repo="${MCE_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}"
state="${MCE_DOCKER_DIR:-$repo/.mce/docker}"
tag="${IMAGE_TAG:-local}"
health_timeout="${HEALTH_TIMEOUT_S:-240}"
SERVICES=(frontend product cart order search events-producer analytics image-processor)
ALL=("${SERVICES[@]}" stream mirrormaker)
MIRROR=http://deb.debian.org/debian
# The host's CA bundle, handed to builds as the secret `ca` (pip, uv) and trusted by the Java build stand-in (Maven):
# this machine reaches PyPI and Maven Central through a TLS-inspecting proxy.
ca_bundle="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"

log() { echo "images: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root: it starts dockerd and runs debootstrap"
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null || [ ! -x /usr/bin/docker ]; then
  log "installing docker.io and debootstrap from apt"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io debootstrap iptables >&2
fi
# Debian's client (20.10) builds with BuildKit by itself; a newer client without the buildx plugin cannot.
docker_bin=/usr/bin/docker
export DOCKER_HOST="unix://$state/docker.sock" DOCKER_BUILDKIT=1
docker() { "$docker_bin" "$@"; }

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=("${ALL[@]}")
for name in "${wanted[@]}"; do
  [[ " ${ALL[*]} " == *" $name "* ]] || die "unknown image $name (one of: ${ALL[*]})"
done

# --- dockerd ---------------------------------------------------------------------------------------------------
started=""
made_bridge=""
# shellcheck disable=SC2317  # the EXIT trap runs it
stop_dockerd() {
  [ -n "$started" ] || return 0
  [ "${KEEP_DOCKERD:-0}" = 1 ] && { log "dockerd left running: DOCKER_HOST=$DOCKER_HOST"; return 0; }
  local pid
  pid="$(cat "$state/dockerd.pid" 2>/dev/null || true)"
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  if [ -n "$made_bridge" ]; then ip link delete mce-docker0 2>/dev/null || true; fi
}
trap stop_dockerd EXIT

start_dockerd() {
  mkdir -p "$state"
  if docker version >/dev/null 2>&1; then log "using the dockerd already on $DOCKER_HOST"; return; fi
  log "starting dockerd (data root $state/data)"
  # Its own bridge name and subnet, so it never collides with another dockerd on this machine.
  if ! ip link show mce-docker0 >/dev/null 2>&1; then
    if ! { ip link add mce-docker0 type bridge && ip addr add 10.231.0.1/24 dev mce-docker0 &&
      ip link set mce-docker0 up; }; then
      log "could not make the bridge mce-docker0; builds will use --network host"
    else
      made_bridge=1
    fi
  fi
  local bridge=(--bridge none)
  ip link show mce-docker0 >/dev/null 2>&1 && bridge=(--bridge mce-docker0)
  setsid dockerd --data-root "$state/data" --exec-root "$state/exec" --pidfile "$state/dockerd.pid" \
    --host "$DOCKER_HOST" --containerd-namespace mce-images --containerd-plugins-namespace mce-images-plugins \
    "${bridge[@]}" >"$state/dockerd.log" 2>&1 < /dev/null &
  started=1
  for _ in $(seq 1 60); do docker version >/dev/null 2>&1 && return; sleep 1; done
  tail -n 30 "$state/dockerd.log" >&2
  die "dockerd did not answer on $DOCKER_HOST"
}

# --- stand-in bases --------------------------------------------------------------------------------------------
have_image() { [ "${REBUILD_BASE:-0}" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }

make_base() {
  have_image mce-base:bookworm && return
  local root="$state/rootfs-bookworm"
  log "debootstrap --variant=minbase bookworm (python3 is 3.11 there)"
  rm -rf "$root"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$MIRROR" >&2
  # Where python:3.11-slim has it, and no apt lists or caches in the image.
  ln -sf /usr/bin/python3.11 "$root/usr/local/bin/python3.11"
  ln -sf /usr/bin/python3 "$root/usr/local/bin/python3"
  ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/* "$root"/tmp/*
  tar -C "$root" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["python3"]' \
    - mce-base:bookworm >/dev/null
  rm -rf "$root"
}

# The Java stand-ins: Debian's OpenJDK 17 on the same base (the real ones are eclipse-temurin / flink images).
# With trust=1 it also trusts the host's extra CAs (/usr/local/share/ca-certificates): only the Maven build stage's
# stand-in, never an image that ships.
make_java_base() {
  local image="$1" packages="$2" trust="${3:-}" context
  have_image "$image" && return
  log "making $image ($packages)"
  context="$(mktemp -d)"
  mkdir "$context/ca"
  if [ -n "$trust" ]; then cp /usr/local/share/ca-certificates/*.crt "$context/ca/" 2>/dev/null || true; fi
  printf '%s\n' "FROM mce-base:bookworm" "COPY ca/ /usr/local/share/ca-certificates/" \
    "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages \
&& update-ca-certificates && rm -rf /var/lib/apt/lists/* /var/cache/apt/*" >"$context/Dockerfile"
  docker build --network "$network" -t "$image" "$context" >&2
  rm -rf "$context"
}

choose_network() {
  if [ -n "${MCE_IMAGES_NETWORK:-}" ]; then network="$MCE_IMAGES_NETWORK"; return; fi
  network=host
  if docker run --rm --network bridge mce-base:bookworm python3 -c \
    "import socket; socket.create_connection(('pypi.org', 443), timeout=10).close()" >/dev/null 2>&1; then
    network=default  # BuildKit's name for its default (bridged) network
  fi
  log "builds use --network $network"
}

# --- builds ----------------------------------------------------------------------------------------------------
build() {
  local name="$1" revision
  revision="$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)"
  local args=(--network "$network" --secret "id=ca,src=$ca_bundle" --build-arg "REVISION=$revision"
    --build-arg "VERSION=${revision:0:7}")
  case "$name" in
    stream) args+=(-f deploy/docker/Dockerfile.stream --build-arg FLINK_IMAGE=mce-jre:bookworm) ;;
    mirrormaker) args+=(-f deploy/docker/Dockerfile.mirrormaker --build-arg BUILD_IMAGE=mce-jdk:bookworm
      --build-arg JRE_IMAGE=mce-jre:bookworm) ;;
    *) args+=(-f deploy/docker/Dockerfile --build-arg "SERVICE=$name" --build-arg BASE_IMAGE=mce-base:bookworm) ;;
  esac
  log "building $name:$tag"
  (cd "$repo" && docker build "${args[@]}" -t "$name:$tag" . >"$state/build-$name.log" 2>&1)
}

# --- health ----------------------------------------------------------------------------------------------------
# Runs the container as Kubernetes will (read-only root, /tmp writable, no capabilities) but with no network at all,
# and waits for Docker's health status. Prints "health seconds".
check() {
  local name="$1" container="mce-images-check-$1" status="starting" t0 now
  docker rm -f "$container" >/dev/null 2>&1 || true
  local run=(--detach --name "$container" --network none --read-only --tmpfs "/tmp:rw,mode=1777,size=512m"
    --cap-drop ALL --security-opt no-new-privileges -e MCE_ENV=local)
  local command=()
  case "$name" in
    # Kafka on loopback, where nothing listens: MirrorMaker starts, retries, and must stay up.
    mirrormaker) run+=(-e KAFKA_BOOTSTRAP=127.0.0.1:9092 -e EVENTHUBS_BOOTSTRAP=127.0.0.1:9093
      -e MCE_KAFKA_SECURITY_PROTOCOL=PLAINTEXT -e MCE_EVENTHUBS_SECURITY_PROTOCOL=SASL_PLAINTEXT) ;;
    # The Flink image's process is Flink's (the operator's jobmanager/taskmanager); here the health check runs beside
    # a placeholder process. check_stream_job below runs the job itself.
    stream) run+=(--entrypoint sleep); command=(infinity) ;;
  esac
  t0=$(date +%s)
  docker run "${run[@]}" "$name:$tag" "${command[@]}" >/dev/null
  while :; do
    now=$(date +%s)
    if [ "$(docker inspect -f '{{.State.Running}}' "$container")" != true ]; then status="exited"; break; fi
    status="$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$container")"
    [ "$status" = healthy ] || [ "$status" = unhealthy ] || [ "$status" = none ] && break
    [ $((now - t0)) -ge "$health_timeout" ] && { status="timeout"; break; }
    sleep 1
  done
  if [ "$status" = healthy ] && docker logs "$container" 2>&1 | grep -qE 'ClassNotFoundException|NoClassDefFoundError|ModuleNotFoundError'; then
    status="broken"
  fi
  docker logs "$container" >"$state/run-$name.log" 2>&1 || true
  if [ "$status" != healthy ]; then
    log "$name is $status; the end of its log ($state/run-$name.log):"
    tail -n 25 "$state/run-$name.log" >&2
    docker inspect -f '{{json .State.Health}}' "$container" >&2 || true
  fi
  docker rm -f "$container" >/dev/null 2>&1 || true
  echo "$status $(($(date +%s) - t0))"
}

# The stream image's real work, offline: the job runs in the image's own Flink (PyFlink's bundled one on the stand-in)
# over a stream test vector, with the read-only root and no network, and must give the vector's windows. Prints ok or
# failed. (--network none leaves the container's hostname unresolvable; Flink needs it, Kubernetes provides it.)
check_stream_job() {
  local case="$repo/tests/vectors/stream/in_order" got
  got="$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        print(json.dumps({"type": "UserActivityRecorded", "data": json.loads(line)}))
' "$case/events.jsonl" | docker run -i --rm --network none --hostname stream --add-host stream:127.0.0.1 --read-only \
    --tmpfs "/tmp:rw,mode=1777" --cap-drop ALL --security-opt no-new-privileges --entrypoint /bin/sh "stream:$tag" -c \
    'mkdir -p /tmp/in /tmp/out && cat >/tmp/in/events.jsonl && python -m mce.stream.flink_job --input /tmp/in \
      --output /tmp/out >/tmp/job.log 2>&1 || { tail -n 30 /tmp/job.log >&2; exit 1; }
     find /tmp/out -type f ! -name ".*" -exec cat {} +')" || { echo failed; return; }
  python3 -c '
import json, sys
got = sorted((json.loads(line)["data"] for line in sys.stdin if line.strip()), key=lambda w: w["window_start"])
expected = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
sys.exit(0 if got == expected else 1)
' "$case/expected.jsonl" <<<"$got" && echo ok || echo failed
}

start_dockerd
make_base
choose_network
need_java=""
for name in "${wanted[@]}"; do [[ "$name" == stream || "$name" == mirrormaker ]] && need_java=1; done
if [ -n "$need_java" ]; then
  make_java_base mce-jre:bookworm "openjdk-17-jre-headless"
  [[ " ${wanted[*]} " == *" mirrormaker "* ]] && make_java_base mce-jdk:bookworm "openjdk-17-jdk-headless maven ca-certificates-java" trust
fi

failed=0
rows=()
for name in "${wanted[@]}"; do
  t0=$(date +%s)
  if ! build "$name"; then
    log "build of $name failed; the end of $state/build-$name.log:"
    tail -n 30 "$state/build-$name.log" >&2
    rows+=("$name:$tag - build-failed $(($(date +%s) - t0)) -")
    failed=1
    continue
  fi
  built=$(($(date +%s) - t0))
  size="$(docker image inspect -f '{{.Size}}' "$name:$tag" | awk '{printf "%.0fMB", $1/1000000}')"
  read -r health seconds < <(check "$name")
  if [ "$name" = stream ] && [ "$health" = healthy ]; then
    [ "$(check_stream_job)" = ok ] && health="healthy+job" || health="job-failed"
  fi
  [[ "$health" == healthy* ]] || failed=1
  rows+=("$name:$tag $size $health $seconds $built")
done

# Images an earlier run tagged and this one replaced; the build cache stays (later runs take seconds).
docker image prune -f >/dev/null || true
printf '%-24s %8s %10s %10s %8s\n' IMAGE SIZE HEALTH HEALTHY_S BUILD_S
for row in "${rows[@]}"; do
  # shellcheck disable=SC2086
  printf '%-24s %8s %10s %10s %8s\n' $row
done
exit "$failed"

#!/usr/bin/env bash
# Build the deployment checkers from the Go module proxy into .tools/deploy/bin (once per version), install
# Debian's shellcheck, and print the bin folder. Usage: tools.sh [name...] (default: every tool make test needs;
# `tools.sh etcd kube` adds the API server that make deploy-check also runs).
# Each build uses a throwaway Go build cache, dropped afterwards: kube-apiserver's alone grows past 10 GB.
# `tools.sh shellcheck` only installs shellcheck (apt), so the Go builds can run beside other apt users.
# Settings: MCE_DEPLOY_TOOLS (<repo>/.tools/deploy) is where the binaries go.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools_dir="${MCE_DEPLOY_TOOLS:-$repo/.tools/deploy}"
bin="$tools_dir/bin"
mkdir -p "$bin"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

log() { echo "[deploy-tools] $*" >&2; }

KUSTOMIZE=v5.8.1
KUBECONFORM=v0.8.0
ACTIONLINT=v1.7.12
TFLINT=v0.61.0
CONFTEST=v0.70.1
OPENTOFU=v1.10.10
TRIVY=v0.74.0
PROMETHEUS=v0.316.0
ETCD=v3.7.3
KUBERNETES=v1.34.4

# Run "$@" with a fresh Go build cache that is removed afterwards, whatever happens.
with_scratch_cache() {
  local cache status=0
  cache="$(mktemp -d)"
  GOCACHE="$cache" "$@" || status=$?
  rm -rf "$cache"
  return "$status"
}

# go install one main package at a version, under the name $1.
install_module() {
  local name="$1" package="$2" version="$3"; shift 3
  GOBIN="$bin" with_scratch_cache env "$@" go install -trimpath -ldflags="-s -w" "$package@$version"
}

# Build main packages from a throwaway wrapper module: $1 the go.mod body, then package@version=name pairs (a bare
# `go get package` would take the module's newest version, not the one go.mod requires).
# Modules whose own go.mod has replace lines (OpenTofu, Kubernetes, etcd) only build this way.
build_in_wrapper() {
  local gomod="$1"; shift
  local work pair package
  work="$(mktemp -d)"
  printf '%s\n' "$gomod" >"$work/go.mod"
  (
    cd "$work"
    for pair in "$@"; do go get "${pair%%=*}" >&2; done
    for pair in "$@"; do
      package="${pair%%=*}"
      with_scratch_cache go build -trimpath -ldflags="-s -w ${LDFLAGS_EXTRA:-}" -o "$bin/${pair#*=}" "${package%@*}"
    done
  )
  rm -rf "$work"
}

build_kustomize() { install_module kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE"; }
build_kubeconform() { install_module kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM"; }
build_actionlint() { install_module actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT"; }
build_tflint() { install_module tflint github.com/terraform-linters/tflint "$TFLINT"; }
build_conftest() { install_module conftest github.com/open-policy-agent/conftest "$CONFTEST"; }
# trivy's own go.mod asks for the JSON v2 experiment.
build_trivy() { install_module trivy github.com/aquasecurity/trivy/cmd/trivy "$TRIVY" GOEXPERIMENT=jsonv2; }
build_promtool() { install_module promtool github.com/prometheus/prometheus/cmd/promtool "$PROMETHEUS"; }

build_tofu() {
  build_in_wrapper "module mce.local/tofu
go 1.24
require github.com/opentofu/opentofu $OPENTOFU
replace github.com/hashicorp/hcl/v2 v2.20.1 => github.com/opentofu/hcl/v2 v2.20.2-0.20251021132045-587d123c2828" \
    "github.com/opentofu/opentofu/cmd/tofu@$OPENTOFU=tofu"
}

build_etcd() {
  local work
  work="$(mktemp -d)"
  printf 'module mce.local/etcd\ngo 1.24\n' >"$work/go.mod"
  printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' \
    >"$work/main.go"
  (cd "$work" && go get "go.etcd.io/etcd/server/v3@$ETCD" >&2 && go mod tidy >&2 &&
    with_scratch_cache go build -trimpath -ldflags="-s -w" -o "$bin/etcd" .)
  rm -rf "$work"
}

# kube-apiserver and kubectl from k8s.io/kubernetes, whose staging modules are replaced by their published twins.
build_kube() {
  local minor="v0${KUBERNETES#v1}" mod replaces
  mod="$(curl -fsS "https://proxy.golang.org/k8s.io/kubernetes/@v/$KUBERNETES.mod")"
  replaces="$(sed -nE 's#^\s*(k8s\.io/[a-z0-9-]+) => \./staging/.*#replace \1 => \1 '"$minor"'#p' <<<"$mod")"
  LDFLAGS_EXTRA="-X k8s.io/component-base/version.gitVersion=$KUBERNETES -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor#v0.}" \
    build_in_wrapper "module mce.local/kube
go 1.24
require k8s.io/kubernetes $KUBERNETES
$replaces" \
    "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES=kube-apiserver" "k8s.io/kubernetes/cmd/kubectl@$KUBERNETES=kubectl"
}

version_of() {
  case "$1" in
    kustomize) echo "$KUSTOMIZE" ;; kubeconform) echo "$KUBECONFORM" ;; actionlint) echo "$ACTIONLINT" ;;
    tflint) echo "$TFLINT" ;; conftest) echo "$CONFTEST" ;; tofu) echo "$OPENTOFU" ;; trivy) echo "$TRIVY" ;;
    promtool) echo "$PROMETHEUS" ;; etcd) echo "$ETCD" ;; kube) echo "$KUBERNETES" ;;
    *) log "unknown tool $1"; exit 2 ;;
  esac
}

ensure() {
  local name="$1" stamp started
  stamp="$tools_dir/.built-$name-$(version_of "$name")"
  [ -f "$stamp" ] && return 0
  command -v go >/dev/null || { log "Go is needed to build $name"; exit 1; }
  log "building $name $(version_of "$name") (once)"
  started=$SECONDS
  "build_$name"
  touch "$stamp"
  log "built $name in $((SECONDS - started)) s"
}

# actionlint runs shellcheck on every workflow's run: scripts when it finds it on PATH.
ensure_shellcheck() {
  command -v shellcheck >/dev/null && return 0
  [ "$(id -u)" = 0 ] || { log "shellcheck is needed; run: sudo apt-get install -y shellcheck"; exit 1; }
  log "installing shellcheck from Debian"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >&2
}

names=("$@")
[ "${#names[@]}" -gt 0 ] || names=(shellcheck kustomize kubeconform actionlint promtool conftest tflint tofu trivy)
for name in "${names[@]}"; do
  if [ "$name" = shellcheck ]; then ensure_shellcheck; else ensure "$name"; fi
done
echo "$bin"

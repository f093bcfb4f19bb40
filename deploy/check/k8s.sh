#!/usr/bin/env bash
# Offline checks of the Kubernetes manifests and ArgoCD applications. Usage: deploy/check/k8s.sh COMMAND [ARGS]
#   render OUT        kustomize build every application path into OUT/<app>.yaml, copy deploy/gitops into OUT/gitops
#   kubeconform F...  validate files with kubeconform -strict against the Kubernetes schemas (from kubernetes-validate)
#                     and the CRD schemas in deploy/check/schemas; a kind without a schema fails
#   trivy DIR         trivy config on a folder of rendered YAML (deploy/check/trivy.yaml, .trivyignore.yaml)
#   checkov DIR       checkov on a folder of rendered YAML (skips with reasons: deploy/check/checkov-k8s.yaml)
#   all               render into a temporary folder, then kubeconform, trivy and checkov on it
# Settings: MCE_DEPLOY_TOOLS_BIN (<repo>/.tools/deploy/bin), MCE_PYTHON (the repo's .venv python, else python3),
# MCE_K8S_VERSION (1.34.0), MCE_K8S_SCHEMAS (<repo>/.mce/k8s-schemas/v<version>: the converted schemas, made once).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
check="$repo/deploy/check"
bin="${MCE_DEPLOY_TOOLS_BIN:-$repo/.tools/deploy/bin}"
version="${MCE_K8S_VERSION:-1.34.0}"
schemas="${MCE_K8S_SCHEMAS:-$repo/.mce/k8s-schemas/v$version}"
python="${MCE_PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x "$repo/.venv/bin/python" ]; then python="$repo/.venv/bin/python"; else python=python3; fi
fi

log() { echo "[k8s-check] $*" >&2; }
die() { log "$*"; exit 1; }
need() { [ -x "$bin/$1" ] || die "$1 is not built: run deploy/check/tools.sh $1"; }

# Every application path ArgoCD syncs: the aws overlays, the AKS stream job, and the observability kustomization.
app_paths() {
  local dir
  for dir in "$repo"/deploy/k8s/aws/*/ "$repo"/deploy/k8s/azure/*/; do
    [ -f "$dir/kustomization.yaml" ] && echo "${dir%/}"
  done
  [ -f "$repo/deploy/observability/kustomization.yaml" ] && echo "$repo/deploy/observability"
  return 0
}

render() {
  local out="$1" path name
  need kustomize
  mkdir -p "$out/gitops"
  while read -r path; do
    name="$(basename "$path")"
    case "$path" in */deploy/k8s/azure/*) name="azure-$name" ;; esac
    "$bin/kustomize" build "$path" >"$out/$name.yaml" || die "kustomize build ${path#"$repo/"} failed"
  done < <(app_paths)
  cp "$repo"/deploy/gitops/*.yaml "$out/gitops/"
  cp "$repo"/deploy/gitops/apps/*.yaml "$out/gitops/"
  log "rendered $(find "$out" -name '*.yaml' | wc -l) files into $out"
}

k8s_schemas() {
  if [ ! -f "$schemas/.converted" ]; then
    rm -rf "$schemas"
    "$python" "$check/k8s_schemas.py" "$schemas" "$version" >&2
    touch "$schemas/.converted"
  fi
}

kubeconform() {
  need kubeconform
  [ "$#" -gt 0 ] || die "kubeconform: no files given"
  k8s_schemas
  "$python" "$check/crd_schemas.py" --check || die "the CRD schemas are stale"
  "$bin/kubeconform" -strict -summary -output text \
    -schema-location "$schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    -schema-location "$check/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    "$@"
}

trivy_config() {
  need trivy
  local dir="$1"
  "$bin/trivy" config --quiet --exit-code 1 --severity LOW,MEDIUM,HIGH,CRITICAL \
    --skip-check-update --ignorefile "$check/trivy-k8s-ignore.yaml" "$dir"
}

checkov_run() {
  local dir="$1" cmd
  cmd="${MCE_CHECKOV:-$repo/.tools/checkov/bin/checkov}"
  [ -x "$cmd" ] || die "checkov is not installed: run deploy/check/checkov.sh"
  "$cmd" --quiet --compact --skip-download --framework kubernetes --config-file "$check/checkov-k8s.yaml" -d "$dir"
}

command="${1:-all}"
shift || true
case "$command" in
  render) render "${1:?render OUT}" ;;
  kubeconform) kubeconform "$@" ;;
  trivy) trivy_config "${1:?trivy DIR}" ;;
  checkov) checkov_run "${1:?checkov DIR}" ;;
  all)
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
    render "$out"
    kubeconform "$out" "$check/crds"
    trivy_config "$out"
    checkov_run "$out"
    ;;
  *) die "unknown command $command (render, kubeconform, trivy, checkov, all)" ;;
esac

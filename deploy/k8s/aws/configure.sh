#!/usr/bin/env bash
# Fill the overlays from Terraform's outputs, then (unless --no-secrets) create the Secrets in the clusters.
#
#   deploy/k8s/aws/configure.sh [--tag TAG] [--repo GIT_URL] [--certificate-arn ARN] [--aks-context CTX] [--no-secrets]
#
# Writes (commit them; ArgoCD syncs from Git, and none of them holds a secret):
#   deploy/k8s/aws/common/config.env     the mce-common values: aws_region rds_host rds_port rds_user rds_sslmode
#                                        kafka_bootstrap opensearch_endpoint dynamodb_table dynamodb_outbox_table
#                                        s3_bucket (AWS root), eventhubs_bootstrap (Azure root), public_url
#   deploy/k8s/aws/<name>/kustomization.yaml  images: <ecr_registry>/<name>:<tag> (kustomize edit set image)
#   deploy/k8s/aws/<name>/irsa.yaml      the ServiceAccount's eks.amazonaws.com/role-arn from irsa_role_arns[name]
#   deploy/k8s/aws/frontend/tls.yaml     the NLB's ACM certificate (acm_certificate_arn output or --certificate-arn)
#   deploy/k8s/azure/stream/config.env   EVENTHUBS_BOOTSTRAP; its image <acr_login_server>/stream:<tag>
#   deploy/gitops/**                     the Git URL, when --repo is given
# Creates with kubectl (current context = EKS; --aks-context for AKS), from a private temporary env file:
#   mce-secrets (namespace mce): RDS_PASSWORD MCE_KAFKA_SASL_USERNAME MCE_KAFKA_SASL_PASSWORD MCE_OPENSEARCH_USERNAME
#     MCE_OPENSEARCH_PASSWORD EVENTHUBS_CONNECTION_STRING MCE_ADMIN_TOKEN MCE_SESSION_SECRET MCE_IMAGE_PROCESSOR_TOKEN
#     from the outputs of the same lower-case names (rds_password, kafka_sasl_username, ..., admin_token); a token
#     with no output keeps the value the Secret already holds, else a new random one (openssl rand).
#   stream-secrets (namespace mce, AKS): EVENTHUBS_CONNECTION_STRING.
# Settings: TERRAFORM (terraform; tofu works too), MCE_TF_AWS_DIR / MCE_TF_AZURE_DIR (deploy/terraform/{aws,azure}),
# MCE_TF_AWS_OUTPUTS / MCE_TF_AZURE_OUTPUTS (files of `terraform output -json` to use instead of running Terraform),
# KUSTOMIZE (kustomize on PATH, else .tools/deploy/bin/kustomize), MCE_K8S_ROOT (the repository; tests use a copy).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${MCE_K8S_ROOT:-$(cd "$here/../../.." && pwd)}"
terraform="${TERRAFORM:-terraform}"
services=(frontend product cart order search events-producer analytics mirrormaker)
tag="" repo_url="" certificate="" aks_context="" secrets=1

log() { echo "[configure] $*" >&2; }
die() { log "$*"; exit 1; }

while [ "$#" -gt 0 ]; do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --repo) repo_url="$2"; shift 2 ;;
    --certificate-arn) certificate="$2"; shift 2 ;;
    --aks-context) aks_context="$2"; shift 2 ;;
    --no-secrets) secrets=0; shift ;;
    *) die "unknown argument $1 (see the header of $0)" ;;
  esac
done

kustomize="${KUSTOMIZE:-$(command -v kustomize || echo "$root/.tools/deploy/bin/kustomize")}"
[ -x "$kustomize" ] || die "kustomize not found: install it or run deploy/check/tools.sh kustomize"

outputs() {
  local file="$1" dir="$2"
  if [ -n "$file" ]; then cat "$file"; else "$terraform" -chdir="$dir" output -json; fi
}
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
chmod 700 "$workdir"
outputs "${MCE_TF_AWS_OUTPUTS:-}" "${MCE_TF_AWS_DIR:-$root/deploy/terraform/aws}" >"$workdir/aws.json"
outputs "${MCE_TF_AZURE_OUTPUTS:-}" "${MCE_TF_AZURE_DIR:-$root/deploy/terraform/azure}" >"$workdir/azure.json"

# out NAME [default]: an output's value from either root (maps as JSON); the default, or failure, when absent.
out() {
  python3 - "$workdir" "$@" <<'EOF'
import json, sys
workdir, name, *default = sys.argv[1:]
for side in ("aws", "azure"):
    data = json.load(open(f"{workdir}/{side}.json"))
    if name in data and data[name].get("value") not in (None, ""):
        value = data[name]["value"]
        print(json.dumps(value) if isinstance(value, (dict, list)) else value)
        break
else:
    if not default:
        sys.exit(f"[configure] Terraform has no output {name!r}")
    print(default[0])
EOF
}

# line KEY OUTPUT: KEY=<the output's value>, stopping the script when Terraform has no such output.
line() {
  local value
  value="$(out "$2")" || exit 1
  echo "$1=$value"
}

registry="$(out ecr_registry)"
acr="$(out acr_login_server)"
arns="$(out irsa_role_arns)"

log "writing deploy/k8s/aws/common/config.env"
{
  for key in aws_region rds_host rds_port rds_user rds_sslmode kafka_bootstrap opensearch_endpoint dynamodb_table \
    dynamodb_outbox_table s3_bucket eventhubs_bootstrap; do
    line "$(echo "$key" | tr '[:lower:]' '[:upper:]')" "$key"
  done
  line MCE_PUBLIC_URL public_url
} >"$root/deploy/k8s/aws/common/config.env.new"
mv "$root/deploy/k8s/aws/common/config.env.new" "$root/deploy/k8s/aws/common/config.env"

for name in "${services[@]}"; do
  dir="$root/deploy/k8s/aws/$name"
  current="$(sed -n 's/^ *newTag: *//p' "$dir/kustomization.yaml" | head -1)"
  (cd "$dir" && "$kustomize" edit set image "$name=$registry/$name:${tag:-$current}")
  [ "$name" = mirrormaker ] && continue
  arn="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$arns" "$name")"
  {
    echo "# Written by deploy/k8s/aws/configure.sh from Terraform's irsa_role_arns[\"$name\"]."
    echo "apiVersion: v1"
    echo "kind: ServiceAccount"
    echo "metadata:"
    echo "  name: $name"
    echo "  namespace: mce"
    echo "  annotations:"
    # No role for this service: the annotation is removed (null deletes it in a strategic merge patch).
    if [ -n "$arn" ]; then echo "    eks.amazonaws.com/role-arn: $arn"; else echo "    eks.amazonaws.com/role-arn: null"; fi
  } >"$dir/irsa.yaml"
done

certificate="${certificate:-$(out acm_certificate_arn "")}"
if [ -n "$certificate" ]; then
  sed -i "s|aws-load-balancer-ssl-cert: .*|aws-load-balancer-ssl-cert: $certificate|" "$root/deploy/k8s/aws/frontend/tls.yaml"
else
  log "no ACM certificate (acm_certificate_arn or --certificate-arn): the storefront's https listener needs one"
fi

stream="$root/deploy/k8s/azure/stream"
line EVENTHUBS_BOOTSTRAP eventhubs_bootstrap >"$stream/config.env"
current="$(sed -n 's/^ *newTag: *//p' "$stream/kustomization.yaml" | head -1)"
(cd "$stream" && "$kustomize" edit set image "stream=$acr/stream:${tag:-$current}")

if [ -n "$repo_url" ]; then
  log "pointing the ArgoCD applications at $repo_url"
  find "$root/deploy/gitops" -name '*.yaml' -exec sed -i "s|https://github.com/example/mce.git|$repo_url|g" {} +
fi

[ "$secrets" = 1 ] || { log "done (no secrets: --no-secrets)"; exit 0; }

# existing NAME KEY [kubectl args...]: a key of a Secret already in the cluster, or nothing.
existing() {
  local secret="$1" key="$2"; shift 2
  kubectl "$@" -n mce get secret "$secret" -o "jsonpath={.data.$key}" 2>/dev/null | base64 -d 2>/dev/null || true
}
token() {
  local key="$1" value
  value="$(out "$(echo "$key" | sed 's/^MCE_//' | tr '[:upper:]' '[:lower:]')" "")"
  [ -n "$value" ] || value="$(existing mce-secrets "$key")"
  [ -n "$value" ] || value="$(openssl rand -base64 36 | tr -d '\n/+=')"
  echo "$value"
}
(
  umask 077
  {
    line RDS_PASSWORD rds_password
    line MCE_KAFKA_SASL_USERNAME kafka_sasl_username
    line MCE_KAFKA_SASL_PASSWORD kafka_sasl_password
    line MCE_OPENSEARCH_USERNAME opensearch_username
    line MCE_OPENSEARCH_PASSWORD opensearch_password
    line EVENTHUBS_CONNECTION_STRING eventhubs_connection_string
    for key in MCE_ADMIN_TOKEN MCE_SESSION_SECRET MCE_IMAGE_PROCESSOR_TOKEN; do
      value="$(token "$key")"
      echo "$key=$value"
    done
  } >"$workdir/mce-secrets.env"
  line EVENTHUBS_CONNECTION_STRING eventhubs_connection_string >"$workdir/stream-secrets.env"
)
kubectl create namespace mce --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n mce create secret generic mce-secrets --from-env-file="$workdir/mce-secrets.env" --dry-run=client -o yaml |
  kubectl apply -f - >/dev/null
log "mce-secrets applied in $(kubectl config current-context)"
if [ -n "$aks_context" ]; then
  kubectl --context "$aks_context" create namespace mce --dry-run=client -o yaml |
    kubectl --context "$aks_context" apply -f - >/dev/null
  kubectl --context "$aks_context" -n mce create secret generic stream-secrets \
    --from-env-file="$workdir/stream-secrets.env" --dry-run=client -o yaml | kubectl --context "$aks_context" apply -f - >/dev/null
  log "stream-secrets applied in $aks_context"
else
  log "no --aks-context: create stream-secrets on AKS by running again with it"
fi

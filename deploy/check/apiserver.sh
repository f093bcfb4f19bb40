#!/usr/bin/env bash
# A real API server on loopback checks what schemas cannot (a PodDisruptionBudget with both minAvailable and
# maxUnavailable, Pod Security admission, CRD structural validation): etcd + kube-apiserver on random free ports,
# self-signed certificates, a token file; the CRDs of deploy/check/crds applied, the namespaces made for real, then
# `kubectl apply --dry-run=server` of every file; everything is stopped and removed at the end.
# Usage: deploy/check/apiserver.sh [FILE|DIR...]  (default: every application rendered by deploy/check/k8s.sh render)
# Prints `ok FILE` or `FAILED FILE` and the server's answer per file; exits 1 when any file failed or drew a warning.
# Settings: MCE_DEPLOY_TOOLS_BIN (<repo>/.tools/deploy/bin: etcd, kube-apiserver, kubectl), MCE_PYTHON (python3).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
check="$repo/deploy/check"
bin="${MCE_DEPLOY_TOOLS_BIN:-$repo/.tools/deploy/bin}"
python="${MCE_PYTHON:-python3}"

log() { echo "[apiserver] $*" >&2; }
die() { log "$*"; exit 1; }
for name in etcd kube-apiserver kubectl; do
  [ -x "$bin/$name" ] || die "$name is not built: run deploy/check/tools.sh etcd kube"
done
command -v openssl >/dev/null || die "openssl is needed for the server's certificates"

work="$(mktemp -d)"
pids=()
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
chmod 700 "$work"

# Three free loopback ports (etcd client, etcd peer, API server).
read -r etcd_port peer_port api_port < <("$python" -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
')

# Certificates: a CA, the server's (127.0.0.1), and the service-account signing key.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=mce-check-ca \
  -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$work/san.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial -days 1 \
  -extfile "$work/san.ext" -out "$work/server.crt" 2>/dev/null
openssl genrsa -out "$work/sa.key" 2048 2>/dev/null
openssl rsa -in "$work/sa.key" -pubout -out "$work/sa.pub" 2>/dev/null
token="$(openssl rand -hex 24)"
echo "$token,mce-check,mce-check,system:masters" >"$work/tokens.csv"

"$bin/etcd" --name check --data-dir "$work/etcd" --log-level error \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "check=http://127.0.0.1:$peer_port" >"$work/etcd.log" 2>&1 &
pids+=("$!")

"$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
  --endpoint-reconciler-type none \
  --tls-cert-file "$work/server.crt" --tls-private-key-file "$work/server.key" \
  --token-auth-file "$work/tokens.csv" --authorization-mode RBAC \
  --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$work/sa.pub" \
  --service-account-signing-key-file "$work/sa.key" --service-cluster-ip-range 10.96.0.0/16 \
  --enable-priority-and-fairness=false >"$work/apiserver.log" 2>&1 &
pids+=("$!")

cat >"$work/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: check
    cluster: {server: "https://127.0.0.1:$api_port", certificate-authority: "$work/ca.crt"}
users:
  - name: check
    user: {token: "$token"}
contexts:
  - name: check
    context: {cluster: check, user: check}
current-context: check
EOF
export KUBECONFIG="$work/kubeconfig"
kubectl() { "$bin/kubectl" --request-timeout=60s "$@"; }

ready=0
for _ in $(seq 1 120); do
  if kubectl get --raw /readyz >/dev/null 2>&1; then ready=1; break; fi
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$work/etcd.log" "$work/apiserver.log" >&2; die "a server exited"; }
  done
  sleep 1
done
[ "$ready" = 1 ] || { tail -n 30 "$work/apiserver.log" >&2; die "kube-apiserver was not ready within 120 s"; }
log "kube-apiserver ready on 127.0.0.1:$api_port"

kubectl apply -f "$check/crds" >/dev/null
kubectl wait --for condition=established --timeout=60s -f "$check/crds" >/dev/null
kubectl apply -f "$repo/deploy/k8s/base/common/namespaces.yaml" >/dev/null
kubectl create namespace argocd >/dev/null

if [ "$#" -eq 0 ]; then
  "$check/k8s.sh" render "$work/rendered"
  set -- "$work/rendered"
fi
mapfile -t files < <(find "$@" -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)
[ "${#files[@]}" -gt 0 ] || die "no YAML files in $*"

failed=0
for file in "${files[@]}"; do
  if answer="$(kubectl apply --dry-run=server -f "$file" 2>&1)" && ! grep -qi '^warning' <<<"$answer"; then
    echo "ok $file"
  else
    echo "FAILED $file"
    printf '    %s\n' "${answer//$'\n'/$'\n    '}"
    failed=1
  fi
done
exit "$failed"

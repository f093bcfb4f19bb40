#!/usr/bin/env bash
# Scan the Dockerfiles with checkov and `trivy config` (offline: checkov --skip-download, trivy's embedded checks).
# Skips are justified where they are: checkov's as `checkov:skip` comments in each Dockerfile, trivy's in
# deploy/check/dockerfiles.trivyignore. Exits non-zero on any finding.
# Usage: deploy/check/dockerfiles.sh [folder, default deploy/docker]. Tools: CHECKOV (else .tools/checkov/bin/checkov,
# made by deploy/check/checkov.sh) and TRIVY (else .tools/deploy/bin/trivy, from deploy/check/tools.sh trivy).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${1:-$repo/deploy/docker}"
checkov="${CHECKOV:-$repo/.tools/checkov/bin/checkov}"
trivy="${TRIVY:-$repo/.tools/deploy/bin/trivy}"
[ -x "$checkov" ] || { echo "no checkov at $checkov: run deploy/check/checkov.sh" >&2; exit 2; }
[ -x "$trivy" ] || { echo "no trivy at $trivy: run deploy/check/tools.sh trivy" >&2; exit 2; }

"$checkov" --skip-download --framework dockerfile --directory "$dir" --compact --quiet
"$trivy" config --quiet --skip-check-update --exit-code 1 --severity LOW,MEDIUM,HIGH,CRITICAL \
  --cache-dir "$repo/.mce/trivy-cache" --ignorefile "$repo/deploy/check/dockerfiles.trivyignore" "$dir"

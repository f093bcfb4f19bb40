#!/usr/bin/env bash
# The offline checks of deploy/terraform/{aws,azure}: providers cannot be downloaded here, so no `validate`/`plan`
# (the GitHub workflow runs `terraform init -backend=false && terraform validate` where the registry is reachable).
#   1. tofu fmt -check -recursive        formatting
#   2. python-hcl2                      every .tf parses
#   3. tflint (bundled terraform rules)  language rules: documented and typed variables, unused declarations, ...
#   4. checkov --skip-download          security checks; skips only in deploy/check/checkov-terraform.yaml or inline,
#                                       each with its reason
#   5. conftest verify, conftest test    the project's policies (deploy/check/policy/terraform) and their unit tests
# Usage: deploy/check/terraform.sh. Settings: MCE_DEPLOY_TOOLS_BIN (the checkers' folder, default .tools/deploy/bin),
# PYTHON (an interpreter with python-hcl2, default .venv/bin/python), CHECKOV (default: deploy/check/checkov.sh's).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
check="$repo/deploy/check"
roots=(aws azure)
bin="${MCE_DEPLOY_TOOLS_BIN:-$repo/.tools/deploy/bin}"
python="${PYTHON:-$repo/.venv/bin/python}"
# No CLI configuration is read from the home directory, and nothing is fetched.
export TF_CLI_CONFIG_FILE=/dev/null TF_IN_AUTOMATION=1 CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false

log() { echo "[terraform-check] $*" >&2; }
need() { [ -x "$bin/$1" ] || { log "$1 is missing: run deploy/check/tools.sh $1"; exit 1; }; }
need tofu
need tflint
need conftest

log "tofu fmt -check"
"$bin/tofu" fmt -check -recursive -diff "$repo/deploy/terraform"

log "python-hcl2 parse"
"$python" - "$repo/deploy/terraform" <<'PY'
import pathlib
import sys

import hcl2

files = sorted(pathlib.Path(sys.argv[1]).rglob("*.tf"))
assert files, "no .tf files"
for path in files:
    try:
        hcl2.loads(path.read_text())
    except Exception as exc:  # noqa: BLE001 - any parse failure is reported with its file
        sys.exit(f"{path}: {exc}")
print(f"{len(files)} files parse")
PY

for root in "${roots[@]}"; do
  log "tflint $root"
  "$bin/tflint" --chdir="$repo/deploy/terraform/$root" --config="$check/tflint.hcl" --minimum-failure-severity=notice \
    --no-color
done

log "checkov"
checkov="${CHECKOV:-$("$check/checkov.sh")}"
"$checkov" --config-file "$check/checkov-terraform.yaml" -d "$repo/deploy/terraform"

log "conftest verify"
"$bin/conftest" verify --no-color -p "$check/policy/terraform"
for root in "${roots[@]}"; do
  log "conftest test $root"
  "$bin/conftest" test --no-color --parser hcl2 --combine --namespace terraform -p "$check/policy/terraform" \
    "$repo/deploy/terraform/$root"
done
log "all Terraform checks passed"

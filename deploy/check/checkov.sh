#!/usr/bin/env bash
# Install checkov into an environment of its own (.tools/checkov), pinned by checkov-requirements.txt, and print the
# path of its command. Its own environment because its HCL parser (bc-python-hcl2) and python-hcl2, which the tests
# use, both install a module named `hcl2`.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
env_dir="$repo/.tools/checkov"
requirements="$repo/deploy/check/checkov-requirements.txt"
stamp="$env_dir/.installed-$(sha256sum "$requirements" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "[checkov] installing checkov into $env_dir (once)" >&2
  rm -rf "$env_dir"
  "$repo/.tools/bin/uv" venv -q --python "${PYTHON:-python3}" "$env_dir" >&2
  VIRTUAL_ENV="$env_dir" "$repo/.tools/bin/uv" pip install -q -r "$requirements" >&2
  touch "$stamp"
fi
echo "$env_dir/bin/checkov"

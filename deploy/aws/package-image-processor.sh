#!/usr/bin/env bash
# Build the image processor's AWS Lambda package, build/image-processor-lambda.zip, for the Python 3.11 x86_64 runtime:
# handler mce.functions.image_processor.handler.handler, with the dependencies uv.lock pins for the image-processor
# extra (exported with hashes, installed as manylinux2014 x86_64 wheels only, never built here) except those
# image-processor-lambda-overrides.txt pins instead (Amazon Linux 2's glibc; reasons there), and the code it runs
# (the kit and mce.functions.image_processor; the import contract keeps it to those). Deterministic: sorted entries,
# fixed timestamps. Prints the zip's path.
# Usage: deploy/aws/package-image-processor.sh [output zip]. Needs uv (.tools/bin/uv from `make`, or UV=...) and PyPI.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/build/image-processor-lambda.zip}"
uv="${UV:-$root/.tools/bin/uv}"
[ -x "$uv" ] || uv="$(command -v uv)" || { echo "no uv: run make install first, or set UV" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$uv" export --project "$root" --frozen --no-dev --extra image-processor --no-emit-project --quiet \
  --no-emit-package confluent-kafka --no-emit-package pillow --output-file "$work/requirements.txt" >&2
"$uv" pip install --quiet --target "$work/package" --python-platform x86_64-manylinux2014 --python-version 3.11 \
  --only-binary :all: --no-compile --requirement "$work/requirements.txt" \
  --requirement "$root/deploy/aws/image-processor-lambda-overrides.txt" >&2

mkdir -p "$work/package/mce/functions"
cp "$root/src/mce/__init__.py" "$work/package/mce/"
cp "$root/src/mce/functions/__init__.py" "$work/package/mce/functions/"
cp -r "$root/src/mce/kit" "$work/package/mce/kit"
cp -r "$root/src/mce/functions/image_processor" "$work/package/mce/functions/image_processor"
find "$work/package" -name __pycache__ -type d -prune -exec rm -rf {} +
# uv's own marker files and the installer's bin/ scripts are no use to Lambda.
rm -rf "$work/package/bin" "$work/package/.lock"

mkdir -p "$(dirname "$out")"
python3 - "$work/package" "$out" <<'PY'
import os, sys, zipfile
source, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(target + ".tmp", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
    for folder, dirs, files in os.walk(source):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            info = zipfile.ZipInfo(os.path.relpath(path, source), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as handle:
                archive.writestr(info, handle.read())
os.replace(target + ".tmp", target)
PY
echo "$out"

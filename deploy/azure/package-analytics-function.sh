#!/usr/bin/env bash
# Assemble the analytics Azure Function app in a folder `func azure functionapp publish` can deploy:
# function_app.py, host.json and requirements.txt at its root, and the `mce` package beside them.
# Usage: deploy/azure/package-analytics-function.sh [output folder, default build/analytics-function]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/build/analytics-function}"
app="$root/src/mce/functions/analytics"
rm -rf "$out"
mkdir -p "$out"
cp "$app/function_app.py" "$app/host.json" "$app/requirements.txt" "$out/"
# Only the code the function runs: the kit and the analytics service (the import contract keeps it to these).
mkdir -p "$out/mce/services"
cp "$root/src/mce/__init__.py" "$out/mce/"
cp "$root/src/mce/services/__init__.py" "$out/mce/services/"
cp -r "$root/src/mce/kit" "$out/mce/kit"
cp -r "$root/src/mce/services/analytics" "$out/mce/services/analytics"
find "$out" -name __pycache__ -type d -prune -exec rm -rf {} +
echo "$out"

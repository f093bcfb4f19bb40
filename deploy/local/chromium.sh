#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests; print its path.
set -euo pipefail
for candidate in "${MCE_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
done
if [ "$(id -u)" != 0 ]; then echo "[chromium] not installed; run: sudo apt-get install -y chromium" >&2; exit 1; fi
echo "[chromium] installing Debian's chromium package" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
echo /usr/bin/chromium

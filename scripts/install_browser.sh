#!/usr/bin/env bash
# Installs Debian's Chromium (/usr/bin/chromium) for the dashboard tests when it is missing.
# Playwright drives this system browser; it never downloads one of its own.
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then
  exit 0
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || {
  $sudo apt-get update -qq
  $sudo apt-get install -y --no-install-recommends chromium >/dev/null
}

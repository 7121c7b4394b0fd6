#!/usr/bin/env bash
# Installs the system tools the tests use when they are missing: Debian's Chromium
# (/usr/bin/chromium, driven by Playwright for the dashboard tests; no browser download) and
# Debian's docker-compose (validates docker-compose.yml; no Docker engine needed).
set -euo pipefail
packages=()
[[ -x /usr/bin/chromium ]] || packages+=(chromium)
command -v docker-compose >/dev/null || packages+=(docker-compose)
if [[ ${#packages[@]} -eq 0 ]]; then
  exit 0
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
if ! { $sudo apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null 2>&1 ||
  { $sudo apt-get update -qq && $sudo apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null; }; }; then
  # not fatal: the tests that need them say so and skip (pytest -ra lists every skip with its reason)
  echo "WARNING: could not apt-get install ${packages[*]}; the dashboard / compose tests will be skipped" >&2
fi

#!/usr/bin/env bash
# The web console's browser tests drive Debian's Chromium through Playwright (Playwright cannot download its
# own browser here). Installs the `chromium` package when /usr/bin/chromium is missing; idempotent.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "The browser tests need Debian's chromium package: run 'apt-get install -y chromium' as root." >&2
    exit 1
  fi
  sudo="sudo"
fi
echo "Installing Debian's chromium for the browser tests (about 25 s)..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -q chromium >/dev/null; then
  $sudo apt-get update -q >/dev/null
  $sudo apt-get install -y -q chromium >/dev/null
fi

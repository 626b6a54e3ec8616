#!/usr/bin/env bash
# Set-up shared by the Quick start commands: Python 3.14, uv, and the locked environment in .venv.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v python3.14 >/dev/null 2>&1; then
  if [ -x ../shared/tools/ensure-python3.14 ]; then
    ../shared/tools/ensure-python3.14 >/dev/null
  else
    echo "Python 3.14 is required (Home Assistant 2026.10 needs it); install it and run again." >&2
    exit 1
  fi
fi
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet uv
fi
uv sync --locked --quiet

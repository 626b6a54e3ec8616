#!/usr/bin/env bash
# The test suite: real TLS, real SDK, real speech, real Home Assistant, real Wyoming peers, real Chromium.
# With no arguments: the whole suite on both cores, with the Home Assistant integration's coverage report
# (at least 95 %). With arguments: they go to pytest as they are.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh
scripts/ensure-chromium.sh
if [ "$#" -eq 0 ]; then
  set -- -n 2 --cov=custom_components/gemini_live --cov-report=term-missing:skip-covered --cov-fail-under=95
fi
exec uv run --locked pytest -p no:cacheprovider "$@"

#!/usr/bin/env bash
# The test suite: real TLS, real SDK, real speech, real Home Assistant. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh
exec uv run --locked pytest -p no:cacheprovider "$@"

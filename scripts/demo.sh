#!/usr/bin/env bash
# The main job: the end-to-end demo (the bundled emulator unless GEMINI_API_KEY is set). Writes out/reply.wav.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh
exec uv run --locked gemini-live-demo "$@"

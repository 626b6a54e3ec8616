#!/usr/bin/env bash
# The web voice console on this machine, at http://127.0.0.1:PORT/ (default 8765): against Gemini when
# GEMINI_API_KEY is set, else against the bundled emulator (which answers every question with a spoken
# "I heard N seconds of audio", in English or Arabic). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh
port="${1:-8765}"

if [ -n "${GEMINI_API_KEY:-}" ]; then
  exec uv run --locked gemini-live-bridge --web "127.0.0.1:${port}"
fi

coproc EMULATOR { exec uv run --locked gemini-live-emulator; }
emulator_pid=$EMULATOR_PID
trap 'kill "$emulator_pid" 2>/dev/null || true' EXIT
read -r ready <&"${EMULATOR[0]}"
field() { uv run --locked python -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$ready" "$1"; }
echo "No GEMINI_API_KEY: using the bundled Gemini Live emulator at $(field base_url)" >&2
uv run --locked gemini-live-bridge --web "127.0.0.1:${port}" \
  --gemini-base-url "$(field base_url)" --gemini-ca-file "$(field ca_file)" --api-key "$(field api_key)"

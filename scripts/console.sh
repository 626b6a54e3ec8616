#!/usr/bin/env bash
# The web voice console on this machine, at http://127.0.0.1:PORT/ (default 8765): against Gemini when
# GEMINI_API_KEY is set, else against the bundled emulator. Stop it with Ctrl-C.
#
#   scripts/console.sh [PORT] [--scenario FILE] [gemini-live-bridge options...]
#
# The page speaks the browser's language (or ?lang=ar / ?lang=en), and so does the session. The emulator
# cannot recognise speech: without a scenario a spoken turn gets no transcript ("You" shows that speech was
# heard) and a short spoken reply in the page's language; with --scenario FILE the N-th spoken turn is
# transcribed and answered as the file's N-th turn says. Any other option goes to the bridge, e.g.
#
#   scripts/console.sh 8765 --scenario devtools/gemini_live_demo/demo_data/spoken-name.yaml --wake-phrase روبوت
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh
port=8765
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  port="$1"
  shift
fi
scenario=()
if [ "${1:-}" = "--scenario" ]; then
  [ -n "${2:-}" ] || { echo "--scenario needs a file" >&2; exit 2; }
  scenario=(--scenario "$2")
  shift 2
fi

if [ -n "${GEMINI_API_KEY:-}" ]; then
  exec uv run --locked gemini-live-bridge --web "127.0.0.1:${port}" "$@"
fi

coproc EMULATOR { exec uv run --locked gemini-live-emulator "${scenario[@]}"; }
emulator_pid=$EMULATOR_PID
trap 'kill "$emulator_pid" 2>/dev/null || true' EXIT
read -r ready <&"${EMULATOR[0]}" || { echo "the emulator did not start" >&2; exit 1; }
field() { uv run --locked python -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$ready" "$1"; }
echo "No GEMINI_API_KEY: using the bundled Gemini Live emulator at $(field base_url)" >&2
GEMINI_API_KEY="$(field api_key)" uv run --locked gemini-live-bridge --web "127.0.0.1:${port}" \
  --gemini-base-url "$(field base_url)" --gemini-ca-file "$(field ca_file)" "$@"

"""``gemini-live-emulator`` (``python -m gemini_live_emulator``): serve until stopped; one JSON line when ready."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from .config import EmulatorConfig, Faults
from .scenario import Scenario, ScenarioError
from .server import Emulator

_LOGGER = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The emulator's command line."""
    parser = argparse.ArgumentParser(
        prog="gemini-live-emulator",
        description="A local, TLS, wire-faithful Gemini Live emulator. Prints one JSON line "
        '({"base_url", "ca_file", "api_key", ...}) on stdout when ready and serves until stopped.',
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default: 0)")
    parser.add_argument(
        "--api-key", action="append", default=[], help="accept this API key (repeatable); default: mint one"
    )
    parser.add_argument("--scenario", type=Path, help="YAML or JSON scenario file scripting the conversation")
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="keep the CA, keys, minted API key and service-account file here and reuse them on the next start "
        "(default: a temp dir, removed at exit)",
    )
    parser.add_argument(
        "--generation-speed",
        type=float,
        default=4.0,
        help="reply audio is produced this many times faster than real time; 0 sends it at once (default: 4)",
    )
    parser.add_argument(
        "--resumption-interval",
        type=float,
        default=2.0,
        help="seconds between idle sessionResumptionUpdate messages",
    )
    faults = parser.add_argument_group("fault injection")
    faults.add_argument("--reject-connects", type=int, default=0, help="answer the next N Live upgrades with HTTP 429")
    faults.add_argument(
        "--quota-after-setup",
        type=int,
        default=0,
        help="close the next N Live connections with 1011 (quota) right after setupComplete",
    )
    faults.add_argument(
        "--reject-rest", type=int, default=0, help="answer the next N REST calls with 429 RESOURCE_EXHAUSTED"
    )
    faults.add_argument("--setup-delay-ms", type=int, default=0, help="hold setupComplete back this long")
    faults.add_argument(
        "--first-audio-delay-ms", type=int, default=0, help="model latency before each turn's first audio"
    )
    faults.add_argument(
        "--go-away-after",
        type=float,
        help="send goAway at this connection age in seconds (real service: ~540)",
    )
    faults.add_argument(
        "--go-away-time-left",
        type=float,
        default=50.0,
        help="goAway.timeLeft in seconds; then 1008 (default: 50)",
    )
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    return parser


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Options → settings."""
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        api_keys=tuple(args.api_key),
        generation_speed=args.generation_speed,
        resumption_update_interval_s=args.resumption_interval,
        faults=Faults(
            reject_connects=args.reject_connects,
            quota_after_setup=args.quota_after_setup,
            reject_rest=args.reject_rest,
            setup_delay_ms=args.setup_delay_ms,
            first_audio_delay_ms=args.first_audio_delay_ms,
            go_away_after_s=args.go_away_after,
            go_away_time_left_s=args.go_away_time_left,
        ),
    )


async def serve(args: argparse.Namespace) -> None:
    """Serve until SIGINT or SIGTERM."""
    scenario = Scenario.from_file(args.scenario) if args.scenario else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Emulator(config_from_args(args), scenario, state_dir=args.state_dir) as emulator:
        assert emulator.info is not None
        print(json.dumps(emulator.info.as_dict()), flush=True)
        await stop.wait()
        _LOGGER.info("Stopping")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        asyncio.run(serve(args))
    except ScenarioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def run() -> None:
    """Console-script entry point (``gemini-live-emulator``)."""
    sys.exit(main())


if __name__ == "__main__":
    run()

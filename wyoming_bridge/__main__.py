"""``gemini-live-bridge`` / ``python -m wyoming_bridge``: options → settings → start; nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from .app import Bridge
from .settings import BridgeSettings, settings_from_args


async def main(settings: BridgeSettings) -> None:
    """Run the bridge until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    bridge = Bridge(settings)
    await bridge.start()
    try:
        await stop.wait()
    finally:
        await bridge.stop()


def run() -> None:
    """Console-script entry point."""
    settings = settings_from_args()
    logging.basicConfig(level=logging.DEBUG if settings.debug else logging.INFO, format=settings.log_format)
    for option in settings.secrets_on_command_line:
        logging.getLogger(__name__).warning(
            "%s was given on the command line, where every user of this machine can read it; "
            "use its environment variable instead (see --help)",
            option,
        )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(settings))


if __name__ == "__main__":
    run()

"""``gemini-live-bridge`` / ``python -m wyoming_bridge``: options → settings → start; nothing else.

A bridge that cannot start says why in one line (no traceback) and exits with status 1; bad or missing
options exit with status 2 (argparse).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import warnings

from .app import Bridge, StartupError
from .settings import BridgeSettings, settings_from_args

_LOGGER = logging.getLogger("wyoming_bridge")


async def main(settings: BridgeSettings) -> int:
    """Run the bridge until SIGINT/SIGTERM; the exit status."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    failure: BaseException | None = None
    bridge: Bridge | None = None
    try:
        bridge = Bridge(settings)
        await bridge.start()
    except (StartupError, OSError, ValueError) as err:
        failure = err
    if failure is not None or bridge is None:
        _LOGGER.error("The bridge cannot start: %s", _reason(failure))  # one line, no traceback
        if bridge is not None:
            await bridge.stop()
        return 1
    try:
        await stop.wait()
    finally:
        await bridge.stop()
    return 0


def _reason(err: BaseException | None) -> str:
    if err is None:
        return "unknown failure"
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.filename}: {err.strerror.lower()}"
    return str(err) or type(err).__name__


def run() -> None:
    """Console-script entry point."""
    settings = settings_from_args()
    logging.basicConfig(level=logging.DEBUG if settings.debug else logging.INFO, format=settings.log_format)
    # The SDK warns on stderr, as a Python warning with its file and line, that ephemeral tokens and minting are
    # experimental; the bridge uses them on purpose (a linked bridge, the console's direct mode).
    warnings.filterwarnings("ignore", message=r"The SDK's .*(token|ephemeral).* experimental")
    for option, variable in settings.secrets_on_command_line:
        _LOGGER.warning(
            "%s was given on the command line, where every local user can read it (/proc/PID/cmdline, ps): "
            "set %s instead",
            option,
            variable,
        )
    status = 0
    with contextlib.suppress(KeyboardInterrupt):
        status = asyncio.run(main(settings))
    sys.exit(status)


if __name__ == "__main__":
    run()

"""The bridge's own Wyoming endpoint (``--uri``): it describes the bridge and answers pings.

A Wyoming client (a monitor, a discovery probe) can see here that the bridge is up and which model it
uses. It is a Wyoming server like rhasspy's: ``Info`` built once, one handler per connection.
"""

from __future__ import annotations

import asyncio
from functools import partial

from wyoming.event import Event
from wyoming.info import Attribution, Describe, HandleModel, HandleProgram, Info
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler, AsyncServer

from .settings import package_version

ATTRIBUTION = Attribution(name="Gemini Live for Home Assistant", url="https://github.com/gemini-live-ha/gemini-live-ha")


def bridge_info(model: str, satellites: list[str]) -> Info:
    """What ``describe`` returns: the bridge as a handle program, one model per Live model in use."""
    return Info(
        handle=[
            HandleProgram(
                name="gemini-live-bridge",
                attribution=ATTRIBUTION,
                installed=True,
                description=f"Gemini Live bridge for {len(satellites)} satellite(s)",
                version=package_version(),
                models=[
                    HandleModel(
                        name=model,
                        attribution=Attribution(name="Google", url="https://ai.google.dev/"),
                        installed=True,
                        description="Gemini Live native audio",
                        version=None,
                        languages=[],
                    )
                ],
            )
        ]
    )


class EndpointHandler(AsyncEventHandler):
    """One connection to the bridge's endpoint."""

    def __init__(self, info: Info, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._info_event = info.event()

    async def handle_event(self, event: Event) -> bool:
        """Describe and ping; everything else is ignored, as Wyoming servers must."""
        if Describe.is_type(event.type):
            await self.write_event(self._info_event)
        elif Ping.is_type(event.type):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        return True


async def serve_endpoint(uri: str, info: Info) -> AsyncServer:
    """Start serving ``uri`` (non-blocking); stop with ``await server.stop()``."""
    server = AsyncServer.from_uri(uri)
    await server.start(partial(EndpointHandler, info))
    await asyncio.sleep(0)
    return server

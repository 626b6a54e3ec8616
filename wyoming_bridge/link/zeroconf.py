"""Announcing the link over zeroconf, under a service type of its own (``_gemini-live._tcp``).

Home Assistant's manifest for the integration lists that type, so Home Assistant shows the bridge as
discovered; the wyoming integration, which looks for ``_wyoming._tcp``, never mistakes it for a Wyoming
service.
"""

from __future__ import annotations

import logging
import socket

from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from .messages import VERSIONS, ZEROCONF_TYPE

_LOGGER = logging.getLogger(__name__)
_MDNS_GROUP = "224.0.0.251"


def service_info(name: str, host: str, port: int, bridge_id: str, version: str) -> AsyncServiceInfo:
    """The record announced for the bridge's endpoint."""
    return AsyncServiceInfo(
        ZEROCONF_TYPE,
        f"{name}.{ZEROCONF_TYPE}",
        addresses=[socket.inet_aton(host)],
        port=port,
        properties={"id": bridge_id, "version": version, "protocol": ",".join(str(v) for v in VERSIONS)},
        server=f"{socket.gethostname()}.local.",
    )


def outward_address() -> str:
    """The address this host reaches the mDNS group from (for a bridge bound to 0.0.0.0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.setblocking(False)
        probe.connect((_MDNS_GROUP, 1))
        address: str = probe.getsockname()[0]
        return address


class LinkAnnouncer:
    """Keeps the bridge's endpoint announced while the bridge runs."""

    def __init__(self, info: AsyncServiceInfo) -> None:
        self._info = info
        self._zeroconf: AsyncZeroconf | None = None

    async def start(self) -> None:
        """Announce."""
        self._zeroconf = AsyncZeroconf()
        await self._zeroconf.async_register_service(self._info)
        _LOGGER.info("Announced the link over zeroconf as %s", self._info.name)

    async def stop(self) -> None:
        """Withdraw the announcement."""
        if self._zeroconf is not None:
            await self._zeroconf.async_unregister_all_services()
            await self._zeroconf.async_close()
            self._zeroconf = None

"""A linked Gemini Live bridge: the runtime of a bridge entry (docs/link-protocol.md).

:class:`BridgeRuntime` is what the link's messages mean to Home Assistant. It learns the bridge's
satellites (each one a device, via the bridge's device, with its entities), configures each satellite's
sessions (:mod:`.link_tools`: tools and prompt for its area, the model, voice and language chosen in the
options, the account's endpoint) again whenever exposed entities, areas or the options change, answers
credential requests (:mod:`.link_credentials`), tool calls and confirmations, logs each voice turn,
plays announcements, and announces finished timers on the satellite that started them.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_listen_entity_updates
from homeassistant.components.intent import TimerEventType, TimerInfo, async_register_timer_handler
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PORT, EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError, ConfigEntryNotReady, HomeAssistantError
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import ulid as ulid_util

from . import link_protocol as protocol
from .const import (
    CONF_ACCOUNT,
    CONF_BASE_URL,
    CONF_BRIDGE_ID,
    CONF_CA_FILE,
    CONF_CHAT_MODEL,
    CONF_CONFIRM,
    CONF_PAIRING_TOKEN,
    DOMAIN,
    LOGGER,
    RECOMMENDED_BRIDGE_OPTIONS,
    RECOMMENDED_LIVE_MODEL,
)
from .link import BridgeIncompatible, LinkClient, LinkError, PairingRefused, Welcome
from .link_credentials import LinkCredentials
from .link_tools import SatelliteSetup, ToolCalls, async_satellite_setup

if TYPE_CHECKING:
    from .announce import AnnouncementAudio

BRIDGE_PLATFORMS: Final = (Platform.ASSIST_SATELLITE, Platform.SENSOR, Platform.SWITCH)
REFRESH_COOLDOWN_S: Final = 1.0
ANNOUNCE_TIMEOUT_S: Final = 30.0  # beyond the length of the audio itself
TIMER_ATTEMPTS: Final = 5
TIMER_RETRY_S: Final = 2.0
IDLE_WAIT_S: Final = 300.0
EVENT_TURN: Final = f"{DOMAIN}_turn"

LINK_CONNECTED: Final = "connected"
LINK_DISCONNECTED: Final = "disconnected"
LINK_REFUSED: Final = "refused"

type BridgeConfigEntry = ConfigEntry[BridgeRuntime]


def signal_new_satellite(entry_id: str) -> str:
    """Dispatched with a :class:`Satellite` when a satellite gets its device (platforms add its entities)."""
    return f"{DOMAIN}_{entry_id}_new_satellite"


def signal_update(entry_id: str) -> str:
    """Dispatched whenever the link or a satellite changes (entities write their state)."""
    return f"{DOMAIN}_{entry_id}_update"


def satellite_identifier(bridge_id: str, sat_id: str) -> tuple[str, str]:
    """A satellite's device identifier (its id on the bridge is its URI, stable across restarts)."""
    return (DOMAIN, f"{bridge_id}/{sat_id}")


@dataclass
class Satellite:
    """One satellite of the bridge, as the link describes it."""

    id: str
    name: str
    wake: str = "satellite"
    connected: bool = False
    state: str = "offline"
    muted: bool = False
    device_id: str | None = None
    last_turn: dict[str, Any] | None = None
    idle: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


class BridgeRuntime:
    """The ``runtime_data`` of a bridge entry (see the module docstring)."""

    def __init__(self, hass: HomeAssistant, entry: BridgeConfigEntry) -> None:
        self.hass = hass
        self.entry = entry
        self.data = dict(entry.data)
        self.bridge_id: str = entry.data[CONF_BRIDGE_ID]
        self.client = LinkClient(
            hass, entry.data[CONF_HOST], entry.data[CONF_PORT], entry.data[CONF_PAIRING_TOKEN], self
        )
        self.satellites: dict[str, Satellite] = {}
        self.setups: dict[str, SatelliteSetup] = {}
        self.calls = ToolCalls(hass, self)
        self.credentials = LinkCredentials(hass, entry.data[CONF_ACCOUNT])
        self.link_state = LINK_CONNECTED
        self.link_error: str | None = None
        self.welcome: Welcome | None = None
        self.device_id: str | None = None  # the bridge's own device
        self._sent: dict[str, dict[str, Any]] = {}  # the last configure sent per satellite (without revision)
        # Revisions grow by one; starting from the clock keeps them growing across Home Assistant restarts.
        self._revisions = itertools.count(int(time.time() * 1000))
        self._announcements: dict[str, asyncio.Future[str | None]] = {}
        self._wanted_mute: dict[str, bool] = {}
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._timer_handlers: dict[str, CALLBACK_TYPE] = {}
        self._ca_pem: dict[str, str] = {}
        self._refresh = Debouncer(
            hass, LOGGER, cooldown=REFRESH_COOLDOWN_S, immediate=False, function=self._async_configure_all
        )

    # ------------------------------------------------------------------------------- set-up

    @property
    def options(self) -> dict[str, Any]:
        """The entry's options over the recommended ones."""
        return {**RECOMMENDED_BRIDGE_OPTIONS, **self.entry.options}

    @property
    def model(self) -> str:
        """The Live model the satellites use (tokens are locked to it)."""
        return str(self.options.get(CONF_CHAT_MODEL) or RECOMMENDED_LIVE_MODEL)

    @property
    def confirm_enabled(self) -> bool:
        """Whether locks, alarm panels and garage doors wait for a spoken yes."""
        return bool(self.options.get(CONF_CONFIRM, True))

    @callback
    def async_start(self) -> None:
        """Serve the link and follow what changes the satellites' tools."""
        self.client.async_start(self.entry)
        self._unsubscribe += [
            async_listen_entity_updates(self.hass, conversation.DOMAIN, self._async_schedule_refresh),
            self.hass.bus.async_listen(dr.EVENT_DEVICE_REGISTRY_UPDATED, self._async_registry_changed),
            self.hass.bus.async_listen(er.EVENT_ENTITY_REGISTRY_UPDATED, self._async_registry_changed),
            self.hass.bus.async_listen(ar.EVENT_AREA_REGISTRY_UPDATED, self._async_registry_changed),
            self.hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, self._async_hass_stopping),
        ]

    async def async_stop(self) -> None:
        """Close the link; stop following changes and timers."""
        for unsubscribe in (*self._unsubscribe, *self._timer_handlers.values()):
            unsubscribe()
        self._unsubscribe.clear()
        self._timer_handlers.clear()
        self._refresh.async_shutdown()
        await self.client.async_stop()
        await self.credentials.async_stop()
        self._fail_announcements("Home Assistant is unloading the bridge")

    async def _async_hass_stopping(self, _event: Event) -> None:
        await self.client.async_stop()  # a clean close (1000): the bridge knows at once

    @callback
    def async_restore_satellites(self) -> None:
        """The satellites Home Assistant knew from before (their entities come back, unavailable until seen)."""
        registry = dr.async_get(self.hass)
        prefix = f"{self.bridge_id}/"
        for device in dr.async_entries_for_config_entry(registry, self.entry.entry_id):
            for domain, identifier in device.identifiers:
                if domain == DOMAIN and identifier.startswith(prefix):
                    sat_id = identifier.removeprefix(prefix)
                    satellite = Satellite(sat_id, device.name or sat_id, device_id=device.id)
                    self.satellites[sat_id] = satellite
                    self._async_register_timers(satellite)

    @callback
    def async_spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """Run ``coro`` in the background, tied to the entry."""
        self.entry.async_create_background_task(self.hass, coro, f"gemini_live {name}")

    async def async_send(self, message: dict[str, Any]) -> bool:
        """Send a message on the link (False when it is down)."""
        return await self.client.async_send(message)

    # --------------------------------------------------------------------------- the link

    async def async_link_up(self, welcome: Welcome) -> None:
        """Paired (again): learn the satellites, configure all of them, restore mutes, mint a token ahead."""
        if self.link_state != LINK_CONNECTED:
            LOGGER.info("The link to the Gemini Live bridge at %s is up again", self.data[CONF_HOST])
        self.welcome = welcome
        self.link_state, self.link_error = LINK_CONNECTED, None
        self.device_id = (
            dr.async_get(self.hass)
            .async_get_or_create(
                config_entry_id=self.entry.entry_id,
                identifiers={(DOMAIN, self.bridge_id)},
                name=self.entry.title,
                manufacturer="Gemini Live",
                model="Gemini Live bridge",
                sw_version=welcome.hello.version,
            )
            .id
        )
        self._sent.clear()  # the bridge may have restarted: it gets everything again
        self._async_update_satellites(welcome.satellites)
        for sat_id, muted in self._wanted_mute.items():
            if muted and sat_id in self.satellites:
                await self.async_send({"type": "mute", "satellite": sat_id, "muted": True})
        await self._async_configure_all()
        if not welcome.own_credentials:
            self.credentials.async_mint_ahead(self.model)
        self._async_changed()

    @callback
    def async_link_down(self, reason: str) -> None:
        """The link dropped (or another attempt failed): entities go unavailable; the reason is kept."""
        if self.link_state == LINK_CONNECTED:
            LOGGER.warning(
                "The link to the Gemini Live bridge at %s is down (%s); reconnecting", self.data[CONF_HOST], reason
            )
        else:
            LOGGER.debug("Still no link to the Gemini Live bridge: %s", reason)
        self.link_state, self.link_error = LINK_DISCONNECTED, reason
        self._fail_announcements("the link to the bridge dropped")
        self._async_changed()

    @callback
    def async_link_refused(self, reason: str) -> None:
        """The bridge no longer accepts the pairing token: ask the user for the new one."""
        LOGGER.error("The Gemini Live bridge at %s refused the pairing token: %s", self.data[CONF_HOST], reason)
        self.link_state, self.link_error = LINK_REFUSED, reason
        self._fail_announcements("the bridge refused the pairing token")
        self.entry.async_start_reauth(self.hass)
        self._async_changed()

    @callback
    def async_link_message(self, message: dict[str, Any]) -> None:
        """One message from the bridge."""
        kind = message["type"]
        if kind == "satellites" and isinstance(message.get("satellites"), list):
            self._async_update_satellites(message["satellites"])
        elif kind == "state":
            self._async_state(message)
        elif kind == "credentials_request":
            self.async_spawn(self._async_credentials(message), "credentials")
        elif kind == "tool_call":
            self.calls.async_tool_call(message)
        elif kind == "confirm":
            self.calls.async_confirm(message)
        elif kind == "turn":
            self._async_turn(message)
        elif kind == "announce_done":
            future = self._announcements.get(str(message.get("id")))
            if future is not None and not future.done():
                error = message.get("error")
                future.set_result(str(error) if error else None)
        elif kind == "error":
            LOGGER.warning(
                "The bridge could not handle a message: %s (%s)", message.get("message"), message.get("code")
            )
        elif kind != "pong":
            LOGGER.debug("Ignoring a link message of type %s", kind)

    @callback
    def _async_changed(self) -> None:
        async_dispatcher_send(self.hass, signal_update(self.entry.entry_id))

    # --------------------------------------------------------------------------- satellites

    @callback
    def _async_update_satellites(self, listed: list[Any]) -> None:
        items = [item for item in listed if isinstance(item, dict) and isinstance(item.get("id"), str)]
        for gone in self.satellites.keys() - {item["id"] for item in items}:
            self.satellites[gone].connected = False  # the bridge no longer controls it
        for item in items:
            sat_id: str = item["id"]
            satellite = self.satellites.get(sat_id)
            if satellite is None:
                satellite = self.satellites[sat_id] = Satellite(sat_id, sat_id)
            satellite.connected = item.get("connected") is True
            satellite.wake = str(item.get("wake") or "satellite")
            if isinstance(item.get("name"), str) and item["name"]:
                satellite.name = item["name"]
            if not satellite.connected:
                continue
            if satellite.device_id is None:
                # A satellite appears once it has connected: its name is then its own, not its address.
                self._async_add_device(satellite)
                async_dispatcher_send(self.hass, signal_new_satellite(self.entry.entry_id), satellite)
                self.async_spawn(self._async_configure(sat_id), f"configure {sat_id}")
            else:
                self._async_rename_device(satellite)
        self._async_changed()

    @callback
    def _async_add_device(self, satellite: Satellite) -> None:
        device = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={satellite_identifier(self.bridge_id, satellite.id)},
            name=satellite.name,
            manufacturer="Wyoming",
            model="Voice satellite",
            via_device_id=self.device_id,
        )
        satellite.device_id = device.id
        self._async_register_timers(satellite)

    @callback
    def _async_rename_device(self, satellite: Satellite) -> None:
        registry = dr.async_get(self.hass)
        if (
            satellite.device_id
            and (device := registry.async_get(satellite.device_id))
            and device.name != satellite.name
        ):
            registry.async_update_device(device.id, name=satellite.name)

    @callback
    def async_forget_satellite(self, device_id: str) -> bool:
        """Whether a device may be removed: a satellite the bridge does not have now (never the bridge's own)."""
        if device_id == self.device_id:
            return False
        for sat_id, satellite in list(self.satellites.items()):
            if satellite.device_id == device_id:
                if satellite.connected and self.client.connected:
                    return False
                del self.satellites[sat_id]
                self.setups.pop(sat_id, None)
                if (unregister := self._timer_handlers.pop(device_id, None)) is not None:
                    unregister()
        return True

    @callback
    def _async_state(self, message: dict[str, Any]) -> None:
        satellite = self.satellites.get(str(message.get("satellite")))
        if satellite is None:
            return
        satellite.state = str(message.get("state") or "idle")
        satellite.muted = message.get("muted") is True
        if satellite.state in ("idle", "error"):  # "error": the last turn failed; the satellite is free
            satellite.idle.set()
        else:
            satellite.idle.clear()
        self._async_changed()

    @callback
    def describe_satellite(self, satellite: str) -> dict[str, Any]:
        """The satellite's name, device and entity, for events and the log."""
        known = self.satellites.get(satellite)
        entity_id = er.async_get(self.hass).async_get_entity_id(
            Platform.ASSIST_SATELLITE, DOMAIN, f"{self.bridge_id}/{satellite}"
        )
        return {
            "satellite": satellite,
            "name": known.name if known else satellite,
            "device_id": known.device_id if known else None,
            "entity_id": entity_id,
        }

    @callback
    def _async_turn(self, message: dict[str, Any]) -> None:
        sat_id = str(message.get("satellite"))
        turn = {key: message.get(key) for key in ("turn", "user", "reply", "tools", "error")}
        if (satellite := self.satellites.get(sat_id)) is not None:
            satellite.last_turn = turn
        LOGGER.debug("[%s turn %s] heard %r, answered %r", sat_id, turn["turn"], turn["user"], turn["reply"])
        self.hass.bus.async_fire(EVENT_TURN, {**self.describe_satellite(sat_id), **turn})

    # ------------------------------------------------------------------------- configure

    def setup_for(self, satellite: str) -> SatelliteSetup | None:
        """The satellite's current tools and settings."""
        return self.setups.get(satellite)

    @callback
    def _async_schedule_refresh(self) -> None:
        self._refresh.async_schedule_call()

    @callback
    def _async_registry_changed(self, _event: Event[Any]) -> None:
        # Names, aliases and areas shape the tools' targets and the prompt ("You are in area ...").
        self._async_schedule_refresh()

    async def async_options_changed(self) -> None:
        """The options changed: the satellites' next sessions use them (the bridge renews its standby)."""
        await self._async_configure_all()

    async def _async_configure_all(self) -> None:
        for sat_id, satellite in list(self.satellites.items()):
            if satellite.device_id is not None:
                await self._async_configure(sat_id)

    async def _async_configure(self, sat_id: str) -> None:
        satellite = self.satellites[sat_id]
        setup = await async_satellite_setup(self.hass, self.options, satellite.device_id)
        self.setups[sat_id] = setup
        payload = {"options": setup.options, "tools": setup.tools, "endpoint": await self._async_endpoint()}
        if self._sent.get(sat_id) == payload or not self.client.connected:
            return
        revision = next(self._revisions)
        message = {
            "type": "configure",
            "satellite": sat_id,
            "revision": revision,
            **payload,
            "tools": list(setup.tools),
        }
        if dropped := _fit(message):
            LOGGER.warning(
                "[%s] %d of the LLM API's tools do not fit in one configure message and are left out: %s",
                sat_id,
                len(dropped),
                ", ".join(dropped),
            )
        if await self.async_send(message):
            self._sent[sat_id] = payload
            LOGGER.debug("[%s] configured (revision %d, %d tools)", sat_id, revision, len(setup.tools))

    async def _async_endpoint(self) -> dict[str, Any] | None:
        """The account's custom endpoint (the emulator, a proxy), so that the bridge reaches the same Gemini."""
        account = self.hass.config_entries.async_get_entry(self.data[CONF_ACCOUNT])
        if account is None or not (base_url := account.data.get(CONF_BASE_URL)):
            return None
        ca_pem: str | None = None
        if ca_file := account.data.get(CONF_CA_FILE):
            if ca_file not in self._ca_pem:
                self._ca_pem[ca_file] = await self.hass.async_add_executor_job(Path(ca_file).read_text, "utf-8")
            ca_pem = self._ca_pem[ca_file]
        return {"base_url": base_url, "ca_pem": ca_pem, "api_version": None}

    async def _async_credentials(self, message: dict[str, Any]) -> None:
        count = message.get("count")
        answer = await self.credentials.async_answer(
            str(message.get("id")), count if isinstance(count, int) and not isinstance(count, bool) else 1, self.model
        )
        await self.async_send(answer)

    # ---------------------------------------------------------------------- mute, announce

    async def async_set_muted(self, sat_id: str, muted: bool) -> None:
        """The mute switch: sent now, and again after every reconnect."""
        self._wanted_mute[sat_id] = muted
        await self.async_send({"type": "mute", "satellite": sat_id, "muted": muted})

    async def async_restore_mute(self, sat_id: str, muted: bool) -> None:
        """The switch's state from before a restart (sent now, and after every reconnect)."""
        if sat_id in self._wanted_mute:
            return
        self._wanted_mute[sat_id] = muted
        if muted:
            await self.async_send({"type": "mute", "satellite": sat_id, "muted": True})

    def wanted_mute(self, sat_id: str) -> bool:
        """Whether the satellite should be muted (as its switch says, else as the bridge reports)."""
        satellite = self.satellites.get(sat_id)
        return self._wanted_mute.get(sat_id, satellite.muted if satellite else False)

    async def async_announce(
        self,
        sat_id: str,
        *,
        text: str,
        audio: AnnouncementAudio | None,
        listen: bool = False,
        prompt: str | None = None,
    ) -> None:
        """Play an announcement on a satellite (Gemini says ``text`` when there is no audio); wait until played.

        Raises :class:`HomeAssistantError` when the link is down or the bridge could not play it.
        """
        if not self.client.connected:
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="bridge_not_linked")
        announce_id = ulid_util.ulid_now()
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._announcements[announce_id] = future
        seconds = 0.0
        try:
            sent = await self.async_send(
                {
                    "type": "announce",
                    "id": announce_id,
                    "satellite": sat_id,
                    "text": text,
                    "format": audio.format.as_message() if audio is not None else None,
                    "listen": listen,
                    "prompt": prompt,
                }
            )
            if sent and audio is not None:
                try:
                    async for pcm in _frames(audio.pcm, audio.format.frame_bytes):
                        if future.done():
                            break  # the bridge gave up on it already
                        seconds += len(pcm) / (audio.format.frame_bytes * audio.format.rate)
                        message = {"type": "announce_audio", "id": announce_id, "pcm": base64.b64encode(pcm).decode()}
                        if not (sent := await self.async_send(message)):
                            break
                finally:
                    if sent:
                        sent = await self.async_send({"type": "announce_end", "id": announce_id})
            if not sent:
                raise HomeAssistantError(translation_domain=DOMAIN, translation_key="bridge_not_linked")
            async with asyncio.timeout(ANNOUNCE_TIMEOUT_S + seconds):
                error = await future
        except TimeoutError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="announce_failed",
                translation_placeholders={"error": "the bridge did not say it was played"},
            ) from err
        finally:
            self._announcements.pop(announce_id, None)
        if error:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="announce_failed", translation_placeholders={"error": error}
            )

    @callback
    def _fail_announcements(self, why: str) -> None:
        for future in self._announcements.values():
            if not future.done():
                future.set_result(why)

    # ------------------------------------------------------------------------------ timers

    @callback
    def _async_register_timers(self, satellite: Satellite) -> None:
        """Timers started on the satellite's device are announced on it when they finish."""
        if satellite.device_id is None or "intent" not in self.hass.config.components:
            return
        if satellite.device_id not in self._timer_handlers:
            self._timer_handlers[satellite.device_id] = async_register_timer_handler(
                self.hass, satellite.device_id, functools.partial(self._async_timer_event, satellite.id)
            )

    @callback
    def _async_timer_event(self, sat_id: str, event_type: TimerEventType, timer: TimerInfo) -> None:
        if event_type is TimerEventType.FINISHED:
            self.async_spawn(self._async_announce_timer(sat_id, timer), f"timer {timer.id}")

    async def _async_announce_timer(self, sat_id: str, timer: TimerInfo) -> None:
        text = timer_finished_text(timer)
        for attempt in range(1, TIMER_ATTEMPTS + 1):
            satellite = self.satellites.get(sat_id)
            if satellite is None:
                return
            try:
                # A timer can finish mid-conversation: it is announced once the satellite is free again.
                async with asyncio.timeout(IDLE_WAIT_S):
                    await satellite.idle.wait()
                await self.async_announce(sat_id, text=text, audio=None)
            except (HomeAssistantError, TimeoutError) as err:
                LOGGER.info("[%s] The finished timer could not be announced yet: %s", sat_id, err)
                await asyncio.sleep(TIMER_RETRY_S * attempt)  # a conversation may have begun meanwhile
                continue
            return
        LOGGER.warning("[%s] Gave up announcing a finished timer (%s)", sat_id, text)


def timer_finished_text(timer: TimerInfo) -> str:
    """What Gemini is asked to tell the user when a timer finished."""
    if timer.name:
        what = f'the timer "{timer.name}"'
    else:
        parts = [
            f"{value} {unit}{'' if value == 1 else 's'}"
            for value, unit in (
                (timer.start_hours, "hour"),
                (timer.start_minutes, "minute"),
                (timer.start_seconds, "second"),
            )
            if value
        ]
        what = f"the timer of {' '.join(parts)}" if parts else "the timer"
    return f"Tell the user, briefly and in their language, that {what} has finished."


def _fit(message: dict[str, Any]) -> list[str]:
    """Trim a configure message's tools to the link's limits (count and size); the names of those left out."""
    tools: list[dict[str, Any]] = message["tools"]
    dropped = [str(tool.get("name")) for tool in tools[protocol.MAX_TOOLS :]]
    del tools[protocol.MAX_TOOLS :]
    size = len(protocol.dump(message).encode())
    while tools and size > protocol.MAX_MESSAGE_BYTES:
        tool = tools.pop()
        dropped.insert(0, str(tool.get("name")))
        size -= len(protocol.dump(tool).encode()) + 1
    return dropped


async def _frames(chunks: AsyncIterator[bytes], frame_bytes: int) -> AsyncIterator[bytes]:
    """PCM in pieces of at most 64 KiB, each a whole number of frames."""
    limit = protocol.MAX_AUDIO_CHUNK_BYTES - protocol.MAX_AUDIO_CHUNK_BYTES % frame_bytes
    pending = bytearray()
    async for data in chunks:
        pending.extend(data)
        while len(pending) >= limit:
            yield bytes(pending[:limit])
            del pending[:limit]
        whole = len(pending) - len(pending) % frame_bytes
        if whole:
            yield bytes(pending[:whole])
            del pending[:whole]
    if pending:
        yield bytes(pending)


async def async_setup_bridge_entry(hass: HomeAssistant, entry: BridgeConfigEntry) -> bool:
    """Pair with the bridge, then set up the satellites' entities; the link then runs in the background."""
    if hass.config_entries.async_get_entry(entry.data[CONF_ACCOUNT]) is None:
        raise ConfigEntryError(translation_domain=DOMAIN, translation_key="bridge_account_missing")
    runtime = BridgeRuntime(hass, entry)
    try:
        welcome = await runtime.client.async_connect()
    except PairingRefused as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="bridge_refused", translation_placeholders={"reason": str(err)}
        ) from err
    except BridgeIncompatible as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="bridge_incompatible",
            translation_placeholders={"reason": str(err)},
        ) from err
    except LinkError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="bridge_unreachable",
            translation_placeholders={"host": entry.data[CONF_HOST], "reason": str(err)},
        ) from err
    entry.runtime_data = runtime
    runtime.async_restore_satellites()
    await runtime.async_link_up(welcome)
    await hass.config_entries.async_forward_entry_setups(entry, BRIDGE_PLATFORMS)
    runtime.async_start()
    entry.async_on_unload(runtime.async_stop)
    entry.async_on_unload(entry.add_update_listener(_async_bridge_updated))
    return True


async def async_unload_bridge_entry(hass: HomeAssistant, entry: BridgeConfigEntry) -> bool:
    """Unload the satellites' entities (the link closes with the entry's unload callbacks)."""
    return await hass.config_entries.async_unload_platforms(entry, BRIDGE_PLATFORMS)


async def _async_bridge_updated(hass: HomeAssistant, entry: BridgeConfigEntry) -> None:
    """New options apply from the satellites' next sessions; a new address or token needs a new link."""
    runtime = entry.runtime_data
    if dict(entry.data) != runtime.data:
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    await runtime.async_options_changed()

"""Home Assistant speaks on a bridged satellite: announcements (its TTS, or a WAV file) and conversations it starts."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from gemini_live_emulator import Call, Emulator, Say, Scenario, Turn
from homeassistant.components import assist_pipeline
from homeassistant.components.assist_pipeline.pipeline import async_update_pipeline
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component

from custom_components.gemini_live.const import SUBENTRY_CONVERSATION, SUBENTRY_TTS
from tests.audio import silence, speech_pcm
from tests.gemini_live.common import entity_of

from .helpers import RunningBridge, add_bridge_entry, satellite_entity
from .satellite import TalkingSatellite
from .test_voice import link_satellite

SATELLITE_RATE = 22050  # what the simulated satellite asks for (its snd_format)


def wav_bytes(pcm: bytes, rate: int) -> bytes:
    """16-bit mono PCM as a WAV file."""
    with io.BytesIO() as buffer:
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(pcm)
        return buffer.getvalue()


@pytest.fixture
async def pipeline(hass: HomeAssistant, developer_entry: ConfigEntry) -> str:
    """The preferred pipeline speaks with Gemini's TTS and converses with Gemini (the account's agents)."""
    assert await async_setup_component(hass, "assist_pipeline", {})
    preferred = assist_pipeline.async_get_pipeline(hass)
    await async_update_pipeline(
        hass,
        preferred,
        conversation_engine=entity_of(hass, developer_entry, SUBENTRY_CONVERSATION, "conversation"),
        conversation_language="en",
        language="en",
        tts_engine=entity_of(hass, developer_entry, SUBENTRY_TTS, "tts"),
        tts_language="en-US",
        tts_voice="Puck",
    )
    return preferred.id


@pytest.fixture
async def media_server() -> AsyncIterator[tuple[str, bytes]]:
    """A web server with a spoken WAV (/dinner.wav) and a file that is not WAV (/chime.mp3); its URL, the WAV's PCM."""
    pcm = speech_pcm("Dinner is ready.", "en-US") + silence(0.2, 16000)
    files = {"dinner.wav": wav_bytes(pcm, 16000), "chime.mp3": b"ID3\x04\x00" + bytes(2000)}

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=files[request.match_info["name"]])

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", pcm
    finally:
        await runner.cleanup()


@pytest.mark.usefixtures("pipeline")
async def test_announcement_plays_home_assistants_tts(
    hass: HomeAssistant, bridge: RunningBridge, satellite: TalkingSatellite, emulator: Emulator
) -> None:
    """assist_satellite.announce: Gemini's TTS (through the pipeline) plays on the satellite; no Live turn runs."""
    entry = await add_bridge_entry(hass, bridge.port)
    await link_satellite(bridge, satellite)
    entity_id = satellite_entity(hass, entry, "assist_satellite", satellite.uri)
    await hass.services.async_call(
        "assist_satellite", "announce", {"entity_id": entity_id, "message": "Dinner is ready."}, blocking=True
    )
    [announce] = bridge.probe.of_type("announce")
    assert announce["text"] == "Dinner is ready."
    assert announce["format"] == {"rate": 24000, "width": 2, "channels": 1}
    assert announce["listen"] is False
    assert sum(len(m["pcm"]) for m in bridge.probe.of_type("announce_audio")) > 0
    seconds = len(satellite.record.played) / (2 * SATELLITE_RATE)
    assert seconds > 0.5, "the announcement was played"
    assert bridge.turns.turns.empty(), "an announcement is not a conversation"
    assert not [c for c in emulator.connections if c.user_turns]


async def test_announcement_plays_a_wav_file(
    hass: HomeAssistant,
    developer_entry: ConfigEntry,
    bridge: RunningBridge,
    satellite: TalkingSatellite,
    media_server: tuple[str, bytes],
) -> None:
    """A WAV file by URL is decoded in Home Assistant and streamed as PCM; the satellite plays all of it."""
    url, pcm = media_server
    entry = await add_bridge_entry(hass, bridge.port)
    await link_satellite(bridge, satellite)
    entity_id = satellite_entity(hass, entry, "assist_satellite", satellite.uri)
    await hass.services.async_call(
        "assist_satellite",
        "announce",
        {"entity_id": entity_id, "media_id": f"{url}/dinner.wav", "preannounce": False},
        blocking=True,
    )
    [announce] = bridge.probe.of_type("announce")
    assert announce["format"] == {"rate": 16000, "width": 2, "channels": 1}
    assert len(satellite.record.played) / (2 * SATELLITE_RATE) == pytest.approx(len(pcm) / (2 * 16000), abs=0.05)


async def test_announcement_in_another_format_needs_ffmpeg(
    hass: HomeAssistant,
    developer_entry: ConfigEntry,
    bridge: RunningBridge,
    satellite: TalkingSatellite,
    media_server: tuple[str, bytes],
) -> None:
    """Without ffmpeg, media that is not WAV cannot be announced: the action fails saying so; nothing is sent."""
    url, _pcm = media_server
    entry = await add_bridge_entry(hass, bridge.port)
    await link_satellite(bridge, satellite)
    entity_id = satellite_entity(hass, entry, "assist_satellite", satellite.uri)
    with pytest.raises(HomeAssistantError, match="ffmpeg"):
        await hass.services.async_call(
            "assist_satellite",
            "announce",
            {"entity_id": entity_id, "media_id": f"{url}/chime.mp3", "preannounce": False},
            blocking=True,
        )
    assert bridge.probe.of_type("announce") == []


@pytest.mark.usefixtures("pipeline", "lights")
async def test_start_conversation_listens_without_a_wake_word(
    hass: HomeAssistant, bridge: RunningBridge, satellite: TalkingSatellite, emulator: Emulator
) -> None:
    """assist_satellite.start_conversation: the message plays, then the user answers without a wake word."""
    emulator.scenario = Scenario(
        turns=(
            Turn(
                user="yes please",
                steps=(Call("intent__HassTurnOn", {"name": "Kitchen light"}), Say("The kitchen light is on.")),
            ),
        )
    )
    entry = await add_bridge_entry(hass, bridge.port)
    await link_satellite(bridge, satellite)
    entity_id = satellite_entity(hass, entry, "assist_satellite", satellite.uri)
    await hass.services.async_call(
        "assist_satellite",
        "start_conversation",
        {
            "entity_id": entity_id,
            "start_message": "It is getting dark. Shall I turn on the kitchen light?",
            "extra_system_prompt": "The user is in the kitchen.",
        },
        blocking=True,
    )
    [announce] = bridge.probe.of_type("announce")
    assert announce["listen"] is True
    assert announce["prompt"] == "The user is in the kitchen."

    satellite.say(speech_pcm("yes please", "en-US"))
    turn = await bridge.turns.next()
    assert turn.trigger == "conversation started by Home Assistant"
    assert turn.user_text.strip() == "yes please"
    assert turn.reply_text.strip() == "The kitchen light is on."
    assert hass.states.get("light.kitchen_light").state == "on"
    assert satellite.record.of_type("detection") == [], "no wake word was said or needed"

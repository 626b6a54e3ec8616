"""The AI task entity against the emulator: text, JSON in the task's structure (sent as Gemini's response
schema), files attached from Home Assistant's media, and the sentences a person reads when it fails."""

from __future__ import annotations

import io
from pathlib import Path
from types import MappingProxyType
from typing import Any

import probatio as vol
import pytest
from gemini_live_emulator import Emulator, Refuse, Say, Scenario, Turn
from homeassistant.components import ai_task, conversation
from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import selector
from homeassistant.setup import async_setup_component
from PIL import Image

from custom_components.gemini_live.attachments import INLINE_LIMIT_BYTES, async_attachment_parts
from custom_components.gemini_live.const import (
    CONF_CHAT_MODEL,
    CONF_RECOMMENDED,
    RECOMMENDED_CHAT_MODEL,
    RECOMMENDED_IMAGE_MODEL,
    SUBENTRY_AI_TASK,
)

from .common import entity_of

LIGHTS_JSON = '{"lights": ["Kitchen light", "Garage light"], "count": 2}'
STRUCTURE = vol.Schema(
    {
        vol.Required("lights", description="Names of the lights"): selector.TextSelector(
            selector.TextSelectorConfig(multiple=True)
        ),
        vol.Required("count"): selector.NumberSelector(selector.NumberSelectorConfig(min=0, max=10)),
    }
)


@pytest.fixture
def scenario() -> Scenario:
    """What the tasks ask and what the model answers."""
    return Scenario(
        turns=(
            Turn(user="list the lights", steps=(Say(LIGHTS_JSON),)),
            Turn(user="tell me a story", steps=(Say("Once upon a time there was a light."),)),
            Turn(user="describe the picture", steps=(Say("A red square."),)),
            Turn(user="draw a square", steps=(Say("Here is your square."),)),
            Turn(user="draw something forbidden", steps=(Refuse(),)),
            Turn(user="draw something unsafe", steps=(Refuse("RESPONSE_REJECTED"),)),
        )
    )


def task_entity(hass: HomeAssistant, entry: ConfigEntry) -> str:
    """The entry's AI task entity."""
    return entity_of(hass, entry, SUBENTRY_AI_TASK, "ai_task")


def last_user_parts(emulator: Emulator) -> list[dict[str, Any]]:
    """The parts of the last user message Gemini was sent."""
    contents = emulator.rest_requests[-1].body["contents"]
    return [content for content in contents if content.get("role") == "user"][-1]["parts"]


async def test_text(hass: HomeAssistant, developer_entry: ConfigEntry, emulator: Emulator) -> None:
    """A task without a structure gets Gemini's text, and asks for no JSON."""
    entity_id = task_entity(hass, developer_entry)
    state = hass.states.get(entity_id)
    assert state is not None
    features = ai_task.AITaskEntityFeature(state.attributes["supported_features"])
    assert features == (
        ai_task.AITaskEntityFeature.GENERATE_DATA
        | ai_task.AITaskEntityFeature.SUPPORT_ATTACHMENTS
        | ai_task.AITaskEntityFeature.GENERATE_IMAGE
    )

    result = await ai_task.async_generate_data(
        hass, task_name="story", entity_id=entity_id, instructions="tell me a story"
    )
    assert result.data == "Once upon a time there was a light."
    config = emulator.rest_requests[-1].body.get("generationConfig", {})
    assert "responseMimeType" not in config
    assert "responseSchema" not in config


async def test_structured_data(hass: HomeAssistant, vertex_entry: ConfigEntry, emulator: Emulator) -> None:
    """A task's structure goes to Gemini as its response schema, and the JSON answer comes back as data."""
    result = await ai_task.async_generate_data(
        hass,
        task_name="lights",
        entity_id=task_entity(hass, vertex_entry),
        instructions="list the lights",
        structure=STRUCTURE,
    )
    assert result.data == {"lights": ["Kitchen light", "Garage light"], "count": 2}
    config = emulator.rest_requests[-1].body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"] == {
        "type": "OBJECT",
        "properties": {
            "lights": {"type": "ARRAY", "items": {"type": "STRING"}, "description": "Names of the lights"},
            "count": {"type": "NUMBER", "minimum": 0, "maximum": 10},
        },
        "required": ["lights", "count"],
        "propertyOrdering": ["lights", "count"],  # the SDK adds the order of the structure's keys
    }


async def test_an_answer_that_is_not_json(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """Text where JSON was asked for fails with one sentence the user can read."""
    await async_setup_component(hass, "ai_task", {})
    with pytest.raises(HomeAssistantError) as raised:
        await ai_task.async_generate_data(
            hass,
            task_name="story",
            entity_id=task_entity(hass, developer_entry),
            instructions="tell me a story",
            structure=STRUCTURE,
        )
    assert raised.value.translation_key == "not_json"
    assert str(raised.value) == "Gemini's answer was not the data that was asked for"  # HA drops the full stop


async def test_gemini_away(hass: HomeAssistant, developer_entry: ConfigEntry, emulator: Emulator) -> None:
    """Gemini unreachable: one sentence for data and for images, and the task entity is unavailable like
    the other agents."""
    entity_id = task_entity(hass, developer_entry)
    await emulator.stop()
    with pytest.raises(HomeAssistantError) as raised:
        await ai_task.async_generate_data(hass, task_name="story", entity_id=entity_id, instructions="tell me a story")
    assert str(raised.value) == "I can't reach Gemini right now"  # HA drops the full stop
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == "unavailable"
    with pytest.raises(HomeAssistantError) as raised:
        await ai_task.async_generate_image(hass, task_name="square", entity_id=entity_id, instructions="draw a square")
    assert str(raised.value) == "I can't reach Gemini right now"


@pytest.fixture
async def media(hass: HomeAssistant, tmp_path: Path) -> Path:
    """Home Assistant's local media folder, with a picture in it."""
    folder = tmp_path / "media"
    folder.mkdir()
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(buffer, format="PNG")
    (folder / "square.png").write_bytes(buffer.getvalue())
    hass.config.media_dirs = {"local": str(folder)}
    assert await async_setup_component(hass, "media_source", {})
    return folder


async def test_attachments_go_with_the_instructions(
    hass: HomeAssistant, media: Path, developer_entry: ConfigEntry, emulator: Emulator
) -> None:
    """A picture from the media folder reaches Gemini inline, after the task's instructions.

    (``media`` comes first: the entry's AI task platform sets up media_source with the folders it finds.)
    """
    result = await ai_task.async_generate_data(
        hass,
        task_name="picture",
        entity_id=task_entity(hass, developer_entry),
        instructions="describe the picture",
        attachments=[{"media_content_id": "media-source://media_source/local/square.png", "media_content_type": ""}],
    )
    assert result.data == "A red square."
    text, picture = last_user_parts(emulator)
    assert text == {"text": "describe the picture"}
    assert picture["inlineData"]["mimeType"] == "image/png"
    assert picture["inlineData"]["data"] == (media / "square.png").read_bytes()  # the parser decodes bytes


async def test_unreadable_attachment(hass: HomeAssistant, tmp_path: Path) -> None:
    """A file that is gone by the time it is read: one sentence, no traceback."""
    await async_setup_component(hass, "homeassistant", {})
    gone = conversation.Attachment(media_content_id="media-source://x", mime_type="image/png", path=tmp_path / "gone")
    with pytest.raises(HomeAssistantError) as raised:
        await async_attachment_parts(hass, [gone])
    assert raised.value.translation_key == "attachment_unreadable"


async def test_attachments_too_large_to_send(hass: HomeAssistant, tmp_path: Path) -> None:
    """More than Gemini takes inline is refused before anything is sent."""
    big = tmp_path / "big.txt"
    with big.open("wb") as file:
        file.truncate(INLINE_LIMIT_BYTES + 1)
    attachment = conversation.Attachment(media_content_id="media-source://x", mime_type="", path=big)
    with pytest.raises(HomeAssistantError) as raised:
        await async_attachment_parts(hass, [attachment])
    assert raised.value.translation_key == "attachment_too_large"
    small = tmp_path / "small.txt"
    small.write_bytes(b"hello")
    [part] = await async_attachment_parts(
        hass, [conversation.Attachment(media_content_id="media-source://y", mime_type="", path=small)]
    )
    assert part.inline_data is not None
    assert part.inline_data.mime_type == "text/plain"  # guessed from the name when not given


async def test_image(hass: HomeAssistant, media: Path, developer_entry: ConfigEntry, emulator: Emulator) -> None:
    """The recommended image model draws; the picture lands in Home Assistant's media, Gemini's words in the log."""
    result = await ai_task.async_generate_image(
        hass, task_name="square", entity_id=task_entity(hass, developer_entry), instructions="draw a square"
    )
    assert result["mime_type"] == "image/png"
    assert result["model"] == RECOMMENDED_IMAGE_MODEL
    assert emulator.rest_requests[-1].body["generationConfig"]["responseModalities"] == ["TEXT", "IMAGE"]
    saved = media / "ai_task" / result["media_source_id"].removeprefix("media-source://ai_task/")
    with Image.open(saved) as picture:
        assert picture.format == "PNG"
        assert picture.size == (64, 64)


@pytest.mark.parametrize(
    "case",
    [
        ("draw something forbidden", "blocked", "Gemini would not answer that"),
        ("draw something unsafe", "no_image", "Gemini did not make an image"),
    ],
)
async def test_image_refused(
    hass: HomeAssistant, media: Path, developer_entry: ConfigEntry, case: tuple[str, str, str]
) -> None:
    """A blocked prompt, or an answer without a picture: one sentence each (HA drops the full stop)."""
    instructions, key, sentence = case
    with pytest.raises(HomeAssistantError) as raised:
        await ai_task.async_generate_image(
            hass, task_name="refused", entity_id=task_entity(hass, developer_entry), instructions=instructions
        )
    assert raised.value.translation_key == key
    assert str(raised.value) == sentence


async def test_image_needs_an_image_model(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """A task with a chosen text model does not offer images; with a chosen image model it draws with it."""
    for title, model in (("Writer", RECOMMENDED_CHAT_MODEL), ("Painter", RECOMMENDED_IMAGE_MODEL)):
        hass.config_entries.async_add_subentry(
            developer_entry,
            ConfigSubentry(
                data=MappingProxyType({CONF_RECOMMENDED: False, CONF_CHAT_MODEL: model}),
                subentry_type=SUBENTRY_AI_TASK,
                title=title,
                unique_id=None,
            ),
        )
    await hass.async_block_till_done()
    writer = hass.states.get("ai_task.writer")
    painter = hass.states.get("ai_task.painter")
    assert writer is not None
    assert painter is not None
    assert not ai_task.AITaskEntityFeature(writer.attributes["supported_features"]) & (
        ai_task.AITaskEntityFeature.GENERATE_IMAGE
    )
    assert ai_task.AITaskEntityFeature.GENERATE_IMAGE in ai_task.AITaskEntityFeature(
        painter.attributes["supported_features"]
    )

"""The conversation agent against the emulator: Assist tools that really change an exposed light (and are
refused for an unexposed one), streaming, follow-up questions in English and Arabic, errors."""

from __future__ import annotations

from typing import Any

import pytest
from gemini_live_emulator import Call, Emulator, Refuse, Say, Scenario, Turn
from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_LLM_HASS_API
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import chat_session, intent, llm
from homeassistant.setup import async_setup_component

from custom_components.gemini_live.const import CONF_RECOMMENDED, DOMAIN, SUBENTRY_CONVERSATION
from custom_components.gemini_live.conversation import asks_question
from custom_components.gemini_live.schema import ToolNameMap

from .common import entity_of

LONG_SCRIPT = "open_the_garden_gate_and_switch_on_the_path_lights_for_the_evening_walk"


async def converse(
    hass: HomeAssistant, entry: ConfigEntry, text: str, language: str = "en", conversation_id: str | None = None
) -> conversation.ConversationResult:
    """Send one message to the entry's conversation agent."""
    agent = entity_of(hass, entry, SUBENTRY_CONVERSATION, "conversation")
    return await conversation.async_converse(hass, text, conversation_id, Context(), language, agent_id=agent)


@pytest.mark.usefixtures("lights")
async def test_tool_call_turns_on_the_exposed_light(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """Gemini calls HassTurnOn; Home Assistant runs it; the light is on; Gemini's answer is spoken."""
    result = await converse(hass, developer_entry, "turn on the kitchen light")
    assert result.response.response_type is intent.IntentResponseType.ACTION_DONE
    assert result.response.speech["plain"]["speech"] == "Done, the kitchen light is on."
    assert result.response.success_results[0].id == "light.kitchen_light"
    assert hass.states.get("light.kitchen_light").state == "on"
    assert hass.states.get("light.garage_light").state == "off"
    assert result.continue_conversation is False


@pytest.mark.usefixtures("lights")
async def test_unexposed_light_is_refused(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """The tool cannot reach an unexposed light; the error goes back to Gemini as an error, and it says so."""
    result = await converse(hass, developer_entry, "turn on the garage light")
    assert result.response.speech["plain"]["speech"] == "I could not: MatchFailedError."
    assert hass.states.get("light.garage_light").state == "off"
    assert hass.states.get("light.kitchen_light").state == "off"


@pytest.mark.usefixtures("lights")
async def test_arabic_request(hass: HomeAssistant, vertex_entry: ConfigEntry) -> None:
    """An Arabic request through Vertex AI turns the light on and is answered in Arabic."""
    agent_id = entity_of(hass, vertex_entry, SUBENTRY_CONVERSATION, "conversation")
    assert conversation.async_get_agent_info(hass, agent_id) is not None
    result = await converse(hass, vertex_entry, "شغل ضوء المطبخ", language="ar")
    assert result.response.speech["plain"]["speech"] == "تم تشغيل ضوء المطبخ."
    assert hass.states.get("light.kitchen_light").state == "on"


@pytest.mark.parametrize(
    ("text", "language", "reply", "follow_up"),
    [
        ("set a timer", "en", "For how long?", True),
        ("اضبط مؤقتا", "ar", "لكم من الوقت؟", True),
        ("tell me a story", "en", "Once upon a time there was a light. It lived happily.", False),
    ],
)
async def test_follow_up_questions(  # noqa: PLR0917 - parametrized
    hass: HomeAssistant, developer_entry: ConfigEntry, text: str, language: str, reply: str, follow_up: bool
) -> None:
    """A reply that asks something keeps the conversation open, with the Arabic question mark too."""
    result = await converse(hass, developer_entry, text, language)
    assert result.response.speech["plain"]["speech"] == reply
    assert result.continue_conversation is follow_up


def test_question_marks() -> None:
    """Trailing quotes and markup do not hide a question; statements are not questions."""
    assert asks_question('Which one: "the lamp?"')
    assert asks_question("¿Cuál?")
    assert asks_question("کدام؟ ")
    assert not asks_question("Done.")
    assert not asks_question(None)


@pytest.mark.usefixtures("lights")
async def test_answer_streams_into_the_chat_log(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """Text reaches the chat log in several deltas while Gemini writes; the tool call arrives as one."""
    deltas: list[dict[str, Any]] = []
    agent = entity_of(hass, developer_entry, SUBENTRY_CONVERSATION, "conversation")
    with (
        chat_session.async_get_chat_session(hass) as session,
        conversation.async_get_chat_log(
            hass, session, chat_log_delta_listener=lambda _log, delta: deltas.append(delta)
        ),
    ):
        result = await conversation.async_converse(
            hass, "turn on the kitchen light", session.conversation_id, Context(), "en", agent_id=agent
        )
        story = await conversation.async_converse(
            hass, "tell me a story", session.conversation_id, Context(), "en", agent_id=agent
        )
    assert result.response.speech["plain"]["speech"] == "Done, the kitchen light is on."
    assert story.response.speech["plain"]["speech"].startswith("Once upon a time")
    calls = [delta["tool_calls"] for delta in deltas if "tool_calls" in delta]
    assert [[call.tool_name for call in group] for group in calls] == [["intent__HassTurnOn"]]
    texts = [delta["content"] for delta in deltas if delta.get("content")]
    assert len(texts) >= 4  # the two answers came in pieces
    assert any(delta.get("role") == "tool_result" for delta in deltas)


@pytest.mark.usefixtures("lights")
async def test_history_from_another_agent(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """A conversation begun with Home Assistant's own agent goes on with Gemini, history included."""
    first = await conversation.async_converse(
        hass, "turn on the kitchen light", None, Context(), "en", agent_id=conversation.HOME_ASSISTANT_AGENT
    )
    assert hass.states.get("light.kitchen_light").state == "on"
    result = await converse(hass, developer_entry, "tell me a story", conversation_id=first.conversation_id)
    assert result.response.speech["plain"]["speech"].startswith("Once upon a time")


async def test_long_tool_name_is_mapped(hass: HomeAssistant, developer_entry: ConfigEntry, emulator: Emulator) -> None:
    """A script whose tool name is longer than Gemini allows is declared shortened and still runs."""
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"gate": {"name": "Gate"}}})
    script = {
        "alias": "Evening walk",
        "sequence": [{"action": "input_boolean.turn_on", "target": {"entity_id": "input_boolean.gate"}}],
    }
    assert await async_setup_component(hass, "script", {"script": {LONG_SCRIPT: script}})
    async_expose_entity(hass, conversation.DOMAIN, f"script.{LONG_SCRIPT}", True)
    api = await llm.async_get_api(hass, llm.LLM_API_ASSIST, llm.LLMContext(DOMAIN, None, "en", "conversation", None))
    tool_name = next(tool.name for tool in api.tools if LONG_SCRIPT in tool.name)
    gemini_name = ToolNameMap([tool_name]).gemini(tool_name)
    assert len(tool_name) > 64 >= len(gemini_name)
    emulator.scenario = Scenario(
        turns=(Turn(user="start the evening walk", steps=(Call(gemini_name), Say("The gate is open."))),)
    )
    result = await converse(hass, developer_entry, "start the evening walk")
    assert result.response.speech["plain"]["speech"] == "The gate is open."
    assert hass.states.get("input_boolean.gate").state == "on"


async def test_quota_error_is_a_conversation_error(
    hass: HomeAssistant, developer_entry: ConfigEntry, emulator: Emulator
) -> None:
    """A 429 mid-conversation is an error response the user hears, not a crash."""
    emulator.config.faults.reject_rest = 2
    result = await converse(hass, developer_entry, "tell me a story")
    assert result.response.response_type is intent.IntentResponseType.ERROR
    # One sentence a voice can say: the service's text (and its URL) goes to the log only.
    assert result.response.speech["plain"]["speech"] == "Gemini's quota is used up; try again later."
    arabic = await converse(hass, developer_entry, "tell me a story", language="ar-SA")
    assert arabic.response.speech["plain"]["speech"] == "نفدت حصة Gemini، حاول لاحقًا."
    assert arabic.response.language == "ar-SA"
    assert arabic.conversation_id


async def test_refusal_is_a_conversation_error(
    hass: HomeAssistant, developer_entry: ConfigEntry, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A blocked prompt and a refused answer are reported as such."""
    emulator.scenario = Scenario(
        turns=(
            Turn(user="something forbidden", steps=(Refuse("PROHIBITED_INPUT_CONTENT"),)),
            Turn(user="say something unsafe", steps=(Refuse("RESPONSE_REJECTED"),)),
        )
    )
    blocked = await converse(hass, developer_entry, "something forbidden")
    assert blocked.response.response_type is intent.IntentResponseType.ERROR
    assert blocked.response.speech["plain"]["speech"] == "Gemini would not answer that."
    refused = await converse(hass, developer_entry, "say something unsafe", language="ar")
    assert refused.response.response_type is intent.IntentResponseType.ERROR
    assert refused.response.speech["plain"]["speech"] == "توقف Gemini قبل أن يكمل إجابته."
    assert "PROHIBITED_CONTENT" in caplog.text  # the reasons are in the log
    assert "SAFETY" in caplog.text


async def test_tool_loop_is_bounded(hass: HomeAssistant, developer_entry: ConfigEntry, emulator: Emulator) -> None:
    """A model that keeps calling tools is stopped after ten rounds."""
    # Consecutive calls go out together; the text between them makes each call a round of its own.
    emulator.scenario = Scenario(
        turns=(
            Turn(
                user="what time is it",
                steps=(*[step for _ in range(11) for step in (Call("GetDateTime"), Say("Checking."))], Say("Late.")),
            ),
        )
    )
    result = await converse(hass, developer_entry, "what time is it")
    assert result.response.response_type is intent.IntentResponseType.ERROR
    assert result.response.speech["plain"]["speech"] == "Gemini kept using tools without giving an answer."


async def test_without_llm_api(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """An agent without tools (and with model settings) just talks."""
    subentry = next(s for s in developer_entry.subentries.values() if s.subentry_type == SUBENTRY_CONVERSATION)
    hass.config_entries.async_update_subentry(
        developer_entry,
        subentry,
        data={CONF_RECOMMENDED: False, "chat_model": "gemini-2.5-flash", "thinking_budget": 0, "temperature": 0.2},
    )
    await hass.async_block_till_done()
    agent = entity_of(hass, developer_entry, SUBENTRY_CONVERSATION, "conversation")
    state = hass.states.get(agent)
    assert state is not None
    assert not state.attributes.get("supported_features")
    assert CONF_LLM_HASS_API not in developer_entry.subentries[subentry.subentry_id].data
    result = await converse(hass, developer_entry, "tell me a story")
    assert result.response.speech["plain"]["speech"].startswith("Once upon a time")


async def test_missing_llm_api_is_a_conversation_error(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """An LLM API that no longer exists is reported, not crashed on."""
    subentry = next(s for s in developer_entry.subentries.values() if s.subentry_type == SUBENTRY_CONVERSATION)
    hass.config_entries.async_update_subentry(
        developer_entry, subentry, data={**subentry.data, CONF_LLM_HASS_API: ["removed_api"]}
    )
    await hass.async_block_till_done()
    result = await converse(hass, developer_entry, "tell me a story")
    assert result.response.response_type is intent.IntentResponseType.ERROR
    assert result.response.speech["plain"]["speech"] == "The tools to control the home are not available right now."
    arabic = await converse(hass, developer_entry, "احك لي قصة", language="ar")
    assert arabic.response.speech["plain"]["speech"] == "أدوات التحكم في المنزل غير متاحة الآن."


async def test_google_search_without_llm_api(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """Google Search goes to Gemini as a tool of its own when the agent does not control Home Assistant."""
    subentry = next(s for s in developer_entry.subentries.values() if s.subentry_type == SUBENTRY_CONVERSATION)
    hass.config_entries.async_update_subentry(
        developer_entry, subentry, data={CONF_RECOMMENDED: False, "enable_google_search_tool": True}
    )
    await hass.async_block_till_done()
    agent = entity_of(hass, developer_entry, SUBENTRY_CONVERSATION, "conversation")
    assert conversation.async_get_conversation_languages(hass, agent) == "*"
    result = await converse(hass, developer_entry, "tell me a story")
    assert result.response.speech["plain"]["speech"].startswith("Once upon a time")

"""Gemini as a conversation agent: streamed answers, Assist tools, follow-up questions in any language."""

from __future__ import annotations

import dataclasses
from typing import Literal, override

from google.genai import types
from homeassistant.components import conversation
from homeassistant.components.conversation.models import AbstractConversationAgent
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_LLM_HASS_API, CONF_PROMPT, MATCH_ALL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import GeminiLiveConfigEntry
from .attachments import async_attachment_parts, last_user_attachments
from .const import CONF_GOOGLE_SEARCH, DOMAIN, LOGGER, RECOMMENDED_CHAT_MODEL, SUBENTRY_CONVERSATION
from .entity import API_EXCEPTIONS, GeminiLiveEntity
from .spoken import async_error_result
from .stream import async_run_turn

PARALLEL_UPDATES = 0

# A reply ending with one of these asks something, so the satellite keeps listening. Home Assistant's
# own check knows "?", the Greek ";" and the full-width "？"; Arabic, Persian and Urdu write "؟".
QUESTION_MARKS = ("?", ";", "？", "؟", "՞", "፧", "꘏", "⸮")
_CLOSING = "\"'”’»)]*_ \n\t"


def asks_question(text: str | None) -> bool:
    """Whether a reply ends with a question, in any script."""
    return text is not None and text.rstrip(_CLOSING).endswith(QUESTION_MARKS)


async def async_setup_entry(
    hass: HomeAssistant, entry: GeminiLiveConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """One conversation agent per conversation subentry."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_CONVERSATION:
            async_add_entities([GeminiLiveConversationEntity(entry, subentry)], config_subentry_id=subentry.subentry_id)


class GeminiLiveConversationEntity(conversation.ConversationEntity, AbstractConversationAgent, GeminiLiveEntity):
    """A Gemini conversation agent."""

    _attr_supports_streaming = True

    def __init__(self, entry: GeminiLiveConfigEntry, subentry: ConfigSubentry) -> None:
        """Control Home Assistant when an LLM API is configured."""
        super().__init__(entry, subentry, RECOMMENDED_CHAT_MODEL)
        if self.options.get(CONF_LLM_HASS_API):
            self._attr_supported_features = conversation.ConversationEntityFeature.CONTROL

    @property
    @override
    def supported_languages(self) -> list[str] | Literal["*"]:
        """Every language: Gemini answers in the language it is spoken to."""
        return MATCH_ALL

    @override
    async def async_added_to_hass(self) -> None:
        """Register as an agent."""
        await super().async_added_to_hass()
        conversation.async_set_agent(self.hass, self.entry, self)

    @override
    async def async_will_remove_from_hass(self) -> None:
        """Unregister the agent."""
        conversation.async_unset_agent(self.hass, self.entry)
        await super().async_will_remove_from_hass()

    @override
    async def _async_handle_message(
        self, user_input: conversation.ConversationInput, chat_log: conversation.ChatLog
    ) -> conversation.ConversationResult:
        """Answer one message: prompt and tools from Home Assistant, the answer streamed from Gemini.

        A failure is answered with one short sentence in the user's language; its details are logged.
        """
        try:
            await chat_log.async_provide_llm_data(
                user_input.as_llm_context(DOMAIN),
                self.options.get(CONF_LLM_HASS_API),
                self.options.get(CONF_PROMPT),
                user_input.extra_system_prompt,
            )
        except conversation.ConverseError as err:
            LOGGER.warning("Could not prepare the conversation's tools and instructions: %s", err)
            error = HomeAssistantError(translation_domain=DOMAIN, translation_key="llm_api_failed")
            return await async_error_result(self.hass, user_input, err.conversation_id, error)

        extra_tools = None
        if self.options.get(CONF_GOOGLE_SEARCH) and not chat_log.llm_api:
            extra_tools = [types.Tool(google_search=types.GoogleSearch())]
        try:
            attachments = await async_attachment_parts(self.hass, last_user_attachments(chat_log))
            await async_run_turn(
                self.client,
                chat_log,
                self.entity_id,
                self.model,
                options=dict(self.model_options),
                extra_tools=extra_tools,
                attachments=attachments,
            )
        except API_EXCEPTIONS as err:
            return await async_error_result(self.hass, user_input, chat_log.conversation_id, self.api_error(err))
        except HomeAssistantError as err:
            return await async_error_result(self.hass, user_input, chat_log.conversation_id, err)
        self.api_succeeded()

        result = conversation.async_get_result_from_chat_log(user_input, chat_log)
        last = chat_log.content[-1]
        reply = None if isinstance(last, conversation.ToolResultContent) else last.content
        if not result.continue_conversation and asks_question(reply):
            result = dataclasses.replace(result, continue_conversation=True)
        return result

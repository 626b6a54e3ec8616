"""Gemini as an AI Task entity: generate data, as text or as JSON of the task's structure, with attachments."""

from __future__ import annotations

from json import JSONDecodeError
from typing import override

from homeassistant.components import ai_task, conversation
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util.json import json_loads

from . import GeminiLiveConfigEntry
from .attachments import async_attachment_parts, last_user_attachments
from .const import DOMAIN, LOGGER, RECOMMENDED_CHAT_MODEL, SUBENTRY_AI_TASK
from .entity import API_EXCEPTIONS, GeminiLiveEntity
from .schema import response_schema
from .stream import async_run_turn

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: GeminiLiveConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """One AI task entity per AI task subentry."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_AI_TASK:
            async_add_entities([GeminiLiveTaskEntity(entry, subentry)], config_subentry_id=subentry.subentry_id)


class GeminiLiveTaskEntity(ai_task.AITaskEntity, GeminiLiveEntity):
    """A Gemini AI task agent."""

    _attr_supported_features = (
        ai_task.AITaskEntityFeature.GENERATE_DATA | ai_task.AITaskEntityFeature.SUPPORT_ATTACHMENTS
    )

    def __init__(self, entry: GeminiLiveConfigEntry, subentry: ConfigSubentry) -> None:
        """The recommended text model unless the subentry picks another."""
        super().__init__(entry, subentry, RECOMMENDED_CHAT_MODEL)

    @override
    async def _async_generate_data(
        self, task: ai_task.GenDataTask, chat_log: conversation.ChatLog
    ) -> ai_task.GenDataTaskResult:
        """Answer the task's instructions (and attachments); with a structure, as JSON of that shape.

        The tools of the task's LLM API, if it has one, are called as in a conversation.
        """
        schema = None
        if task.structure is not None:
            serializer = chat_log.llm_api.custom_serializer if chat_log.llm_api else None
            schema = response_schema(task.structure, serializer)
        attachments = await async_attachment_parts(self.hass, last_user_attachments(chat_log))
        try:
            await async_run_turn(
                self.client,
                chat_log,
                self.entity_id,
                self.model,
                options=dict(self.model_options),
                attachments=attachments,
                response_schema=schema,
            )
        except API_EXCEPTIONS as err:
            raise self.api_error(err) from err
        self.api_succeeded()

        last = chat_log.content[-1]
        text = last.content if isinstance(last, conversation.AssistantContent) else None
        if task.structure is None:
            return ai_task.GenDataTaskResult(conversation_id=chat_log.conversation_id, data=text or "")
        try:
            data = json_loads(text or "")
        except JSONDecodeError as err:
            LOGGER.warning("Gemini's answer to the task %s is not JSON: %.200r", task.name, text)
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="not_json") from err
        return ai_task.GenDataTaskResult(conversation_id=chat_log.conversation_id, data=data)

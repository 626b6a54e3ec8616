"""Gemini as an AI Task entity: generate data (text, or JSON of the task's structure) and images, with
attachments."""

from __future__ import annotations

from json import JSONDecodeError
from typing import override

from google.genai import types
from homeassistant.components import ai_task, conversation
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util.json import json_loads

from . import GeminiLiveConfigEntry
from .attachments import async_attachment_parts, last_user_attachments
from .const import (
    CONF_CHAT_MODEL,
    CONF_RECOMMENDED,
    DOMAIN,
    LOGGER,
    RECOMMENDED_CHAT_MODEL,
    RECOMMENDED_IMAGE_MODEL,
    SUBENTRY_AI_TASK,
)
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
        """The recommended text model unless the subentry picks another; images with the recommended
        settings or a chosen image model (as core's Gemini integration decides)."""
        super().__init__(entry, subentry, RECOMMENDED_CHAT_MODEL)
        if subentry.data.get(CONF_RECOMMENDED, True) or "-image" in str(subentry.data.get(CONF_CHAT_MODEL, "")):
            self._attr_supported_features |= ai_task.AITaskEntityFeature.GENERATE_IMAGE

    @property
    def image_model(self) -> str:
        """The model that draws: the chosen one if it is an image model, else the recommended one."""
        chosen = "" if self.options.get(CONF_RECOMMENDED, True) else str(self.options.get(CONF_CHAT_MODEL) or "")
        return chosen if "-image" in chosen else RECOMMENDED_IMAGE_MODEL

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

    @override
    async def _async_generate_image(
        self, task: ai_task.GenImageTask, chat_log: conversation.ChatLog
    ) -> ai_task.GenImageTaskResult:
        """Draw what the task's instructions (and attached pictures) describe; Gemini's words go to the log."""
        parts = [types.Part.from_text(text=task.instructions)]
        parts += await async_attachment_parts(self.hass, last_user_attachments(chat_log))
        model = self.image_model
        try:
            response = await self.client.aio.models.generate_content(
                model=model,
                contents=[types.Content(role="user", parts=parts)],
                config=types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"]),
            )
        except API_EXCEPTIONS as err:
            raise self.api_error(err) from err
        self.api_succeeded()
        if not response.candidates:
            reason = response.prompt_feedback.block_reason if response.prompt_feedback else None
            LOGGER.warning("Gemini blocked the image request (%s)", reason or "no reason given")
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="blocked")
        content = response.candidates[0].content
        words = ""
        image: types.Blob | None = None
        for part in (content.parts or []) if content else []:
            blob = part.inline_data
            if blob is not None and blob.data and (blob.mime_type or "").startswith("image/"):
                image = image or blob
            elif part.text and not part.thought:
                words += part.text
        if image is None or image.data is None:
            LOGGER.warning("Gemini's answer to the image task %s has no image: %.200r", task.name, words)
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="no_image")
        chat_log.async_add_assistant_content_without_tools(
            conversation.AssistantContent(agent_id=self.entity_id, content=words)
        )
        return ai_task.GenImageTaskResult(
            image_data=image.data,
            conversation_id=chat_log.conversation_id,
            mime_type=image.mime_type or "image/png",
            model=model,
        )

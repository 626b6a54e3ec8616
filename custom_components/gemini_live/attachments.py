"""Files attached to a conversation or an AI task (images, documents), as Gemini parts.

Core's Gemini integration uploads attachments with the Files API (``client.files.upload``) and waits
until Gemini has processed them. This integration sends their bytes inline (``Part.from_bytes``)
instead: nothing is left stored with Google, no processing has to be waited for, and the bundled
emulator, which has no Files API, sees exactly what Gemini would. Gemini takes up to
:data:`INLINE_LIMIT_BYTES` of inline data per request; larger attachments are refused here, with a
sentence the user can read.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from typing import Final

from google.genai import types
from homeassistant.components import conversation
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from .const import DOMAIN, LOGGER

INLINE_LIMIT_BYTES: Final = 20 * 1024 * 1024


def last_user_attachments(chat_log: conversation.ChatLog) -> list[conversation.Attachment]:
    """The attachments of the chat log's last user message (the one being answered)."""
    for content in reversed(chat_log.content):
        if isinstance(content, conversation.UserContent):
            return list(content.attachments or [])
    return []


async def async_attachment_parts(
    hass: HomeAssistant, attachments: Sequence[conversation.Attachment]
) -> list[types.Part]:
    """The attachments' bytes as inline parts (read off the event loop)."""
    if not attachments:
        return []
    return await hass.async_add_executor_job(_read_parts, list(attachments))


def _read_parts(attachments: list[conversation.Attachment]) -> list[types.Part]:
    parts: list[types.Part] = []
    total = 0
    for attachment in attachments:
        try:
            data = attachment.path.read_bytes()
        except OSError as err:
            LOGGER.warning("Could not read the attachment %s: %s", attachment.path.name, err)
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="attachment_unreadable") from err
        total += len(data)
        if total > INLINE_LIMIT_BYTES:
            LOGGER.warning(
                "Attachments over %d MB cannot be sent to Gemini inline (%s)",
                INLINE_LIMIT_BYTES // (1024 * 1024),
                attachment.path.name,
            )
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="attachment_too_large")
        mime_type = attachment.mime_type or mimetypes.guess_type(attachment.path.name)[0] or "application/octet-stream"
        parts.append(types.Part.from_bytes(data=data, mime_type=mime_type))
    return parts

"""Errors as a person hears them: one short sentence, in the language of the conversation.

Home Assistant turns an agent's ``HomeAssistantError`` into speech in the system's language. A voice
assistant spoken to in Arabic must answer in Arabic, so the agents catch their errors and say the
translated sentence themselves (the details were logged where the error happened).
"""

from __future__ import annotations

from homeassistant.components import conversation
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import intent
from homeassistant.helpers.translation import async_get_translations

from .const import DOMAIN, LOGGER

FALLBACK_KEY = "api_unknown"


def translation_language(language: str | None) -> str:
    """The translation file a language tag reads from: ``ar-SA`` → ``ar`` (the integration ships ``en`` and ``ar``)."""
    return (language or "en").replace("_", "-").split("-")[0].lower() or "en"


async def async_error_text(hass: HomeAssistant, language: str | None, err: HomeAssistantError) -> str:
    """The sentence for an error, in ``language`` (English where it has no translation)."""
    key = err.translation_key if err.translation_domain == DOMAIN and err.translation_key else None
    if key is None:
        LOGGER.warning("Gemini could not answer: %s", err)
        key = FALLBACK_KEY
    return await async_message(hass, language, key, err.translation_placeholders)


async def async_message(
    hass: HomeAssistant, language: str | None, key: str, placeholders: dict[str, str] | None = None
) -> str:
    """An exception message of this integration, translated."""
    translations = await async_get_translations(hass, translation_language(language), "exceptions", {DOMAIN})
    text = translations.get(f"component.{DOMAIN}.exceptions.{key}.message")
    if text is None:  # pragma: no cover - every key has an English text (tests/gemini_live/test_package.py)
        return key
    return text.format(**placeholders) if placeholders else text


async def async_error_result(
    hass: HomeAssistant, user_input: conversation.ConversationInput, conversation_id: str, err: HomeAssistantError
) -> conversation.ConversationResult:
    """A conversation's answer when Gemini could not give one: the error, spoken in the user's language."""
    response = intent.IntentResponse(language=user_input.language)
    response.async_set_error(
        intent.IntentResponseErrorCode.UNKNOWN, await async_error_text(hass, user_input.language, err)
    )
    return conversation.ConversationResult(response=response, conversation_id=conversation_id)

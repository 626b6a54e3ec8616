"""Selectors whose options are translated, and the map between their option keys and the API's values.

Home Assistant translates a selector's options by key, and keys must be lowercase (hassfest). Gemini's
values are not (``BLOCK_NONE``, ``ar-EG``), so the forms show lowercase keys and the settings keep the
API's values; :func:`to_form` and :func:`from_form` convert at the edge of every form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.helpers.selector import SelectSelector, SelectSelectorConfig, SelectSelectorMode

from .const import (
    CONF_DANGEROUS_BLOCK_THRESHOLD,
    CONF_HARASSMENT_BLOCK_THRESHOLD,
    CONF_HATE_BLOCK_THRESHOLD,
    CONF_LANGUAGE,
    CONF_SEXUAL_BLOCK_THRESHOLD,
    HARM_BLOCK_THRESHOLDS,
    LANGUAGE_AUTO,
    TTS_LANGUAGES,
)

THRESHOLD_KEYS: Final = (
    CONF_HARASSMENT_BLOCK_THRESHOLD,
    CONF_HATE_BLOCK_THRESHOLD,
    CONF_SEXUAL_BLOCK_THRESHOLD,
    CONF_DANGEROUS_BLOCK_THRESHOLD,
)
# Option key → the API's value, for every translated selector whose values are not lowercase already.
_VALUES: Final[dict[str, dict[str, str]]] = {
    CONF_LANGUAGE: {LANGUAGE_AUTO: LANGUAGE_AUTO, **{code.lower(): code for code in TTS_LANGUAGES}},
    **{key: {value.lower(): value for value in HARM_BLOCK_THRESHOLDS} for key in THRESHOLD_KEYS},
}


def to_form(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Stored settings as a form shows them (option keys)."""
    return {
        key: value.lower() if key in _VALUES and isinstance(value, str) else value for key, value in settings.items()
    }


def from_form(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """A form's answers as settings are stored (the API's values; unknown keys, such as a typed code, as they are)."""
    return {
        key: _VALUES[key].get(value, value) if key in _VALUES and isinstance(value, str) else value
        for key, value in user_input.items()
    }


def language_selector() -> SelectSelector:
    """Automatic, or one of the languages Gemini speaks, by name in the user's language."""
    return SelectSelector(
        SelectSelectorConfig(
            options=list(_VALUES[CONF_LANGUAGE]),
            mode=SelectSelectorMode.DROPDOWN,
            translation_key=CONF_LANGUAGE,
            sort=True,
        )
    )


def threshold_selector() -> SelectSelector:
    """How much of a harm category Gemini blocks."""
    return SelectSelector(
        SelectSelectorConfig(
            options=[value.lower() for value in HARM_BLOCK_THRESHOLDS],
            mode=SelectSelectorMode.DROPDOWN,
            translation_key="harm_block_threshold",
        )
    )

"""The agents' settings: one form to add or reconfigure a conversation, TTS or STT subentry.

Switching "recommended" off re-renders the form with the model settings and the models the service
lists for that kind of agent (speech models for TTS, text models otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import probatio
from homeassistant.config_entries import (
    SOURCE_USER,
    ConfigEntryState,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_LLM_HASS_API, CONF_NAME, CONF_PROMPT
from homeassistant.helpers import llm
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TemplateSelector,
)
from homeassistant.helpers.typing import VolDictType

from .client import async_list_models
from .const import (
    CONF_CHAT_MODEL,
    CONF_DANGEROUS_BLOCK_THRESHOLD,
    CONF_GOOGLE_SEARCH,
    CONF_HARASSMENT_BLOCK_THRESHOLD,
    CONF_HATE_BLOCK_THRESHOLD,
    CONF_LANGUAGE,
    CONF_MAX_TOKENS,
    CONF_RECOMMENDED,
    CONF_SEXUAL_BLOCK_THRESHOLD,
    CONF_STYLE,
    CONF_TEMPERATURE,
    CONF_THINKING_BUDGET,
    CONF_THINKING_LEVEL,
    CONF_TOP_K,
    CONF_TOP_P,
    CONF_VOICE,
    DEFAULT_AI_TASK_NAME,
    DEFAULT_CONVERSATION_NAME,
    DEFAULT_STT_NAME,
    DEFAULT_TTS_NAME,
    DEFAULT_VOICE,
    DOMAIN,
    LANGUAGE_AUTO,
    LOGGER,
    RECOMMENDED_AI_TASK_OPTIONS,
    RECOMMENDED_CHAT_MODEL,
    RECOMMENDED_CONVERSATION_OPTIONS,
    RECOMMENDED_HARM_BLOCK_THRESHOLD,
    RECOMMENDED_MAX_TOKENS,
    RECOMMENDED_STT_MODEL,
    RECOMMENDED_STT_OPTIONS,
    RECOMMENDED_TEMPERATURE,
    RECOMMENDED_THINKING_BUDGET,
    RECOMMENDED_THINKING_LEVEL,
    RECOMMENDED_TOP_K,
    RECOMMENDED_TOP_P,
    RECOMMENDED_TTS_MODEL,
    RECOMMENDED_TTS_OPTIONS,
    SUBENTRY_AI_TASK,
    SUBENTRY_CONVERSATION,
    SUBENTRY_STT,
    SUBENTRY_TTS,
    THINKING_LEVELS,
    VOICES,
)
from .errors import describe
from .selectors import from_form, language_selector, threshold_selector, to_form

if TYPE_CHECKING:
    from . import GeminiLiveConfigEntry


class GeminiLiveSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure one agent; the same form for both."""

    _options: dict[str, Any]
    _recommended_shown: bool

    @property
    def _is_new(self) -> bool:
        return self.source == SOURCE_USER

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """A new agent starts from the recommended settings."""
        self._options = dict(_recommended_options(self._subentry_type))
        return await self.async_step_set_options()

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """An existing agent starts from its own settings."""
        self._options = dict(self._get_reconfigure_subentry().data)
        return await self.async_step_set_options()

    async def async_step_set_options(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """The agent's settings; switching "recommended" off shows the model settings."""
        entry: GeminiLiveConfigEntry = self._get_entry()
        if entry.state is not ConfigEntryState.LOADED:
            return self.async_abort(reason="entry_not_loaded")
        errors: dict[str, str] = {}
        if user_input is not None:
            if user_input[CONF_RECOMMENDED] == self._recommended_shown:
                if user_input.get(CONF_LLM_HASS_API) and user_input.get(CONF_GOOGLE_SEARCH):
                    errors[CONF_GOOGLE_SEARCH] = "google_search_with_llm_api"
                else:
                    if not user_input.get(CONF_LLM_HASS_API):
                        user_input.pop(CONF_LLM_HASS_API, None)
                    if self._is_new:
                        title = user_input.pop(CONF_NAME)
                        return self.async_create_entry(title=title, data=from_form(user_input))
                    return self.async_update_and_abort(
                        entry, self._get_reconfigure_subentry(), data=from_form(user_input)
                    )
            self._options = from_form(user_input)
        self._recommended_shown = bool(self._options.get(CONF_RECOMMENDED, False))
        schema = await self._async_schema(entry)
        return self.async_show_form(
            step_id="set_options",
            data_schema=self.add_suggested_values_to_schema(schema, to_form(self._options)),
            errors=errors,
        )

    async def _async_schema(self, entry: GeminiLiveConfigEntry) -> probatio.Schema:
        options = self._options
        kind = self._subentry_type
        fields: VolDictType = {}
        if self._is_new:
            taken = {
                subentry.title
                for account in self.hass.config_entries.async_entries(DOMAIN)
                for subentry in account.subentries.values()
            }
            name = agent_name(_default_name(kind), entry.title, taken)
            fields[probatio.Required(CONF_NAME, default=name)] = str
        if kind == SUBENTRY_CONVERSATION:
            apis = [SelectOptionDict(label=api.name, value=api.id) for api in llm.async_get_apis(self.hass)]
            known = {api["value"] for api in apis}
            chosen = options.get(CONF_LLM_HASS_API) or []
            options[CONF_LLM_HASS_API] = [
                api for api in ([chosen] if isinstance(chosen, str) else chosen) if api in known
            ]
            fields[probatio.Optional(CONF_PROMPT)] = TemplateSelector()
            fields[probatio.Optional(CONF_LLM_HASS_API)] = SelectSelector(
                SelectSelectorConfig(options=apis, multiple=True)
            )
        elif kind == SUBENTRY_TTS:
            fields[probatio.Required(CONF_VOICE, default=DEFAULT_VOICE)] = SelectSelector(
                SelectSelectorConfig(
                    options=[SelectOptionDict(value=name, label=f"{name} ({mood})") for name, mood in VOICES],
                    mode=SelectSelectorMode.DROPDOWN,
                    sort=False,
                )
            )
            fields[probatio.Required(CONF_LANGUAGE, default=LANGUAGE_AUTO)] = language_selector()
            fields[probatio.Optional(CONF_STYLE)] = str
        elif kind == SUBENTRY_STT:
            fields[probatio.Optional(CONF_PROMPT)] = TemplateSelector()
            fields[probatio.Required(CONF_LANGUAGE, default=LANGUAGE_AUTO)] = language_selector()
        # An AI task has no settings of its own: its instructions come with each task.
        fields[probatio.Required(CONF_RECOMMENDED, default=False)] = bool
        if options.get(CONF_RECOMMENDED):
            return probatio.Schema(fields)

        models = await self._async_models(entry, kind)
        fields[probatio.Optional(CONF_CHAT_MODEL, default=_default_model(kind))] = SelectSelector(
            SelectSelectorConfig(options=models, mode=SelectSelectorMode.DROPDOWN, custom_value=True)
        )
        fields[probatio.Optional(CONF_TEMPERATURE, default=RECOMMENDED_TEMPERATURE)] = NumberSelector(
            NumberSelectorConfig(min=0, max=2, step=0.05)
        )
        if kind == SUBENTRY_TTS:
            return probatio.Schema(fields)
        threshold = threshold_selector()
        default_threshold = RECOMMENDED_HARM_BLOCK_THRESHOLD.lower()
        fields.update(
            {
                probatio.Optional(CONF_TOP_P, default=RECOMMENDED_TOP_P): NumberSelector(
                    NumberSelectorConfig(min=0, max=1, step=0.05)
                ),
                probatio.Optional(CONF_TOP_K, default=RECOMMENDED_TOP_K): probatio.All(
                    NumberSelector(NumberSelectorConfig(min=1, max=1000, step=1, mode=NumberSelectorMode.BOX)),
                    probatio.Coerce(int),
                ),
                probatio.Optional(CONF_MAX_TOKENS, default=RECOMMENDED_MAX_TOKENS): probatio.All(
                    NumberSelector(NumberSelectorConfig(min=1, max=65536, step=1, mode=NumberSelectorMode.BOX)),
                    probatio.Coerce(int),
                ),
                probatio.Optional(CONF_THINKING_BUDGET, default=RECOMMENDED_THINKING_BUDGET): probatio.All(
                    NumberSelector(NumberSelectorConfig(min=-1, max=24576, step=1, mode=NumberSelectorMode.BOX)),
                    probatio.Coerce(int),
                ),
                probatio.Optional(CONF_THINKING_LEVEL, default=RECOMMENDED_THINKING_LEVEL): SelectSelector(
                    SelectSelectorConfig(
                        options=list(THINKING_LEVELS),
                        mode=SelectSelectorMode.DROPDOWN,
                        translation_key=CONF_THINKING_LEVEL,
                    )
                ),
                probatio.Optional(CONF_HARASSMENT_BLOCK_THRESHOLD, default=default_threshold): threshold,
                probatio.Optional(CONF_HATE_BLOCK_THRESHOLD, default=default_threshold): threshold,
                probatio.Optional(CONF_SEXUAL_BLOCK_THRESHOLD, default=default_threshold): threshold,
                probatio.Optional(CONF_DANGEROUS_BLOCK_THRESHOLD, default=default_threshold): threshold,
            }
        )
        if kind == SUBENTRY_CONVERSATION:
            fields[probatio.Optional(CONF_GOOGLE_SEARCH, default=False)] = bool
        return probatio.Schema(fields)

    async def _async_models(self, entry: GeminiLiveConfigEntry, kind: str) -> list[SelectOptionDict]:
        """The service's models that fit this agent (text models; speech models for TTS)."""
        try:
            listed = await async_list_models(entry.runtime_data.client)
        except Exception as err:
            LOGGER.warning("Could not list Gemini models: %s", describe(err))
            listed = []
        names: set[str] = {_default_model(kind)}
        for model in listed:
            name = (model.name or "").rsplit("/", 1)[-1]
            # Vertex AI lists models without their methods; its Live models are told apart by name.
            if (
                name.startswith(("gemini", "gemma"))
                and ("tts" in name) == (kind == SUBENTRY_TTS)
                and not any(word in name for word in ("live", "native-audio", "image", "embedding", "vision"))
                and (model.supported_actions is None or "generateContent" in model.supported_actions)
            ):
                names.add(name)
        return [SelectOptionDict(value=name, label=name) for name in sorted(names)]


def _recommended_options(kind: str) -> Mapping[str, Any]:
    return {
        SUBENTRY_CONVERSATION: RECOMMENDED_CONVERSATION_OPTIONS,
        SUBENTRY_TTS: RECOMMENDED_TTS_OPTIONS,
        SUBENTRY_STT: RECOMMENDED_STT_OPTIONS,
        SUBENTRY_AI_TASK: RECOMMENDED_AI_TASK_OPTIONS,
    }[kind]


def agent_name(name: str, account: str | None, taken: set[str]) -> str:
    """An agent's default name that no other agent has: the account's title added, then a number."""
    if name not in taken:
        return name
    if account is not None and (candidate := f"{name} – {account}") not in taken:
        return candidate
    number = 2
    while (candidate := f"{name} {number}") in taken:
        number += 1
    return candidate


def _default_name(kind: str) -> str:
    return {
        SUBENTRY_CONVERSATION: DEFAULT_CONVERSATION_NAME,
        SUBENTRY_TTS: DEFAULT_TTS_NAME,
        SUBENTRY_AI_TASK: DEFAULT_AI_TASK_NAME,
    }.get(kind, DEFAULT_STT_NAME)


def _default_model(kind: str) -> str:
    return {SUBENTRY_CONVERSATION: RECOMMENDED_CHAT_MODEL, SUBENTRY_TTS: RECOMMENDED_TTS_MODEL}.get(
        kind, RECOMMENDED_STT_MODEL
    )

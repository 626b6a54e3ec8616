"""Configure Gemini Live in the UI: Developer API key or Vertex AI service account, then the agents.

The entry holds the credentials; its subentries hold one agent each (conversation, TTS, STT), as in
Home Assistant's own Gemini integration. Credentials are checked with a real call before anything is
saved; adding, re-authenticating and reconfiguring go through the same two forms. The same menu adds a
Gemini Live bridge (:mod:`.bridge_flow`), which uses one of these accounts.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from typing import Any, override

import probatio
from homeassistant.components.file_upload import process_uploaded_file
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    FileSelector,
    FileSelectorConfig,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.typing import VolDictType

from .bridge_flow import BridgeFlow, BridgeOptionsFlow
from .client import GeminiClient, async_close, async_create_client, async_list_models, parse_service_account
from .const import (
    AUTH_DEVELOPER,
    AUTH_VERTEX,
    CONF_AUTH_TYPE,
    CONF_BASE_URL,
    CONF_CA_FILE,
    CONF_CLIENT_EMAIL,
    CONF_LOCATION,
    CONF_PROJECT_ID,
    CONF_SERVICE_ACCOUNT,
    CONF_SERVICE_ACCOUNT_FILE,
    CONF_SERVICE_ACCOUNT_JSON,
    DEFAULT_AI_TASK_NAME,
    DEFAULT_CONVERSATION_NAME,
    DEFAULT_LOCATION,
    DEFAULT_STT_NAME,
    DEFAULT_TITLE_DEVELOPER,
    DEFAULT_TTS_NAME,
    DOMAIN,
    KIND_BRIDGE,
    LOGGER,
    RECOMMENDED_AI_TASK_OPTIONS,
    RECOMMENDED_CONVERSATION_OPTIONS,
    RECOMMENDED_STT_OPTIONS,
    RECOMMENDED_TTS_OPTIONS,
    SUBENTRY_AI_TASK,
    SUBENTRY_CONVERSATION,
    SUBENTRY_STT,
    SUBENTRY_TTS,
    VERTEX_LOCATIONS,
    is_bridge,
)
from .errors import ApiKeyOnVertexError, ErrorKind, ServiceAccountError, classify, describe
from .runtime import GeminiLiveRuntime
from .subentry_flow import GeminiLiveSubentryFlow, agent_name

CONF_ENDPOINT = "endpoint"  # the collapsed section holding base_url and ca_file
# A key as Google AI Studio makes them (letters, digits, "-" and "_"; "." for other Google keys).
_API_KEY_CHARACTERS = re.compile(r"^[A-Za-z0-9_.\-]+$")
# What the log says when the check fails in a way the form explains (the details follow).
_FORM_ERRORS = {
    ErrorKind.AUTH: "Gemini refused the credentials: %s",
    ErrorKind.QUOTA: "Gemini's quota is exhausted: %s",
    ErrorKind.CONNECTION: "Could not reach Gemini: %s",
}

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_MULTILINE = TextSelector(TextSelectorConfig(multiline=True))


class CredentialsError(Exception):
    """A form error: which field (or ``base``) and the error key."""

    def __init__(self, field: str, key: str) -> None:
        super().__init__(key)
        self.field = field
        self.key = key


def _endpoint_section(open_: bool) -> VolDictType:
    """Another endpoint than Google's (the emulator, a proxy): collapsed unless it holds values."""
    schema = probatio.Schema(
        {
            probatio.Optional(CONF_BASE_URL): TextSelector(TextSelectorConfig(type=TextSelectorType.URL)),
            probatio.Optional(CONF_CA_FILE): TextSelector(),
        }
    )
    return {probatio.Optional(CONF_ENDPOINT): section(schema, {"collapsed": not open_})}


def _developer_schema(key_required: bool, endpoint_open: bool) -> probatio.Schema:
    key = probatio.Required(CONF_API_KEY) if key_required else probatio.Optional(CONF_API_KEY)
    return probatio.Schema({key: _PASSWORD, **_endpoint_section(endpoint_open)})


def _vertex_schema(endpoint_open: bool) -> probatio.Schema:
    return probatio.Schema(
        {
            probatio.Optional(CONF_SERVICE_ACCOUNT_JSON): _MULTILINE,
            probatio.Optional(CONF_SERVICE_ACCOUNT_FILE): FileSelector(
                FileSelectorConfig(accept=".json,application/json")
            ),
            probatio.Optional(CONF_PROJECT_ID): TextSelector(),
            probatio.Required(CONF_LOCATION, default=DEFAULT_LOCATION): SelectSelector(
                SelectSelectorConfig(
                    options=list(VERTEX_LOCATIONS), mode=SelectSelectorMode.DROPDOWN, custom_value=True, sort=False
                )
            ),
            **_endpoint_section(endpoint_open),
        }
    )


def _stored_endpoint(data: Mapping[str, Any]) -> dict[str, str]:
    """An entry's endpoint as the form's section holds it."""
    return {key: data[key] for key in (CONF_BASE_URL, CONF_CA_FILE) if data.get(key)}


def _has_values(section_input: Any) -> bool:
    return isinstance(section_input, Mapping) and any(str(value or "").strip() for value in section_input.values())


def _read_upload(hass: HomeAssistant, file_id: str) -> str:
    """The uploaded key file's text (blocking: run it in the executor)."""
    with process_uploaded_file(hass, file_id) as path:
        return path.read_text(encoding="utf-8")


async def _async_endpoint(
    hass: HomeAssistant, user_input: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, str]:
    """The endpoint settings of a form, checked: an https URL, a CA file that loads.

    A form sent without the section (reauth from a script, an older frontend) keeps the current ones.
    """
    if CONF_ENDPOINT not in user_input:
        return {key: current[key] for key in (CONF_BASE_URL, CONF_CA_FILE) if current.get(key)}
    endpoint = user_input[CONF_ENDPOINT] or {}
    settings: dict[str, str] = {}
    if base_url := (endpoint.get(CONF_BASE_URL) or "").strip():
        if not base_url.startswith("https://"):
            raise CredentialsError(CONF_ENDPOINT, "invalid_base_url")
        settings[CONF_BASE_URL] = base_url
    if ca_file := (endpoint.get(CONF_CA_FILE) or "").strip():
        try:
            await hass.async_add_executor_job(_load_ca_file, ca_file)
        except (OSError, ssl.SSLError) as err:
            raise CredentialsError(CONF_ENDPOINT, "invalid_ca_file") from err
        settings[CONF_CA_FILE] = ca_file
    return settings


def _load_ca_file(ca_file: str) -> ssl.SSLContext:
    """Load a CA file (blocking: run it in the executor)."""
    return ssl.create_default_context(cafile=ca_file)


async def _async_service_account(
    hass: HomeAssistant, user_input: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    """The service-account key from the upload, else from the pasted text, else the stored one."""
    if file_id := user_input.get(CONF_SERVICE_ACCOUNT_FILE):
        try:
            text = await hass.async_add_executor_job(_read_upload, hass, file_id)
        except (ValueError, OSError, UnicodeDecodeError) as err:
            raise CredentialsError("base", "invalid_service_account") from err
    elif pasted := (user_input.get(CONF_SERVICE_ACCOUNT_JSON) or "").strip():
        text = pasted
    elif stored := current.get(CONF_SERVICE_ACCOUNT):
        # Reauth and reconfigure may keep the key (to change the location, or once the project is fixed).
        return dict(stored)
    else:
        raise CredentialsError("base", "service_account_missing")
    try:
        return parse_service_account(text)
    except ApiKeyOnVertexError as err:
        raise CredentialsError("base", "api_key_on_vertex") from err
    except ServiceAccountError as err:
        raise CredentialsError("base", "invalid_service_account") from err


async def async_validate(hass: HomeAssistant, data: Mapping[str, Any]) -> None:
    """Build a client for ``data`` and make one real call; :class:`CredentialsError` says what failed."""
    client: GeminiClient | None = None
    try:
        client = await async_create_client(hass, data)
        await async_list_models(client)
    except ServiceAccountError as err:
        LOGGER.info("The service-account key cannot be used: %s", err)
        raise CredentialsError("base", "invalid_service_account") from err
    except Exception as err:
        kind = classify(err)
        if kind in _FORM_ERRORS:
            LOGGER.info(_FORM_ERRORS[kind], describe(err))
            raise CredentialsError("base", kind.value) from err
        LOGGER.exception("Unexpected error while checking Gemini credentials")
        raise CredentialsError("base", "unknown") from err
    finally:
        if client is not None:
            await async_close(hass, client)


class GeminiLiveConfigFlow(BridgeFlow, domain=DOMAIN):
    """Add, re-authenticate and reconfigure a Gemini Live entry: an account, or a bridge using one."""

    VERSION = 1
    MINOR_VERSION = 1

    _account_kept: dict[str, Any] | None = None  # an uploaded key that parsed, for the next try

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick how to reach Gemini, or add a Gemini Live bridge."""
        return self.async_show_menu(step_id="user", menu_options=[AUTH_DEVELOPER, AUTH_VERTEX, KIND_BRIDGE])

    async def async_step_developer(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Gemini Developer API: an API key from Google AI Studio."""
        return await self._async_step_developer(user_input, AUTH_DEVELOPER)

    async def async_step_vertex(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Vertex AI: a service-account key, a project and a location."""
        return await self._async_step_vertex(user_input, AUTH_VERTEX)

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The credentials (or a bridge's pairing token) were refused: ask for new ones."""
        if is_bridge(entry_data):
            return await self.async_step_bridge_reauth()
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """New credentials of the same kind."""
        return await self._async_step_credentials(user_input, "reauth_confirm")

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change the credentials, project, location or endpoint (or a bridge's address and token)."""
        if is_bridge(self._get_reconfigure_entry().data):
            return await self.async_step_bridge_reconfigure()
        return await self._async_step_credentials(user_input, "reconfigure")

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """A bridge's conversation settings."""
        return BridgeOptionsFlow()

    @classmethod
    @callback
    @override
    def async_supports_options_flow(cls, config_entry: ConfigEntry) -> bool:
        """Bridges have options; accounts keep their settings in their agents' subentries."""
        return is_bridge(config_entry.data)

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(cls, config_entry: ConfigEntry) -> dict[str, type[ConfigSubentryFlow]]:
        """A conversation, TTS, STT or AI task agent per subentry (none for a bridge)."""
        if is_bridge(config_entry.data):
            return {}
        return {
            SUBENTRY_CONVERSATION: GeminiLiveSubentryFlow,
            SUBENTRY_TTS: GeminiLiveSubentryFlow,
            SUBENTRY_STT: GeminiLiveSubentryFlow,
            SUBENTRY_AI_TASK: GeminiLiveSubentryFlow,
        }

    @property
    def _existing_entry(self) -> ConfigEntry | None:
        """The entry being re-authenticated or reconfigured (None while adding one)."""
        if self.source == SOURCE_REAUTH:
            return self._get_reauth_entry()
        if self.source == SOURCE_RECONFIGURE:
            return self._get_reconfigure_entry()
        return None

    async def _async_step_credentials(self, user_input: dict[str, Any] | None, step_id: str) -> ConfigFlowResult:
        entry = self._existing_entry
        assert entry is not None
        if entry.data.get(CONF_AUTH_TYPE) == AUTH_VERTEX:
            return await self._async_step_vertex(user_input, step_id)
        return await self._async_step_developer(user_input, step_id)

    async def _async_step_developer(self, user_input: dict[str, Any] | None, step_id: str) -> ConfigFlowResult:
        existing = self._existing_entry
        defaults = dict(existing.data) if existing else {}
        errors: dict[str, str] = {}
        # What the form shows: the entry's endpoint at first, then whatever the user typed (kept on errors).
        shown: dict[str, Any] = {CONF_ENDPOINT: _stored_endpoint(defaults)}
        if user_input is not None:
            shown = dict(user_input)
            try:
                data = {
                    CONF_AUTH_TYPE: AUTH_DEVELOPER,
                    CONF_API_KEY: _api_key(user_input, defaults),
                    **await _async_endpoint(self.hass, user_input, defaults),
                }
                self._async_abort_entries_match({CONF_AUTH_TYPE: AUTH_DEVELOPER, CONF_API_KEY: data[CONF_API_KEY]})
                await async_validate(self.hass, data)
            except CredentialsError as err:
                errors[err.field] = err.key
            else:
                return self._async_finish(data)
        schema = _developer_schema(key_required=existing is None, endpoint_open=_has_values(shown.get(CONF_ENDPOINT)))
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, shown),
            errors=errors,
            description_placeholders={
                "api_key_url": "https://aistudio.google.com/app/apikey",
                "title": existing.title if existing else "",
            },
        )

    async def _async_step_vertex(self, user_input: dict[str, Any] | None, step_id: str) -> ConfigFlowResult:
        existing = self._existing_entry
        defaults = dict(existing.data) if existing else {}
        errors: dict[str, str] = {}
        shown: dict[str, Any] = {
            CONF_ENDPOINT: _stored_endpoint(defaults),
            **{key: defaults[key] for key in (CONF_PROJECT_ID, CONF_LOCATION) if defaults.get(key)},
        }
        if user_input is not None:
            # An uploaded file is used up once read: a key it held waits here for the next try.
            shown = {key: value for key, value in user_input.items() if key != CONF_SERVICE_ACCOUNT_FILE}
            try:
                endpoint = await _async_endpoint(self.hass, user_input, defaults)
                account = await _async_service_account(
                    self.hass,
                    user_input,
                    {CONF_SERVICE_ACCOUNT: self._account_kept} if self._account_kept else defaults,
                )
                if user_input.get(CONF_SERVICE_ACCOUNT_FILE):
                    self._account_kept = account
                project = (user_input.get(CONF_PROJECT_ID) or "").strip() or account.get("project_id")
                if not project:
                    raise CredentialsError(CONF_PROJECT_ID, "project_missing")
                data = {
                    CONF_AUTH_TYPE: AUTH_VERTEX,
                    CONF_SERVICE_ACCOUNT: account,
                    CONF_CLIENT_EMAIL: account["client_email"],
                    CONF_PROJECT_ID: project,
                    CONF_LOCATION: user_input[CONF_LOCATION].strip(),
                    **endpoint,
                }
                self._async_abort_entries_match(
                    {
                        CONF_AUTH_TYPE: AUTH_VERTEX,
                        CONF_CLIENT_EMAIL: data[CONF_CLIENT_EMAIL],
                        CONF_PROJECT_ID: project,
                        CONF_LOCATION: data[CONF_LOCATION],
                    }
                )
                await async_validate(self.hass, data)
            except CredentialsError as err:
                errors[err.field] = err.key
            else:
                return self._async_finish(data)
        schema = _vertex_schema(endpoint_open=_has_values(shown.get(CONF_ENDPOINT)))
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, shown),
            errors=errors,
            description_placeholders={
                "keys_url": "https://console.cloud.google.com/iam-admin/serviceaccounts",
                "title": existing.title if existing else "",
            },
        )

    @callback
    def _async_finish(self, data: dict[str, Any]) -> ConfigFlowResult:
        entry = self._existing_entry
        if entry is None:
            accounts = [e for e in self._async_current_entries(include_ignore=False) if not is_bridge(e.data)]
            title = _unique(_title(data), {e.title for e in accounts})
            agents = {
                subentry.title
                for account in self.hass.config_entries.async_entries(DOMAIN)
                for subentry in account.subentries.values()
            }
            return self.async_create_entry(
                title=title,
                data=data,
                subentries=[
                    {
                        "subentry_type": kind,
                        "data": options,
                        # A second account's agents say whose they are (their entity ids follow their names).
                        "title": agent_name(name, title if accounts else None, agents),
                        "unique_id": None,
                    }
                    for kind, options, name in (
                        (SUBENTRY_CONVERSATION, RECOMMENDED_CONVERSATION_OPTIONS, DEFAULT_CONVERSATION_NAME),
                        (SUBENTRY_TTS, RECOMMENDED_TTS_OPTIONS, DEFAULT_TTS_NAME),
                        (SUBENTRY_STT, RECOMMENDED_STT_OPTIONS, DEFAULT_STT_NAME),
                        (SUBENTRY_AI_TASK, RECOMMENDED_AI_TASK_OPTIONS, DEFAULT_AI_TASK_NAME),
                    )
                ],
            )
        # A title the user chose stays; the one this flow made follows the new project and location.
        title = entry.title
        if _generated_title(entry.title, entry.data):
            others = {e.title for e in self._async_current_entries(include_ignore=False) if e is not entry}
            title = _unique(_title(data), others)
        if entry.update_listeners:
            if entry.state is ConfigEntryState.LOADED and data == dict(entry.data):
                # The same credentials again (the user fixed billing or the key's permissions): they work
                # now, the flow checked them, so nothing reloads and the entry stops counting refusals.
                runtime: GeminiLiveRuntime = entry.runtime_data
                runtime.async_credentials_confirmed()
            # A loaded entry reloads itself through its update listener when its data changed.
            return self.async_update_and_abort(entry, title=title, data=data)
        return self.async_update_reload_and_abort(entry, title=title, data=data)


def _api_key(user_input: Mapping[str, Any], current: Mapping[str, Any]) -> str:
    """The key typed (trimmed), else the current one (reauth, reconfigure); the form error otherwise."""
    key = str(user_input.get(CONF_API_KEY) or "").strip()
    if not key:
        if current.get(CONF_API_KEY):
            return str(current[CONF_API_KEY])
        raise CredentialsError(CONF_API_KEY, "api_key_missing")
    if not _API_KEY_CHARACTERS.match(key):
        raise CredentialsError(CONF_API_KEY, "invalid_api_key")
    return key


def _title(data: Mapping[str, Any]) -> str:
    """The title this flow gives an entry (before it is numbered to tell it from another)."""
    if data.get(CONF_AUTH_TYPE) == AUTH_VERTEX:
        return f"Vertex AI {data.get(CONF_PROJECT_ID)} ({data.get(CONF_LOCATION)})"
    return DEFAULT_TITLE_DEVELOPER


def _generated_title(title: str, data: Mapping[str, Any]) -> bool:
    """Whether an entry's title is one this flow made (possibly numbered), not the user's own."""
    base = _title(data)
    return title == base or re.fullmatch(re.escape(base) + r" \d+", title) is not None


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name 2``, ``name 3``… whichever is not taken yet."""
    number = 1
    candidate = name
    while candidate in taken:
        number += 1
        candidate = f"{name} {number}"
    return candidate

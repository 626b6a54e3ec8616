"""Configure Gemini Live in the UI: Developer API key or Vertex AI service account, then the agents.

The entry holds the credentials; its subentries hold one agent each (conversation, TTS, STT), as in
Home Assistant's own Gemini integration. Credentials are checked with a real call before anything is
saved; adding, re-authenticating and reconfiguring go through the same two forms. The same menu adds a
Gemini Live bridge (:mod:`.bridge_flow`), which uses one of these accounts.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any, override

import probatio
from homeassistant.components.file_upload import process_uploaded_file
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import AbortFlow, section
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
    DEFAULT_CONVERSATION_NAME,
    DEFAULT_LOCATION,
    DEFAULT_STT_NAME,
    DEFAULT_TITLE_DEVELOPER,
    DEFAULT_TTS_NAME,
    DOMAIN,
    KIND_BRIDGE,
    LOGGER,
    RECOMMENDED_CONVERSATION_OPTIONS,
    RECOMMENDED_STT_OPTIONS,
    RECOMMENDED_TTS_OPTIONS,
    SUBENTRY_CONVERSATION,
    SUBENTRY_STT,
    SUBENTRY_TTS,
    VERTEX_LOCATIONS,
    is_bridge,
)
from .errors import ApiKeyOnVertexError, ErrorKind, ServiceAccountError, classify, describe
from .subentry_flow import GeminiLiveSubentryFlow

CONF_ENDPOINT = "endpoint"  # the collapsed section holding base_url and ca_file

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_MULTILINE = TextSelector(TextSelectorConfig(multiline=True))


class CredentialsError(Exception):
    """A form error: which field (or ``base``) and the error key."""

    def __init__(self, field: str, key: str) -> None:
        super().__init__(key)
        self.field = field
        self.key = key


def _endpoint_section(defaults: Mapping[str, Any]) -> VolDictType:
    """Another endpoint than Google's (the emulator, a proxy): collapsed, as few users need it."""
    schema = probatio.Schema(
        {
            probatio.Optional(
                CONF_BASE_URL, description={"suggested_value": defaults.get(CONF_BASE_URL)}
            ): TextSelector(TextSelectorConfig(type=TextSelectorType.URL)),
            probatio.Optional(CONF_CA_FILE, description={"suggested_value": defaults.get(CONF_CA_FILE)}): str,
        }
    )
    return {probatio.Optional(CONF_ENDPOINT): section(schema, {"collapsed": True})}


def _developer_schema(defaults: Mapping[str, Any]) -> probatio.Schema:
    return probatio.Schema({probatio.Required(CONF_API_KEY): _PASSWORD, **_endpoint_section(defaults)})


def _vertex_schema(defaults: Mapping[str, Any]) -> probatio.Schema:
    return probatio.Schema(
        {
            probatio.Optional(CONF_SERVICE_ACCOUNT_JSON): _MULTILINE,
            probatio.Optional(CONF_SERVICE_ACCOUNT_FILE): FileSelector(
                FileSelectorConfig(accept=".json,application/json")
            ),
            probatio.Optional(CONF_PROJECT_ID, description={"suggested_value": defaults.get(CONF_PROJECT_ID)}): str,
            probatio.Required(CONF_LOCATION, default=defaults.get(CONF_LOCATION, DEFAULT_LOCATION)): SelectSelector(
                SelectSelectorConfig(
                    options=list(VERTEX_LOCATIONS), mode=SelectSelectorMode.DROPDOWN, custom_value=True, sort=False
                )
            ),
            **_endpoint_section(defaults),
        }
    )


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
        raise CredentialsError("base", "invalid_service_account") from err
    except Exception as err:
        kind = classify(err)
        if kind in (ErrorKind.AUTH, ErrorKind.QUOTA, ErrorKind.CONNECTION):
            LOGGER.info("Gemini refused the credentials (%s): %s", kind.value, describe(err))
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
        """A conversation, TTS or STT agent per subentry (none for a bridge)."""
        if is_bridge(config_entry.data):
            return {}
        return {
            SUBENTRY_CONVERSATION: GeminiLiveSubentryFlow,
            SUBENTRY_TTS: GeminiLiveSubentryFlow,
            SUBENTRY_STT: GeminiLiveSubentryFlow,
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
        defaults = dict(self._existing_entry.data) if self._existing_entry else {}
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                data = {
                    CONF_AUTH_TYPE: AUTH_DEVELOPER,
                    CONF_API_KEY: user_input[CONF_API_KEY].strip(),
                    **await _async_endpoint(self.hass, user_input, defaults),
                }
                self._abort_if_duplicate({CONF_AUTH_TYPE: AUTH_DEVELOPER, CONF_API_KEY: data[CONF_API_KEY]})
                await async_validate(self.hass, data)
            except CredentialsError as err:
                errors[err.field] = err.key
            else:
                return self._async_finish(data)
        return self.async_show_form(
            step_id=step_id,
            data_schema=_developer_schema(defaults),
            errors=errors,
            description_placeholders={
                "api_key_url": "https://aistudio.google.com/app/apikey",
                "title": self._existing_entry.title if self._existing_entry else "",
            },
        )

    async def _async_step_vertex(self, user_input: dict[str, Any] | None, step_id: str) -> ConfigFlowResult:
        defaults = dict(self._existing_entry.data) if self._existing_entry else {}
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                endpoint = await _async_endpoint(self.hass, user_input, defaults)
                account = await _async_service_account(self.hass, user_input, defaults)
                project = (user_input.get(CONF_PROJECT_ID) or "").strip() or account.get("project_id")
                if not project:
                    raise CredentialsError(CONF_PROJECT_ID, "project_missing")
                data = {
                    CONF_AUTH_TYPE: AUTH_VERTEX,
                    CONF_SERVICE_ACCOUNT: account,
                    CONF_CLIENT_EMAIL: account["client_email"],
                    CONF_PROJECT_ID: project,
                    CONF_LOCATION: user_input[CONF_LOCATION],
                    **endpoint,
                }
                self._abort_if_duplicate(
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
        return self.async_show_form(
            step_id=step_id,
            data_schema=_vertex_schema(defaults),
            errors=errors,
            description_placeholders={
                "keys_url": "https://console.cloud.google.com/iam-admin/serviceaccounts",
                "title": self._existing_entry.title if self._existing_entry else "",
            },
        )

    def _abort_if_duplicate(self, match: Mapping[str, Any]) -> None:
        """Another entry already uses these credentials (the one being changed does not count)."""
        current = self._existing_entry
        for entry in self._async_current_entries(include_ignore=False):
            if entry is not current and all(entry.data.get(key) == value for key, value in match.items()):
                raise AbortFlow("already_configured")

    @callback
    def _async_finish(self, data: dict[str, Any]) -> ConfigFlowResult:
        entry = self._existing_entry
        if entry is None:
            return self.async_create_entry(
                title=_title(data),
                data=data,
                subentries=[
                    {
                        "subentry_type": SUBENTRY_CONVERSATION,
                        "data": RECOMMENDED_CONVERSATION_OPTIONS,
                        "title": DEFAULT_CONVERSATION_NAME,
                        "unique_id": None,
                    },
                    {
                        "subentry_type": SUBENTRY_TTS,
                        "data": RECOMMENDED_TTS_OPTIONS,
                        "title": DEFAULT_TTS_NAME,
                        "unique_id": None,
                    },
                    {
                        "subentry_type": SUBENTRY_STT,
                        "data": RECOMMENDED_STT_OPTIONS,
                        "title": DEFAULT_STT_NAME,
                        "unique_id": None,
                    },
                ],
            )
        # A title the user chose stays; the one this flow made follows the new project and location.
        title = _title(data) if entry.title == _title(entry.data) else entry.title
        if entry.update_listeners:
            # A loaded entry reloads itself through its update listener.
            return self.async_update_and_abort(entry, title=title, data=data)
        return self.async_update_reload_and_abort(entry, title=title, data=data)


def _title(data: Mapping[str, Any]) -> str:
    """The title this flow gives an entry."""
    if data.get(CONF_AUTH_TYPE) == AUTH_VERTEX:
        return f"Vertex AI {data.get(CONF_PROJECT_ID)} ({data.get(CONF_LOCATION)})"
    return DEFAULT_TITLE_DEVELOPER

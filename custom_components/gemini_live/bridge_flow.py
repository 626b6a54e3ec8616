"""Adding a Gemini Live bridge: found by zeroconf (one confirmation) or by host and port, plus the pairing token.

The bridge uses a Gemini account this integration already has (no second key); with more than one, the
form asks which. The pairing is checked before anything is saved, and the bridge's id (from its hello)
is the entry's unique id, so the same bridge found again or typed in again is recognised. A bridge that
refuses the token later asks for the new one (reauth). The options are the satellites' conversation
settings: model, voice, language, instructions, LLM API and the spoken confirmation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, override

import probatio
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_HOST, CONF_LLM_HASS_API, CONF_PORT, CONF_PROMPT
from homeassistant.data_entry_flow import AbortFlow
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
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from .client import async_list_models
from .const import (
    BRIDGE_TITLE,
    CONF_ACCOUNT,
    CONF_BRIDGE_ID,
    CONF_CHAT_MODEL,
    CONF_CONFIRM,
    CONF_KIND,
    CONF_LANGUAGE,
    CONF_PAIRING_TOKEN,
    CONF_VOICE,
    DEFAULT_BRIDGE_PORT,
    KIND_BRIDGE,
    LOGGER,
    RECOMMENDED_BRIDGE_OPTIONS,
    RECOMMENDED_LIVE_MODEL,
    VOICES,
    is_bridge,
)
from .errors import describe
from .link import Hello, LinkError, Welcome, async_probe
from .selectors import from_form, language_selector, to_form

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_PORT = probatio.All(
    NumberSelector(NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX)), probatio.Coerce(int)
)


class WrongBridge(LinkError):
    """Another bridge answers at the address than the one the entry is for."""

    key = "wrong_bridge"


class BridgeFlow(ConfigFlow):
    """The steps of the config flow that add, re-pair and reconfigure a bridge (the domain's flow inherits them)."""

    _discovered: tuple[str, int] | None = None
    _pairing: tuple[str, int] | None = None  # the address being paired with

    # ------------------------------------------------------------------------------ steps

    async def async_step_bridge(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A bridge by host and port."""
        if not self._accounts():
            return self.async_abort(reason="no_account")
        return await self._async_step_pair(user_input, "bridge")

    @override
    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A bridge announced itself: one confirmation, with the pairing token."""
        bridge_id = discovery_info.properties.get("id")
        if not discovery_info.port or not isinstance(bridge_id, str) or not bridge_id:
            return self.async_abort(reason="not_a_bridge")
        host, port = discovery_info.host, discovery_info.port
        await self.async_set_unique_id(bridge_id)
        self._abort_if_unique_id_configured(updates={CONF_HOST: host, CONF_PORT: port}, reload_on_update=False)
        if not self._accounts():
            return self.async_abort(reason="no_account")
        self._discovered = (host, port)
        self.context["title_placeholders"] = {"host": host}
        return await self.async_step_zeroconf_confirm()

    async def async_step_zeroconf_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The pairing token of the discovered bridge."""
        return await self._async_step_pair(user_input, "zeroconf_confirm")

    async def async_step_bridge_reauth(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The bridge refused the pairing token: ask for the current one."""
        return await self._async_step_pair(user_input, "bridge_reauth")

    async def async_step_bridge_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A new address, token or account for the bridge."""
        return await self._async_step_pair(user_input, "bridge_reconfigure")

    # --------------------------------------------------------------------------- helpers

    @property
    def _bridge_entry(self) -> ConfigEntry | None:
        if self.source == SOURCE_REAUTH:
            return self._get_reauth_entry()
        if self.source == SOURCE_RECONFIGURE:
            return self._get_reconfigure_entry()
        return None

    def _accounts(self) -> list[ConfigEntry]:
        return [entry for entry in self._async_current_entries(include_ignore=False) if not is_bridge(entry.data)]

    async def _async_step_pair(self, user_input: dict[str, Any] | None, step_id: str) -> ConfigFlowResult:
        entry = self._bridge_entry
        current: Mapping[str, Any] = entry.data if entry is not None else {}
        errors: dict[str, str] = {}
        if user_input is not None:
            host, port = self._address(user_input, current)
            token = (user_input.get(CONF_PAIRING_TOKEN) or "").strip() or current.get(CONF_PAIRING_TOKEN, "")
            self._pairing = (host, port)
            welcome = await self._async_pair(host, port, token, errors)
            if welcome is not None:
                data = {
                    CONF_KIND: KIND_BRIDGE,
                    CONF_HOST: host,
                    CONF_PORT: port,
                    CONF_PAIRING_TOKEN: token,
                    CONF_BRIDGE_ID: welcome.hello.bridge_id,
                    CONF_ACCOUNT: self._account_id(user_input, current),
                }
                return self._async_finish_bridge(entry, data, welcome)
        accounts = self._accounts()
        fields: dict[Any, Any] = {}
        if step_id in ("bridge", "bridge_reconfigure"):
            host_key = (
                probatio.Required(CONF_HOST, default=current[CONF_HOST]) if current else probatio.Required(CONF_HOST)
            )
            fields[host_key] = str
            fields[probatio.Required(CONF_PORT, default=current.get(CONF_PORT, DEFAULT_BRIDGE_PORT))] = _PORT
        token_key = probatio.Optional if step_id == "bridge_reconfigure" else probatio.Required
        fields[token_key(CONF_PAIRING_TOKEN)] = _PASSWORD
        if len(accounts) > 1 and step_id != "bridge_reauth":
            fields[probatio.Required(CONF_ACCOUNT, default=current.get(CONF_ACCOUNT, accounts[0].entry_id))] = (
                SelectSelector(
                    SelectSelectorConfig(
                        options=[SelectOptionDict(value=a.entry_id, label=a.title) for a in accounts],
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                )
            )
        host, port = self._discovered or (current.get(CONF_HOST, ""), current.get(CONF_PORT, DEFAULT_BRIDGE_PORT))
        schema = probatio.Schema(fields)
        if user_input is not None:  # after an error the form shows what was typed, not an empty field
            schema = self.add_suggested_values_to_schema(schema, user_input)
        return self.async_show_form(
            step_id=step_id,
            data_schema=schema,
            errors=errors,
            description_placeholders={"host": str(host), "port": str(port), "title": entry.title if entry else ""},
        )

    def _address(self, user_input: Mapping[str, Any], current: Mapping[str, Any]) -> tuple[str, int]:
        if CONF_HOST in user_input:
            return str(user_input[CONF_HOST]).strip(), int(user_input[CONF_PORT])
        if self._discovered is not None:
            return self._discovered
        return str(current[CONF_HOST]), int(current[CONF_PORT])

    def _account_id(self, user_input: Mapping[str, Any], current: Mapping[str, Any]) -> str:
        if chosen := user_input.get(CONF_ACCOUNT):
            return str(chosen)
        if current.get(CONF_ACCOUNT):
            return str(current[CONF_ACCOUNT])
        return self._accounts()[0].entry_id

    async def _async_pair(self, host: str, port: int, token: str, errors: dict[str, str]) -> Welcome | None:
        """Pair once with the bridge; None with ``errors`` filled when that fails."""
        try:
            return await async_probe(self.hass, host, port, token, self._async_check_hello)
        except AbortFlow:
            raise  # a bridge already set up (see _async_check_hello)
        except LinkError as err:
            LOGGER.info("Pairing with the Gemini Live bridge at %s:%s failed: %s", host, port, err)
            errors["base"] = err.key
        return None

    async def _async_check_hello(self, hello: Hello) -> None:
        """Before pairing: a bridge already set up is not paired again (that would replace its link)."""
        entry = self._bridge_entry
        if entry is not None:
            if hello.bridge_id != entry.unique_id:
                raise WrongBridge(f"the bridge there is {hello.bridge_id}, not {entry.unique_id}")
            return
        await self.async_set_unique_id(hello.bridge_id, raise_on_progress=False)
        assert self._pairing is not None
        host, port = self._pairing
        self._abort_if_unique_id_configured(updates={CONF_HOST: host, CONF_PORT: port}, reload_on_update=False)

    def _async_finish_bridge(
        self, entry: ConfigEntry | None, data: dict[str, Any], welcome: Welcome
    ) -> ConfigFlowResult:
        if entry is None:
            return self.async_create_entry(
                title=BRIDGE_TITLE.format(name=welcome.hello.name),
                data=data,
                options=dict(RECOMMENDED_BRIDGE_OPTIONS),
            )
        if entry.update_listeners:
            # A loaded bridge entry reloads itself when its data changes (its update listener).
            return self.async_update_and_abort(entry, data=data)
        return self.async_update_reload_and_abort(entry, data=data)


class BridgeOptionsFlow(OptionsFlow):
    """The satellites' conversation settings; they apply from each satellite's next Live session."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Model, voice, language, instructions, LLM API and the spoken confirmation."""
        if user_input is not None:
            user_input.setdefault(CONF_LLM_HASS_API, [])
            return self.async_create_entry(data=from_form(user_input))
        current = {**RECOMMENDED_BRIDGE_OPTIONS, **self.config_entry.options}
        apis = [SelectOptionDict(label=api.name, value=api.id) for api in llm.async_get_apis(self.hass)]
        known = {api["value"] for api in apis}
        chosen = current.get(CONF_LLM_HASS_API) or []
        current[CONF_LLM_HASS_API] = [api for api in ([chosen] if isinstance(chosen, str) else chosen) if api in known]
        schema = probatio.Schema(
            {
                probatio.Required(CONF_CHAT_MODEL): SelectSelector(
                    SelectSelectorConfig(
                        options=await self._async_live_models(str(current[CONF_CHAT_MODEL])),
                        mode=SelectSelectorMode.DROPDOWN,
                        custom_value=True,
                    )
                ),
                probatio.Required(CONF_VOICE): SelectSelector(
                    SelectSelectorConfig(
                        options=[SelectOptionDict(value=name, label=f"{name} ({mood})") for name, mood in VOICES],
                        mode=SelectSelectorMode.DROPDOWN,
                        sort=False,
                    )
                ),
                probatio.Required(CONF_LANGUAGE): language_selector(),
                probatio.Optional(CONF_PROMPT): TemplateSelector(),
                probatio.Optional(CONF_LLM_HASS_API): SelectSelector(SelectSelectorConfig(options=apis, multiple=True)),
                probatio.Required(CONF_CONFIRM): bool,
            }
        )
        return self.async_show_form(
            step_id="init", data_schema=self.add_suggested_values_to_schema(schema, to_form(current))
        )

    async def _async_live_models(self, current: str) -> list[SelectOptionDict]:
        """The Live models the account's service lists (the recommended and the current one always)."""
        names = {RECOMMENDED_LIVE_MODEL, current}
        account = self.hass.config_entries.async_get_entry(self.config_entry.data[CONF_ACCOUNT])
        if account is not None and account.state is ConfigEntryState.LOADED:
            try:
                listed = await async_list_models(account.runtime_data.client)
            except Exception as err:
                LOGGER.warning("Could not list Gemini models: %s", describe(err))
                listed = []
            for model in listed:
                name = (model.name or "").rsplit("/", 1)[-1]
                if "bidiGenerateContent" in (model.supported_actions or []) or (
                    model.supported_actions is None and ("live" in name or "native-audio" in name)
                ):
                    names.add(name)
        return [SelectOptionDict(value=name, label=name) for name in sorted(names)]

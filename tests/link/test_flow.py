"""Adding a bridge in the UI: by host and port or from zeroconf, the pairing token checked; reconfigure, options."""

from __future__ import annotations

import socket
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from gemini_live_emulator import Emulator
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, SOURCE_ZEROCONF, ConfigEntry
from homeassistant.const import CONF_HOST, CONF_LLM_HASS_API, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from custom_components.gemini_live.const import (
    CONF_ACCOUNT,
    CONF_BRIDGE_ID,
    CONF_CHAT_MODEL,
    CONF_CONFIRM,
    CONF_KIND,
    CONF_PAIRING_TOKEN,
    DOMAIN,
    KIND_BRIDGE,
    RECOMMENDED_BRIDGE_OPTIONS,
)
from tests.gemini_live.common import closed_port_url

from .helpers import TOKEN, RunningBridge, add_bridge_entry, link_settings, start_bridge, start_bridge_flow


def bridge_id(bridge: RunningBridge) -> str:
    """The bridge's id (its hello says it; the entry's unique id)."""
    assert bridge.bridge.identity is not None
    return bridge.bridge.identity.bridge_id


def discovery(bridge: RunningBridge, **properties: Any) -> ZeroconfServiceInfo:
    """What zeroconf reports for the bridge's ``_gemini-live._tcp`` announcement."""
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        port=bridge.port,
        hostname="bridge-host.local.",
        type="_gemini-live._tcp.local.",
        name="Kitchen bridge._gemini-live._tcp.local.",
        properties={"id": bridge_id(bridge), "version": "0.2.0", "protocol": "1", **properties},
    )


async def submit(hass: HomeAssistant, flow_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Submit a form."""
    return dict(await hass.config_entries.flow.async_configure(flow_id, data))


async def test_add_by_host_and_port(hass: HomeAssistant, developer_entry: ConfigEntry, bridge: RunningBridge) -> None:
    """The pairing is checked; the entry uses the account, has the bridge's id and the recommended options."""
    entry = await add_bridge_entry(hass, bridge.port)
    assert entry.unique_id == bridge_id(bridge)
    assert entry.title == f"Gemini Live bridge ({socket.gethostname()})"
    assert entry.data == {
        CONF_KIND: KIND_BRIDGE,
        CONF_HOST: "127.0.0.1",
        CONF_PORT: bridge.port,
        CONF_PAIRING_TOKEN: TOKEN,
        CONF_BRIDGE_ID: bridge_id(bridge),
        CONF_ACCOUNT: developer_entry.entry_id,
    }
    assert entry.options == RECOMMENDED_BRIDGE_OPTIONS
    assert entry.subentries == {}


async def test_wrong_token_then_the_right_one(
    hass: HomeAssistant, developer_entry: ConfigEntry, bridge: RunningBridge
) -> None:
    """A wrong token is refused by the bridge (the form says so); the right one pairs."""
    result = await start_bridge_flow(hass)
    address = {CONF_HOST: "127.0.0.1", CONF_PORT: bridge.port}
    result = await submit(hass, result["flow_id"], {**address, CONF_PAIRING_TOKEN: "not-the-token"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_pairing_token"}
    shown = {str(key): key.description["suggested_value"] for key in result["data_schema"].schema}
    assert shown == {**address, CONF_PAIRING_TOKEN: "not-the-token"}, "the form keeps what was typed"
    result = await submit(hass, result["flow_id"], {**address, CONF_PAIRING_TOKEN: TOKEN})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_too_many_wrong_tokens_make_the_address_wait(
    hass: HomeAssistant, developer_entry: ConfigEntry, bridge: RunningBridge
) -> None:
    """After five wrong tokens the bridge makes the address wait; the form says so instead of 'wrong token'."""
    result = await start_bridge_flow(hass)
    wrong = {CONF_HOST: "127.0.0.1", CONF_PORT: bridge.port, CONF_PAIRING_TOKEN: "guess"}
    for _attempt in range(5):
        result = await submit(hass, result["flow_id"], wrong)
        assert result["errors"] == {"base": "invalid_pairing_token"}
    result = await submit(hass, result["flow_id"], {**wrong, CONF_PAIRING_TOKEN: TOKEN})
    assert result["errors"] == {"base": "pairing_locked_out"}


async def test_unreachable_bridge(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """Nobody listens at the address (or it is no address): the form says the bridge cannot be reached."""
    result = await start_bridge_flow(hass)
    port = int(closed_port_url().rsplit(":", 1)[1])
    result = await submit(hass, result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: port, CONF_PAIRING_TOKEN: TOKEN})
    assert result["errors"] == {"base": "bridge_unreachable"}
    result = await submit(hass, result["flow_id"], {CONF_HOST: "my bridge", CONF_PORT: port, CONF_PAIRING_TOKEN: TOKEN})
    assert result["errors"] == {"base": "bridge_unreachable"}


async def test_not_a_bridge(hass: HomeAssistant, developer_entry: ConfigEntry, not_a_bridge: int) -> None:
    """A web server without the link is not taken for a bridge."""
    result = await start_bridge_flow(hass)
    data = {CONF_HOST: "127.0.0.1", CONF_PORT: not_a_bridge, CONF_PAIRING_TOKEN: TOKEN}
    result = await submit(hass, result["flow_id"], data)
    assert result["errors"] == {"base": "bridge_incompatible"}


async def test_a_bridge_needs_an_account_first(hass: HomeAssistant, core: None, bridge: RunningBridge) -> None:
    """Without a Gemini account there is nothing to hand the bridge: the flow says to add one."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": KIND_BRIDGE})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_account"
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=discovery(bridge)
    )
    assert result["reason"] == "no_account"


async def test_same_bridge_again_is_recognised_without_replacing_its_link(
    hass: HomeAssistant, developer_entry: ConfigEntry, bridge: RunningBridge
) -> None:
    """Adding a bridge that is already set up stops at its hello: the running link is not replaced."""
    entry = await add_bridge_entry(hass, bridge.port)
    links_before = len(bridge.probe.of_type("configure"))
    result = await start_bridge_flow(hass)
    data = {CONF_HOST: "127.0.0.1", CONF_PORT: bridge.port, CONF_PAIRING_TOKEN: "anything"}
    result = await submit(hass, result["flow_id"], data)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.runtime_data.client.connected
    assert bridge.home.connected
    assert len(bridge.probe.of_type("configure")) == links_before


async def test_discovered_bridge_asks_for_the_token_only(
    hass: HomeAssistant, developer_entry: ConfigEntry, bridge: RunningBridge
) -> None:
    """Zeroconf: one confirmation with the pairing token; the flow is titled with the bridge's host."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=discovery(bridge)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    assert set(result["data_schema"].schema) == {CONF_PAIRING_TOKEN}
    [progress] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert progress["context"]["title_placeholders"] == {"host": "127.0.0.1"}
    result = await submit(hass, result["flow_id"], {CONF_PAIRING_TOKEN: TOKEN})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == bridge_id(bridge)
    assert result["data"][CONF_PORT] == bridge.port


async def test_discovery_of_a_known_bridge_updates_its_address(
    hass: HomeAssistant, developer_entry: ConfigEntry, bridge: RunningBridge
) -> None:
    """The same bridge announced at another port: the entry follows it; a service without an id is ignored."""
    entry = await add_bridge_entry(hass, bridge.port)
    moved = discovery(bridge)
    moved.port = bridge.port + 1
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_ZEROCONF}, data=moved)
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_PORT] == bridge.port + 1
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=discovery(bridge, id="")
    )
    assert result["reason"] == "not_a_bridge"


async def test_with_two_accounts_the_form_asks_which(
    hass: HomeAssistant, developer_entry: ConfigEntry, vertex_entry: ConfigEntry, bridge: RunningBridge
) -> None:
    """Two Gemini accounts: the bridge's form asks which one its sessions use."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=discovery(bridge)
    )
    assert set(result["data_schema"].schema) == {CONF_PAIRING_TOKEN, CONF_ACCOUNT}
    result = await submit(hass, result["flow_id"], {CONF_PAIRING_TOKEN: TOKEN, CONF_ACCOUNT: vertex_entry.entry_id})
    assert result["data"][CONF_ACCOUNT] == vertex_entry.entry_id


async def test_reconfigure_keeps_the_token_and_refuses_another_bridge(
    hass: HomeAssistant, developer_entry: ConfigEntry, bridge: RunningBridge, tmp_path: Path, emulator: Emulator
) -> None:
    """Reconfigure: an empty token keeps the current one; another bridge at the new address is refused."""
    entry = await add_bridge_entry(hass, bridge.port)
    other = await start_bridge(link_settings(tmp_path / "other-bridge"))
    try:
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
        )
        assert result["step_id"] == "bridge_reconfigure"
        result = await submit(hass, result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: other.port})
        assert result["errors"] == {"base": "wrong_bridge"}
        result = await submit(hass, result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: bridge.port})
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        assert entry.data[CONF_PAIRING_TOKEN] == TOKEN
    finally:
        await other.bridge.stop()


async def test_options_without_the_models_list(
    hass: HomeAssistant, developer_entry: ConfigEntry, bridge: RunningBridge, emulator: Emulator
) -> None:
    """When the service does not list its models, the form still offers the recommended and the current one."""
    entry = await add_bridge_entry(hass, bridge.port)
    # Every REST call refused while the form is made: another call (the account's availability check) may come
    # first and would take a single refusal.
    emulator.config.faults.reject_rest = 1_000
    try:
        result = await hass.config_entries.options.async_init(entry.entry_id)
    finally:
        emulator.config.faults.reject_rest = 0
    model_selector = next(value for key, value in result["data_schema"].schema.items() if key == CONF_CHAT_MODEL)
    assert [option["value"] for option in model_selector.config["options"]] == ["gemini-3.8-live"]


async def test_options_offer_the_live_models_of_the_account(
    hass: HomeAssistant, developer_entry: ConfigEntry, bridge: RunningBridge
) -> None:
    """The options list the account's Live models; turning the confirmation off is saved."""
    entry = await add_bridge_entry(hass, bridge.port)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    schema = result["data_schema"].schema
    model_selector = next(value for key, value in schema.items() if key == CONF_CHAT_MODEL)
    models = {option["value"] for option in model_selector.config["options"]}
    assert {"gemini-3.8-live", "gemini-2.5-flash-native-audio-preview-12-2025"} <= models
    assert "gemini-3.1-flash-lite" not in models
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**entry.options, CONF_CONFIRM: False, CONF_LLM_HASS_API: ["assist"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_CONFIRM] is False
    assert not entry.runtime_data.confirm_enabled

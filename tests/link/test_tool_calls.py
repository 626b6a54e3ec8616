"""Tool calls and confirmations as Home Assistant answers them, on its real LLM APIs, without the bridge in between."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, override

import pytest
from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.const import CONF_LLM_HASS_API, CONF_PROMPT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import llm
from homeassistant.setup import async_setup_component

from custom_components.gemini_live import link_tools
from custom_components.gemini_live.confirmation import async_sensitive_targets
from custom_components.gemini_live.link_tools import SatelliteSetup, ToolCalls, async_satellite_setup

from .helpers import FRONT_DOOR_LOCK


class Broken(llm.Tool):
    """A tool whose result is an error."""

    name = "broken"
    description = "Always fails."
    integration = "test"

    @override
    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> llm.ToolResult:
        return llm.ToolResult(data={"error": "Broken", "error_text": "it is broken"}, error=True)


class Exploding(Broken):
    """A tool that raises what no tool should."""

    name = "exploding"

    @override
    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> llm.ToolResult:
        raise RuntimeError("boom")


class Slow(Broken):
    """A tool that takes its time."""

    name = "slow"

    @override
    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> llm.ToolResult:
        await asyncio.Event().wait()
        raise AssertionError("never")


class Unlocker(Broken):
    """A tool (not an intent) whose arguments name an entity."""

    name = "unlock_by_id"

    @override
    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> llm.ToolResult:
        return llm.ToolResult(data={"unlocked": tool_input.tool_args["target"]})


class TestAPI(llm.API):
    """An LLM API with the tools above."""

    @override
    async def async_get_api_instance(self, llm_context: llm.LLMContext) -> llm.APIInstance:
        return llm.APIInstance(self, "Test tools.", llm_context, [Broken(), Exploding(), Slow(), Unlocker()])


class Host:
    """What the bridge runtime gives ToolCalls, kept in lists."""

    def __init__(self, hass: HomeAssistant, setup: SatelliteSetup) -> None:
        self.hass = hass
        self.setup = setup
        self.confirm_enabled = True
        self.sent: list[dict[str, Any]] = []
        self.tasks: list[asyncio.Task[Any]] = []

    def setup_for(self, satellite: str) -> SatelliteSetup | None:
        return self.setup if satellite == "sat" else None

    def describe_satellite(self, satellite: str) -> dict[str, Any]:
        return {"satellite": satellite, "name": satellite, "device_id": None, "entity_id": None}

    async def async_send(self, message: dict[str, Any]) -> bool:
        self.sent.append(message)
        return True

    def async_spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self.tasks.append(self.hass.async_create_task(coro, name))

    async def settle(self) -> list[dict[str, Any]]:
        """Every answer so far, once all are sent."""
        while self.tasks:
            await self.tasks.pop(0)
        return self.sent


@pytest.fixture
async def calls(hass: HomeAssistant, core: None) -> tuple[ToolCalls, Host]:
    """ToolCalls on the test API and the Assist API together."""
    llm.async_register_api(hass, TestAPI(hass=hass, id="link_test", name="Link test"))
    setup = await async_satellite_setup(hass, {CONF_LLM_HASS_API: ["assist", "link_test"]}, None)
    host = Host(hass, setup)
    return ToolCalls(hass, host), host


def call(name: str, call_id: str = "c1", satellite: str = "sat", **args: Any) -> dict[str, Any]:
    """A tool_call message."""
    return {"type": "tool_call", "id": call_id, "satellite": satellite, "name": name, "args": args, "turn": "7"}


async def test_failures_reach_the_model_as_errors(
    hass: HomeAssistant, calls: tuple[ToolCalls, Host], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error result, an exception, a time-out, an unknown function or satellite: each an error text."""
    tools, host = calls
    monkeypatch.setattr(link_tools, "TOOL_TIMEOUT_S", 0.05)
    tools.async_tool_call(call("link-test__broken", "c1"))
    tools.async_tool_call(call("link-test__exploding", "c2"))
    tools.async_tool_call(call("link-test__slow", "c3"))
    tools.async_tool_call(call("nonexistent", "c4"))
    tools.async_tool_call(call("link-test__broken", "c5", satellite="elsewhere"))
    tools.async_tool_call({"type": "tool_call", "satellite": "sat"})
    answers = {message.get("id"): message for message in await host.settle()}
    assert answers["c1"]["error"] == "it is broken"
    assert answers["c2"]["error"] == "Home Assistant had an unexpected error; nothing was done"
    assert answers["c3"]["error"] == "Home Assistant did not finish link-test__slow within 0 s"
    assert answers["c4"]["error"] == "Home Assistant has no function nonexistent"
    assert answers["c5"]["error"] == "this satellite has no Home Assistant tools"
    assert answers[None] == {"type": "error", "code": "bad_message", "message": "tool_call: id is missing"}


async def test_a_repeated_call_is_answered_again_not_run_again(calls: tuple[ToolCalls, Host]) -> None:
    """The same id after its answer: the same answer, without running the tool a second time."""
    tools, host = calls
    tools.async_tool_call(call("link-test__unlock_by_id", "c1", target="the shed"))
    await host.settle()
    tools.async_tool_call(call("link-test__unlock_by_id", "c1", target="the shed"))
    first, again = await host.settle()
    assert first == again == {"type": "tool_result", "id": "c1", "result": {"unlocked": "the shed"}}


async def test_a_call_naming_a_lock_waits_for_the_yes(
    hass: HomeAssistant, calls: tuple[ToolCalls, Host], front_door: str
) -> None:
    """A non-intent tool whose arguments name a lock asks first; the confirmation runs it once, on its satellite."""
    tools, host = calls
    tools.async_tool_call(call("link-test__unlock_by_id", "c1", target="Front door"))
    [asked] = await host.settle()
    confirmation = asked["confirm"]["confirmation"]
    assert asked["confirm"]["question"] == "Run link-test__unlock_by_id on Front door?"
    tools.async_confirm({"type": "confirm", "confirmation": confirmation, "satellite": "elsewhere", "heard": "yes"})
    tools.async_confirm({"type": "confirm", "confirmation": confirmation, "satellite": "sat", "heard": "yes"})
    tools.async_confirm({"type": "confirm", "confirmation": confirmation, "satellite": "sat", "heard": "yes"})
    _, wrong_satellite, done, again = await host.settle()
    assert wrong_satellite["error"] == "that question expired or was never asked here; nothing was done"
    assert done == {"type": "confirm_result", "confirmation": confirmation, "result": {"unlocked": "Front door"}}
    assert again == done, "answered again, not run again"


async def test_what_needs_a_confirmation(hass: HomeAssistant, core: None) -> None:
    """Locks, alarm panels and garage doors by intent or by name; other entities do not."""
    booleans = {"door": {}, "front_door_locked": {"initial": True}}
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": booleans})
    covers = [
        {
            "name": name,
            "unique_id": name,
            "device_class": device_class,
            "state": "{{ 'open' if is_state('input_boolean.door', 'on') else 'closed' }}",
            "open_cover": {"action": "input_boolean.turn_on", "target": {"entity_id": "input_boolean.door"}},
            "close_cover": {"action": "input_boolean.turn_off", "target": {"entity_id": "input_boolean.door"}},
        }
        for name, device_class in (("Garage door", "garage"), ("Blind", "blind"))
    ]
    assert await async_setup_component(hass, "template", {"template": [{"cover": covers, "lock": [FRONT_DOOR_LOCK]}]})
    await hass.async_block_till_done()
    for entity_id in ("cover.garage_door", "cover.blind", "lock.front_door"):
        async_expose_entity(hass, conversation.DOMAIN, entity_id, True)
    setup = await async_satellite_setup(hass, {CONF_LLM_HASS_API: ["assist"]}, None)
    assert setup.api is not None
    tools = {tool.name: tool for tool in setup.api.tools}

    def sensitive(tool_name: str, **args: Any) -> str | None:
        found = async_sensitive_targets(hass, tools[tool_name], args, setup.api.llm_context)  # type: ignore[union-attr]
        return found.question if found else None

    assert sensitive("intent__HassTurnOn", name="Garage door") == "Open Garage door?"
    assert sensitive("intent__HassTurnOn", name="Blind") is None
    assert sensitive("intent__HassTurnOn", name="Front door", domain="lock") == "Lock Front door?"
    assert sensitive("intent__HassTurnOff", name="Back door", domain=["lock"]) == "Unlock Back door?"
    assert sensitive("intent__HassTurnOff", domain=["alarm_control_panel"], area="Hall") == "Disarm Hall?"
    assert sensitive("intent__HassTurnOff", name="Nothing like it") is None
    assert sensitive("intent__HassTurnOff", name="all", domain="cover") == "Close Garage door?"
    assert sensitive("intent__HassTurnOff") is None, "no target at all: the intent refuses it anyway"
    assert sensitive("intent__HassTurnOn", name="Front door") == "Lock Front door?"
    assert sensitive("homeassistant__GetLiveContext") is None, "it only reads"


async def test_setup_survives_a_missing_api_and_a_broken_prompt(hass: HomeAssistant, core: None) -> None:
    """An LLM API that is gone means no tools; a prompt that does not render is used as written."""
    setup = await async_satellite_setup(hass, {CONF_LLM_HASS_API: ["gone"], CONF_PROMPT: "Hi {{ broken("}, None)
    assert setup.api is None
    assert setup.tools == []
    assert setup.options["system_prompt"] == "Hi {{ broken("

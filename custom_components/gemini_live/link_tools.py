"""Home Assistant's tools for each bridged satellite, and running the calls the bridge sends.

:func:`async_satellite_setup` builds what one satellite's Live sessions are configured with: the LLM API
instance (its ``LLMContext.device_id`` is the satellite's device, so "the lights" are the lights in its
area), the function declarations and the Assist prompt. :class:`ToolCalls` answers ``tool_call`` and
``confirm``: each id runs at most once (:class:`OutcomeCache`), within a time-out, with the spoken
confirmation of :mod:`.confirmation` in between for locks, alarm panels and garage doors; the logbook
and the conversation trace show what ran.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import probatio
from homeassistant.components import conversation
from homeassistant.components.conversation.trace import (
    ConversationTraceEvent,
    ConversationTraceEventType,
    async_conversation_trace,
)
from homeassistant.const import CONF_LLM_HASS_API, CONF_PROMPT
from homeassistant.core import Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, TemplateError
from homeassistant.helpers import llm, template

from .chat import json_safe
from .confirmation import HeldCall, HeldCalls, async_sensitive_targets
from .const import (
    CONF_CHAT_MODEL,
    CONF_LANGUAGE,
    CONF_VOICE,
    DEFAULT_LIVE_PROMPT,
    DOMAIN,
    LANGUAGE_AUTO,
    LOGGER,
)
from .schema import ToolNameMap, function_declaration

TOOL_TIMEOUT_S: Final = 8.0  # below the bridge's own time-out (10 s), so the model hears Home Assistant's answer
OUTCOME_TTL_S: Final = 600.0
OUTCOME_LIMIT: Final = 1024
EVENT_TOOL_CALL: Final = f"{DOMAIN}_tool_call"
EVENT_CONFIRMED: Final = f"{DOMAIN}_confirmed"


@dataclass
class SatelliteSetup:
    """What one satellite's sessions are configured with, and the API instance its calls run on."""

    device_id: str | None
    api: llm.APIInstance | None
    names: ToolNameMap
    options: dict[str, str | None]
    tools: list[dict[str, Any]] = field(default_factory=list)


async def async_satellite_setup(
    hass: HomeAssistant, options: Mapping[str, Any], device_id: str | None
) -> SatelliteSetup:
    """The satellite's tools, prompt and settings, as the entry's options and its device's area make them."""
    language = options.get(CONF_LANGUAGE, LANGUAGE_AUTO)
    fixed_language = None if language == LANGUAGE_AUTO else str(language)
    llm_context = llm.LLMContext(
        platform=DOMAIN,
        context=None,
        language=fixed_language or hass.config.language,
        assistant=conversation.DOMAIN,
        device_id=device_id,
    )
    api: llm.APIInstance | None = None
    if api_ids := options.get(CONF_LLM_HASS_API):
        try:
            api = await llm.async_get_api(hass, api_ids, llm_context)
        except HomeAssistantError as err:
            LOGGER.error("The LLM API %s cannot be used for a bridged satellite: %s", api_ids, err)
    names = ToolNameMap(tool.name for tool in api.tools) if api is not None else ToolNameMap()
    tools = (
        [
            function_declaration(tool, names, api.custom_serializer).model_dump(
                mode="json", by_alias=True, exclude_none=True
            )
            for tool in api.tools
        ]
        if api is not None
        else []
    )
    prompt_parts = [_render(hass, str(options.get(CONF_PROMPT) or DEFAULT_LIVE_PROMPT), llm_context)]
    if api is not None and api.api_prompt:
        prompt_parts.append(api.api_prompt)
    return SatelliteSetup(
        device_id=device_id,
        api=api,
        names=names,
        options={
            "model": str(options[CONF_CHAT_MODEL]) if options.get(CONF_CHAT_MODEL) else None,
            "voice": str(options[CONF_VOICE]) if options.get(CONF_VOICE) else None,
            "language": fixed_language,
            "system_prompt": "\n".join(prompt_parts),
        },
        tools=tools,
    )


def _render(hass: HomeAssistant, prompt: str, llm_context: llm.LLMContext) -> str:
    """The instructions template, rendered as a conversation agent's would be."""
    try:
        return str(
            template.Template(prompt, hass).async_render(
                {"ha_name": hass.config.location_name, "user_name": None, "llm_context": llm_context},
                parse_result=False,
            )
        )
    except TemplateError as err:
        LOGGER.error("The instructions for the bridged satellites cannot be rendered, using them as written: %s", err)
        return prompt


class OutcomeCache:
    """The answers to requests by id, kept for 10 minutes (the last 1,024): a repeated request gets the same one."""

    def __init__(self, ttl_s: float = OUTCOME_TTL_S, limit: int = OUTCOME_LIMIT) -> None:
        self._ttl_s = ttl_s
        self._limit = limit
        self._entries: OrderedDict[str, tuple[float, asyncio.Future[dict[str, Any]]]] = OrderedDict()

    def get(self, key: str) -> asyncio.Future[dict[str, Any]] | None:
        """The answer to ``key`` (done, or still being worked out), or None for a new request."""
        self._expire()
        entry = self._entries.get(key)
        return entry[1] if entry is not None else None

    def start(self, key: str) -> asyncio.Future[dict[str, Any]]:
        """Note a new request; its future takes the answer."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._entries[key] = (time.monotonic(), future)
        while len(self._entries) > self._limit:
            self._entries.popitem(last=False)
        return future

    def __len__(self) -> int:
        return len(self._entries)

    def _expire(self) -> None:
        deadline = time.monotonic() - self._ttl_s
        while self._entries:
            started, future = next(iter(self._entries.values()))
            if started >= deadline or not future.done():
                return
            self._entries.popitem(last=False)


class CallHost(Protocol):
    """What running calls needs from the bridge's runtime."""

    @property
    def confirm_enabled(self) -> bool:
        """Whether sensitive calls wait for a spoken yes (the entry's option)."""

    def setup_for(self, satellite: str) -> SatelliteSetup | None:
        """The satellite's current setup."""

    def describe_satellite(self, satellite: str) -> dict[str, Any]:
        """The satellite's name, device and entity, for events and the log."""

    async def async_send(self, message: dict[str, Any]) -> bool:
        """Send a message on the link (False when it is down)."""

    def async_spawn(self, coro: Any, name: str) -> None:
        """Run a coroutine in the background, tied to the entry."""


class ToolCalls:
    """Answers ``tool_call`` and ``confirm`` messages (see the module docstring)."""

    def __init__(self, hass: HomeAssistant, host: CallHost) -> None:
        self._hass = hass
        self._host = host
        self.outcomes = OutcomeCache()
        self.held = HeldCalls()

    @callback
    def async_tool_call(self, message: dict[str, Any]) -> None:
        """A call of a function Home Assistant declared (a repeated id is answered, not run again)."""
        self._once("tool_result", "id", message, self._answer_call)

    @callback
    def async_confirm(self, message: dict[str, Any]) -> None:
        """The user said yes to a question Home Assistant asked: run the held call (once)."""
        self._once("confirm_result", "confirmation", message, self._answer_confirm)

    @callback
    def _once(self, reply: str, field_name: str, message: dict[str, Any], answer: Any) -> None:
        """Answer a request; one seen before gets the same answer again instead of running again.

        A request is known by its id, on its satellite, in its turn: a call sent again after a reconnect
        is the same message, while a model that numbers its calls per session (function-call-1, ...) can
        reuse an id in the next conversation for a call that must run.
        """
        request_id = message.get(field_name)
        if not isinstance(request_id, str) or not request_id:
            self._host.async_spawn(
                self._host.async_send(
                    {"type": "error", "code": "bad_message", "message": f"{message['type']}: {field_name} is missing"}
                ),
                "gemini_live bad message",
            )
            return
        key = f"{reply}:{message.get('satellite')}:{message.get('turn')}:{request_id}"
        known = self.outcomes.get(key)
        if known is not None:
            if known.done():
                LOGGER.debug("%s %s was answered before; sending the same answer", message["type"], request_id)
                self._host.async_spawn(self._host.async_send(known.result()), f"gemini_live {reply} again")
            # Still running: its answer goes out on the current connection when it is done.
            return
        future = self.outcomes.start(key)
        self._host.async_spawn(self._respond(future, reply, field_name, request_id, answer(message)), reply)

    async def _respond(
        self, future: asyncio.Future[dict[str, Any]], reply: str, field_name: str, request_id: str, work: Any
    ) -> None:
        try:
            body: dict[str, Any] = await work
        except Exception:
            LOGGER.exception("Unexpected error while answering the bridge's %s %s", reply, request_id)
            body = {"error": "Home Assistant had an unexpected error; nothing was done"}
        answer = {"type": reply, field_name: request_id, **body}
        future.set_result(answer)
        await self._host.async_send(answer)

    async def _answer_call(self, message: dict[str, Any]) -> dict[str, Any]:
        satellite = str(message.get("satellite") or "")
        name = str(message.get("name") or "")
        args: dict[str, Any] = message["args"] if isinstance(message.get("args"), dict) else {}
        turn = str(message.get("turn") or "-")
        call_id = str(message["id"])
        setup = self._host.setup_for(satellite)
        if setup is None or setup.api is None:
            return {"error": "this satellite has no Home Assistant tools"}
        tool_name = setup.names.home_assistant(name)
        tool = next((tool for tool in setup.api.tools if tool.name == tool_name), None)
        if tool is None:
            return {"error": f"Home Assistant has no function {name}"}
        if self._host.confirm_enabled and (
            sensitive := async_sensitive_targets(self._hass, tool, args, setup.api.llm_context)
        ):
            confirmation = self.held.hold(HeldCall(satellite, call_id, tool_name, dict(args), sensitive.question, turn))
            LOGGER.info(
                "[%s turn %s] %s(%s) touches %s: asking %r first",
                satellite,
                turn,
                tool_name,
                args,
                ", ".join(sensitive.entity_ids) or "a lock or alarm panel",
                sensitive.question,
            )
            return {"confirm": {"confirmation": confirmation, "question": sensitive.question}}
        return await self._run(setup, satellite=satellite, turn=turn, call_id=call_id, tool_name=tool_name, args=args)

    async def _answer_confirm(self, message: dict[str, Any]) -> dict[str, Any]:
        satellite = str(message.get("satellite") or "")
        held = self.held.take(str(message["confirmation"]), satellite)
        if held is None:
            return {"error": "that question expired or was never asked here; nothing was done"}
        setup = self._host.setup_for(satellite)
        if setup is None or setup.api is None:
            return {"error": "this satellite has no Home Assistant tools"}
        heard = str(message.get("heard") or "")
        LOGGER.info("[%s turn %s] %r confirmed with %r", satellite, held.turn, held.question, heard)
        return await self._run(
            setup,
            satellite=satellite,
            turn=held.turn,
            call_id=held.call_id,
            tool_name=held.tool_name,
            args=held.args,
            heard=heard,
        )

    async def _run(
        self,
        setup: SatelliteSetup,
        *,
        satellite: str,
        turn: str,
        call_id: str,
        tool_name: str,
        args: dict[str, Any],
        heard: str | None = None,
    ) -> dict[str, Any]:
        """Run one call on the satellite's API instance; the ``result`` or ``error`` for the answer."""
        assert setup.api is not None
        context = Context()
        details = {**self._host.describe_satellite(satellite), "tool": tool_name, "args": args, "turn": turn}
        if heard is not None:
            self._hass.bus.async_fire(EVENT_CONFIRMED, {**details, "heard": heard}, context=context)
        else:
            self._hass.bus.async_fire(EVENT_TOOL_CALL, details, context=context)
        api = dataclasses.replace(setup.api, llm_context=dataclasses.replace(setup.api.llm_context, context=context))
        with async_conversation_trace() as trace:
            trace.add_event(ConversationTraceEvent(ConversationTraceEventType.ASYNC_PROCESS, details))
            try:
                async with asyncio.timeout(TOOL_TIMEOUT_S):
                    result = await api.async_call_tool(llm.ToolInput(tool_name=tool_name, tool_args=args, id=call_id))
            except TimeoutError:
                LOGGER.warning(
                    "[%s turn %s] %s did not finish within %.0f s", satellite, turn, tool_name, TOOL_TIMEOUT_S
                )
                return {"error": f"Home Assistant did not finish {tool_name} within {TOOL_TIMEOUT_S:.0f} s"}
            except (HomeAssistantError, probatio.Invalid) as err:
                LOGGER.info("[%s turn %s] %s(%s) failed: %s", satellite, turn, tool_name, args, err)
                return {"error": f"{type(err).__name__}: {err}"}
            data = json_safe(result.data)
            trace.set_result(result=data, error=result.error)
        LOGGER.debug("[%s turn %s] %s(%s) → %s", satellite, turn, tool_name, args, data)
        if result.error:
            return {"error": _error_text(data)}
        return {"result": data}


def _error_text(data: Any) -> str:
    """A failed tool's result as the text the model is told."""
    if isinstance(data, Mapping):
        for key in ("error_text", "error"):
            if isinstance(data.get(key), str) and data[key]:
                return str(data[key])
    return json.dumps(data, ensure_ascii=False)

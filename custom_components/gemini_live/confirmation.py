"""Which tool calls need the user's spoken "yes" first, and the calls held until it comes.

Locks, alarm control panels and covers of device class garage, gate or door are not touched on the
model's word alone (docs/link-protocol.md, *Safety*). :func:`async_sensitive_targets` finds what a call
would touch: for an intent tool, the entities Home Assistant's own matching picks (the satellite's area
preferred, as the intent itself does); when that cannot be resolved, or for any other tool, whatever its
arguments name. It errs towards asking. :class:`HeldCalls` keeps a call that waits for its answer, for
30 s, on the satellite that asked.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.core import HomeAssistant, State, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import intent, llm
from homeassistant.util import dt as dt_util

SENSITIVE_DOMAINS: Final = frozenset({"lock", "alarm_control_panel"})
SENSITIVE_COVER_CLASSES: Final = frozenset({"garage", "gate", "door"})
CONFIRM_WINDOW: Final = timedelta(seconds=30)

# What the question asks, by the entity's domain and the intent: "Unlock Front door?"
_VERBS: Final = {
    ("lock", intent.INTENT_TURN_ON): "Lock",
    ("lock", intent.INTENT_TURN_OFF): "Unlock",
    ("cover", intent.INTENT_TURN_ON): "Open",
    ("cover", intent.INTENT_TURN_OFF): "Close",
    ("cover", intent.INTENT_SET_POSITION): "Move",
    ("alarm_control_panel", intent.INTENT_TURN_ON): "Arm",
    ("alarm_control_panel", intent.INTENT_TURN_OFF): "Disarm",
}


def is_sensitive(state: State) -> bool:
    """Whether an entity needs a spoken confirmation before a tool touches it."""
    if state.domain in SENSITIVE_DOMAINS:
        return True
    return state.domain == "cover" and state.attributes.get("device_class") in SENSITIVE_COVER_CLASSES


@dataclass(frozen=True)
class Sensitive:
    """What a call would touch that needs a confirmation, and the question to ask."""

    entity_ids: list[str]
    question: str


@callback
def async_sensitive_targets(
    hass: HomeAssistant, tool: llm.Tool, args: Mapping[str, Any], llm_context: llm.LLMContext
) -> Sensitive | None:
    """The sensitive entities ``tool`` would touch with ``args``, or None when it touches none."""
    if tool.annotations.read_only:
        return None
    inner = tool
    while isinstance(inner, llm.NamespacedTool):
        inner = inner.tool
    intent_type: str | None = None
    if isinstance(inner, llm.IntentTool):
        intent_type = inner.intent_type
        handler = next((h for h in intent.async_get(hass) if h.intent_type == intent_type), None)
        if not isinstance(handler, intent.DynamicServiceIntentHandler):
            return None  # timers, questions: nothing an entity does
        targets = _intent_targets(hass, handler, args, llm_context)
        if targets is not None:
            sensitive = [state for state in targets if is_sensitive(state)]
            return _sensitive(sensitive, intent_type, tool) if sensitive else None
        if _domains(args.get("domain")) & SENSITIVE_DOMAINS:
            # Unresolved, but aimed at a lock or an alarm panel: ask all the same.
            name = str(args.get("name") or args.get("area") or "the " + sorted(_domains(args["domain"]))[0])
            domain = sorted(_domains(args["domain"]) & SENSITIVE_DOMAINS)[0]
            return Sensitive([], _question(_VERBS.get((domain, intent_type)), [name], tool))
    named = _named_sensitive(hass, args)
    return _sensitive(named, intent_type, tool) if named else None


def _intent_targets(
    hass: HomeAssistant,
    handler: intent.DynamicServiceIntentHandler,
    args: Mapping[str, Any],
    llm_context: llm.LLMContext,
) -> list[State] | None:
    """The entities the intent would act on, matched as the intent matches them (None: no match)."""
    slots = {key: value for key, value in args.items() if not intent.is_blank_slot_value(value)}
    name = slots.get("name")
    domains = _domains(slots["domain"]) if "domain" in slots else handler.required_domains
    constraints = intent.MatchTargetsConstraints(
        name=None if name == "all" else _text(name),
        area_name=_text(slots.get("area")),
        floor_name=_text(slots.get("floor")),
        domains=domains or None,
        device_classes=_domains(slots["device_class"]) if "device_class" in slots else None,
        assistant=llm_context.assistant,
        allow_duplicate_names=True,  # every candidate counts: a duplicate name is no reason not to ask
    )
    if not constraints.has_constraints:
        return []
    result = intent.async_match_targets(hass, constraints, llm.async_get_match_preferences(hass, llm_context))
    return result.states if result.is_match else None


def _named_sensitive(hass: HomeAssistant, args: Mapping[str, Any]) -> list[State]:
    """Sensitive entities that the arguments name, by entity id, name or alias."""
    texts = {text.strip().casefold() for text in _strings(args) if text.strip()}
    if not texts:
        return []
    registry = er.async_get(hass)
    found: list[State] = []
    for state in hass.states.async_all(("lock", "alarm_control_panel", "cover")):
        if not is_sensitive(state):
            continue
        names = {state.entity_id.casefold(), state.name.casefold()}
        if entry := registry.async_get(state.entity_id):
            names |= {alias.casefold() for alias in er.async_get_entity_aliases(hass, entry)}
        if names & texts:
            found.append(state)
    return found


def _sensitive(states: list[State], intent_type: str | None, tool: llm.Tool) -> Sensitive:
    verb = _VERBS.get((states[0].domain, intent_type or ""))
    return Sensitive([state.entity_id for state in states], _question(verb, [state.name for state in states], tool))


def _question(verb: str | None, names: list[str], tool: llm.Tool) -> str:
    """A short question naming what would be touched: "Unlock Front door?"."""
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    if verb is not None:
        return f"{verb} {listed}?"
    return f"Run {tool.title or tool.name} on {listed}?"


def _domains(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list | tuple | set):
        return {str(item) for item in value}
    return set()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@dataclass
class HeldCall:
    """A call that waits for the user's spoken yes."""

    satellite: str
    call_id: str
    tool_name: str
    args: dict[str, Any]
    question: str
    turn: str
    held_at: datetime = field(default_factory=dt_util.utcnow)


class HeldCalls:
    """Calls waiting for a confirmation, by confirmation id; each runs at most once, within 30 s."""

    def __init__(self) -> None:
        self._held: dict[str, HeldCall] = {}

    def hold(self, call: HeldCall) -> str:
        """Keep ``call``; the confirmation id the bridge answers with."""
        self._expire()
        confirmation = "confirm-" + secrets.token_hex(8)
        self._held[confirmation] = call
        return confirmation

    def take(self, confirmation: str, satellite: str) -> HeldCall | None:
        """The call a confirmation releases, if it was asked on ``satellite`` less than 30 s ago (once)."""
        self._expire()
        call = self._held.get(confirmation)
        if call is None or call.satellite != satellite:
            return None
        del self._held[confirmation]
        return call

    def __len__(self) -> int:
        return len(self._held)

    def _expire(self) -> None:
        deadline = dt_util.utcnow() - CONFIRM_WINDOW
        for confirmation in [key for key, call in self._held.items() if call.held_at < deadline]:
            del self._held[confirmation]

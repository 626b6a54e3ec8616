"""Scenarios: what each user turn "said" and what the emulated model does in reply.

The emulator cannot recognise speech, so a scenario scripts the conversation. Each turn gives the
user's transcript and the model's steps: spoken replies, tool calls (several rounds, using the
results), refusals, pauses (model latency) and faults. Scenarios come from YAML/JSON files or are
built in Python. Without a scenario, or once its turns are used up, every user turn still gets a
short spoken reply, so any client can be tried against the emulator.

YAML form::

    turns:
      - user: turn on the kitchen light
        model:
          - call: {name: HassTurnOn, args: {name: kitchen light}}
          - say: "Done: the kitchen light is {result[output][state]}."
      - user: شغل الضوء
        language: ar-EG
        expect_reply: true
        model:
          - pause_ms: 300
          - say: حاضر. أي ضوء؟
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

DEMO_SCENARIO = Path(__file__).parent / "scenarios" / "demo.yaml"
"""The scenario the demo and many tests run: a turn in English, then one in Arabic."""

FaultKind = Literal["internal_error", "quota", "drop", "go_away"]
FAULT_KINDS: tuple[FaultKind, ...] = ("internal_error", "quota", "drop", "go_away")

TURN_COMPLETE_REASONS = (
    "MALFORMED_FUNCTION_CALL",
    "RESPONSE_REJECTED",
    "NEED_MORE_INPUT",
    "PROHIBITED_INPUT_CONTENT",
    "IMAGE_PROHIBITED_INPUT_CONTENT",
    "INPUT_TEXT_CONTAINS_PROHIBITED_CONTENT",
    "GENERATED_AUDIO_SAFETY",
    "MAX_REGENERATION_REACHED",
)


class ScenarioError(ValueError):
    """A scenario file or dict that cannot be understood."""


@dataclass(frozen=True)
class Say:
    """Speak ``text`` (a :py:meth:`str.format` template over the tool results so far)."""

    text: str
    language: str | None = None


@dataclass(frozen=True)
class Call:
    """Call the function ``name``; consecutive calls go out together in one ``toolCall``.

    ``on_result`` is spoken when a NON_BLOCKING call's response arrives (as its ``scheduling`` says).
    """

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    on_result: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Refuse:
    """End the model turn without an answer, with this ``turnCompleteReason``."""

    reason: str = "PROHIBITED_INPUT_CONTENT"


@dataclass(frozen=True)
class Pause:
    """Wait before the next step (model latency)."""

    ms: int


@dataclass(frozen=True)
class Fault:
    """Break the connection the way the real service does (or send ``goAway`` now)."""

    kind: FaultKind


type Step = Say | Call | Refuse | Pause | Fault


@dataclass(frozen=True)
class Turn:
    """One user turn and the model's reply."""

    user: str | None
    steps: tuple[Step, ...]
    language: str | None = None
    expect_reply: bool = False


@dataclass(frozen=True)
class ToolResult:
    """A function response the model received, for templates: ``{result}`` and ``{results[name]}``."""

    name: str
    response: Mapping[str, Any]


def normalize_text(text: str) -> str:
    """Case, diacritics and punctuation folded away, for matching typed text to a scripted turn."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    kept = "".join(" " if unicodedata.category(ch)[0] in "PSZ" else ch for ch in kept)
    return " ".join(kept.split())


def render(template: str, results: Sequence[ToolResult]) -> str:
    """Fill ``{result...}`` / ``{results[name]...}`` placeholders; a template that does not fit stays as written."""
    if "{" not in template:
        return template
    values: dict[str, Any] = {
        "result": results[-1].response if results else {},
        "results": {r.name: r.response for r in results},
    }
    try:
        return string.Formatter().vformat(template, (), values)
    except KeyError, IndexError, AttributeError, ValueError, TypeError:
        return template


_ARABIC = re.compile(r"[\u0600-\u06ff]")


def default_turn(user_text: str | None, language: str | None, audio_seconds: float) -> Turn:
    """The reply to a turn no scenario scripts."""
    arabic = bool(language and language.lower().startswith("ar")) or bool(user_text and _ARABIC.search(user_text))
    if user_text:
        reply = f"قلت: {user_text}" if arabic else f"You said: {user_text}"
    elif arabic:
        reply = "سمعتك. هذا محاكي جيميني لايف."
    else:
        reply = f"I heard {audio_seconds:.1f} seconds of audio. This is the Gemini Live emulator."
    return Turn(user=None, steps=(Say(reply, "ar-EG" if arabic else None),), language=language)


@dataclass(frozen=True)
class Scenario:
    """An ordered script of turns. Typed text picks the turn whose ``user`` matches it; speech goes in order.

    The order runs across all conversations of one emulator: the N-th spoken user turn heard, on any Live
    session or in any REST request (the requests of one turn count once), gets the N-th turn. Typed REST
    text that matches no turn gets the turn at its index in the request.
    """

    turns: tuple[Turn, ...] = ()

    def turn_for(self, index: int, text: str | None) -> Turn | None:
        """The scripted turn for the ``index``-th user turn (0-based), or None when the script has none."""
        if text:
            wanted = normalize_text(text)
            for turn in self.turns:
                if turn.user is not None and normalize_text(turn.user) == wanted:
                    return turn
        if index < len(self.turns):
            return self.turns[index]
        return None

    @classmethod
    def from_data(cls, data: Mapping[str, Any] | Sequence[Any]) -> Scenario:
        """Build from parsed YAML/JSON: ``{"turns": [...]}`` or a bare list of turns."""
        turns_data = data.get("turns", []) if isinstance(data, Mapping) else data
        if not isinstance(turns_data, Sequence) or isinstance(turns_data, str):
            raise ScenarioError("'turns' must be a list")
        return cls(tuple(_turn(t, f"turns[{i}]") for i, t in enumerate(turns_data)))

    @classmethod
    def from_file(cls, path: str | Path) -> Scenario:
        """Load a ``.yaml``/``.yml`` or ``.json`` scenario file."""
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as err:
            raise ScenarioError(f"{path}: {err}") from err
        if data is None:
            return cls()
        return cls.from_data(data)


def _turn(data: Any, where: str) -> Turn:
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{where}: a turn must be a mapping")
    unknown = set(data) - {"user", "model", "language", "expect_reply"}
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}")
    user = data.get("user")
    if user is not None and not isinstance(user, str):
        raise ScenarioError(f"{where}.user: must be text")
    return Turn(
        user=user,
        steps=_steps(data.get("model", []), f"{where}.model"),
        language=data.get("language"),
        expect_reply=bool(data.get("expect_reply", False)),
    )


def _steps(data: Any, where: str) -> tuple[Step, ...]:
    if isinstance(data, str):
        return (Say(data),)
    if not isinstance(data, Sequence):
        raise ScenarioError(f"{where}: must be a list of steps")
    return tuple(_step(s, f"{where}[{i}]") for i, s in enumerate(data))


def _step(data: Any, where: str) -> Step:
    if isinstance(data, str):
        return Say(data)
    if not isinstance(data, Mapping) or len(data) == 0:
        raise ScenarioError(f"{where}: a step must be a mapping with one of say, call, refuse, pause_ms, fault")
    if "say" in data:
        return Say(str(data["say"]), data.get("language"))
    if "call" in data:
        call = data["call"]
        if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
            raise ScenarioError(f"{where}.call: needs a name")
        args = call.get("args", {})
        if not isinstance(args, Mapping):
            raise ScenarioError(f"{where}.call.args: must be a mapping")
        on_result = _steps(call.get("on_result", []), f"{where}.call.on_result")
        return Call(call["name"], dict(args), on_result)
    if "refuse" in data:
        reason = data["refuse"] if isinstance(data["refuse"], str) else "PROHIBITED_INPUT_CONTENT"
        if reason not in TURN_COMPLETE_REASONS:
            raise ScenarioError(f"{where}.refuse: unknown reason {reason!r}")
        return Refuse(reason)
    if "pause_ms" in data:
        return Pause(int(data["pause_ms"]))
    if "fault" in data:
        if data["fault"] not in FAULT_KINDS:
            raise ScenarioError(f"{where}.fault: one of {', '.join(FAULT_KINDS)}")
        kind: FaultKind = data["fault"]
        return Fault(kind)
    raise ScenarioError(f"{where}: unknown step {sorted(data)}")

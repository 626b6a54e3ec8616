"""Home Assistant's tools for one satellite, and the spoken "yes" that sensitive ones wait for.

:class:`HomeTools` is the :class:`~gemini_live_engine.tools.ToolExecutor` a linked satellite's sessions get
besides the built-in tools: it declares what Home Assistant declared for that satellite and sends each
call over the link. When Home Assistant answers that a call needs the user's confirmation (a lock, an alarm
panel, a garage door), the model is told to ask, and :data:`CONFIRM_ACTION` becomes the only way on: the
bridge itself checks what the user said after the question (:class:`HeardSpeech`), so the model cannot
confirm on the user's behalf.
"""

from __future__ import annotations

import asyncio
import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, Final

from google.genai import types

from gemini_live_engine.tools import ToolError

from .home import HomeLink

CONFIRM_ACTION: Final = "confirm_action"
CONFIRM_WAIT_S: Final = 30.0  # a question not answered within this is dropped (Home Assistant drops it too)
TRANSCRIPT_GRACE_S: Final = 1.5  # how long confirm_action waits for the transcript of the user's answer

# Words that make an answer a yes or a no, by language; a no wins over a yes ("yes, no, don't").
_YES: Final = frozenset(
    {
        # English
        "yes", "yeah", "yep", "yup", "sure", "ok", "okay", "confirm", "confirmed", "correct", "affirmative",
        "absolutely", "definitely",
        # Arabic (letters normalised: alef forms to ا, taa marbuta to ه, alef maqsura to ي)
        "نعم", "اجل", "ايوه", "ايوا", "اي", "بلي", "تمام", "موافق", "طبعا", "اكيد", "اكيده", "حاضر",
        # German, French, Spanish, Italian, Portuguese, Dutch
        "ja", "jawohl", "klar", "genau", "oui", "ouais", "si", "sí", "claro", "vale", "certo", "sim", "jazeker",
    }
)  # fmt: skip
_NO: Final = frozenset(
    {
        "no", "nope", "nah", "don't", "dont", "cancel", "stop", "negative", "never", "not",
        "لا", "كلا", "لأ", "مش", "بلاش", "الغي", "الغاء",
        "nein", "non", "nee", "não", "nao", "annulla",
    }
)  # fmt: skip
_WORD = re.compile(r"[\w']+", re.UNICODE)
_ARABIC_FOLD: Final = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي"})


def answer_of(text: str) -> bool | None:
    """True for a spoken yes, False for a no, None when the words say neither."""
    words = {_fold(word) for word in _WORD.findall(text.lower())}
    if words & {_fold(word) for word in _NO}:
        return False
    if words & {_fold(word) for word in _YES}:
        return True
    return None


def _fold(word: str) -> str:
    """Lower case, Arabic letter forms and diacritics folded, as transcriptions vary."""
    decomposed = unicodedata.normalize("NFKD", word.translate(_ARABIC_FOLD))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch) and ch != "ـ")


class HeardSpeech:
    """What the user said on one satellite, with when (from the session's input transcription)."""

    def __init__(self) -> None:
        self._pieces: list[tuple[float, str]] = []
        self._changed = asyncio.Event()

    def heard(self, text: str) -> None:
        """A piece of the transcript of what the user is saying."""
        if text:
            self._pieces.append((time.monotonic(), text))
            del self._pieces[:-200]
            self._changed.set()
            self._changed = asyncio.Event()

    def since(self, moment: float) -> str:
        """Everything heard after ``moment`` (monotonic), joined."""
        return "".join(text for at, text in self._pieces if at > moment).strip()

    async def wait_since(self, moment: float, timeout_s: float) -> str:
        """What was heard after ``moment``, waiting up to ``timeout_s`` for something to be heard at all."""
        deadline = time.monotonic() + timeout_s
        while not (text := self.since(moment)) and (left := deadline - time.monotonic()) > 0:
            changed = self._changed
            try:
                async with asyncio.timeout(left):
                    await changed.wait()
            except TimeoutError:
                break
        return text


@dataclass
class _Question:
    confirmation: str
    question: str
    asked_at: float


class HomeTools:
    """Home Assistant's functions for one satellite (see the module docstring)."""

    def __init__(self, home: HomeLink, satellite: str, speech: HeardSpeech) -> None:
        self._home = home
        self._satellite = satellite
        self._speech = speech
        self._question: _Question | None = None
        self.turn = "-"  # the satellite's current turn id, for Home Assistant's log

    def declarations(self) -> list[types.FunctionDeclaration]:
        """Home Assistant's declarations for the satellite, and ``confirm_action`` once it declared any."""
        declared = self._home.declarations_for(self._satellite)
        if not declared:
            return []
        confirm = types.FunctionDeclaration(
            name=CONFIRM_ACTION,
            description=(
                "Call this after the user has answered a confirmation question that a home tool asked you to ask. "
                "The bridge checks the user's own words: only a spoken yes runs the action."
            ),
            behavior=types.Behavior.BLOCKING,
        )
        return [*declared, confirm]

    async def call(self, call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run the call in Home Assistant (or settle a confirmation)."""
        if name == CONFIRM_ACTION:
            return await self._confirm()
        # The model's call ids are unique within a session only: the link's id also names the satellite and turn,
        # and stays the same when the call is sent again after the link drops.
        link_id = f"{self._satellite}#{self.turn}#{call_id}"
        answer = await self._home.call_tool(self._satellite, link_id, name, args, self.turn)
        return self._outcome(answer)

    def _outcome(self, answer: dict[str, Any]) -> dict[str, Any]:
        if isinstance(answer.get("confirm"), dict):
            confirm = answer["confirm"]
            question = str(confirm.get("question") or "Should I go ahead?")
            self._question = _Question(str(confirm.get("confirmation") or ""), question, time.monotonic())
            return {
                "needs_confirmation": True,
                "ask_the_user": question,
                "instructions": (
                    "Nothing was done yet. Ask the user exactly this question in their language and wait for the "
                    f"answer; then call {CONFIRM_ACTION}."
                ),
            }
        if "error" in answer:
            raise ToolError(str(answer["error"]))
        result = answer.get("result")
        return result if isinstance(result, dict) else {"result": result}

    async def _confirm(self) -> dict[str, Any]:
        question, self._question = self._question, None
        if question is None or time.monotonic() - question.asked_at > CONFIRM_WAIT_S:
            raise ToolError("there is no question waiting for an answer; nothing was done")
        heard = await self._speech.wait_since(question.asked_at, TRANSCRIPT_GRACE_S)
        said = answer_of(heard)
        if said is not True:
            what = "no" if said is False else "neither yes nor no"
            raise ToolError(f"the user said {what} ({heard!r}); nothing was done")
        answer = await self._home.confirm(self._satellite, question.confirmation, heard)
        if "error" in answer:
            raise ToolError(str(answer["error"]))
        result = answer.get("result")
        return result if isinstance(result, dict) else {"result": result}

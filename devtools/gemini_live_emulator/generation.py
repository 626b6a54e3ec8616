"""What the emulated model answers to a REST ``generateContent`` request, derived from the request.

REST is stateless, so where a request stands is read from ``contents``: the current user turn is
the last user content that is not only function responses, its index is the number of such user turns
before it, and the number of model function-call rounds after it says how far into that turn's steps
the model is. Which scenario turn it is follows the Live side: a spoken user turn (audio in the current
turn) takes the next position of the emulator's one script, once per distinct turn
(:func:`spoken_turn_key` names it, so the requests of one turn share it); typed text picks the turn
whose ``user`` matches it, else the turn at its index in the request. A reply is produced as an async
stream of :class:`Parts` (content parts, in the order and at the pace the model "generates" them) ending
with one :class:`Finish`; an injected fault raises :class:`InjectedFault`. Streaming and non-streaming
responses are both built from that stream.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import logging
import math
import re
import secrets
import struct
import wave
import zlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from .scenario import Call, Fault, Pause, Refuse, Say, Step, ToolResult, Turn, default_turn, render
from .speech import detect_language

if TYPE_CHECKING:
    from .speech import Synthesizer

_LOGGER = logging.getLogger(__name__)

OUTPUT_RATE: Final = 24000
TTS_MIME: Final = f"audio/L16;codec=pcm;rate={OUTPUT_RATE}"
AUDIO_TOKENS_PER_SECOND: Final = 32
IMAGE_TOKENS: Final = 258
GENERATED_IMAGE_TOKENS: Final = 1290  # what the service counts for an image it draws (1024×1024)
IMAGE_SIZE: Final = 64  # the side of the emulator's drawings, in pixels
STT_PLACEHOLDER: Final = "This is the Gemini emulator's placeholder transcript."
TEXT_CHUNK_WORDS: Final = 4
TEXT_CHUNK_INTERVAL_S: Final = 0.03
AUDIO_CHUNK_S: Final = 0.5

# The scenario's Live turnCompleteReason values, as REST reports them: refused input is a blocked prompt
# (promptFeedback.blockReason, no candidate); refused output is a candidate's finishReason.
_BLOCKED_PROMPT: Final = {
    "PROHIBITED_INPUT_CONTENT": "PROHIBITED_CONTENT",
    "INPUT_TEXT_CONTAINS_PROHIBITED_CONTENT": "PROHIBITED_CONTENT",
    "IMAGE_PROHIBITED_INPUT_CONTENT": "PROHIBITED_CONTENT",
}
_FINISH_REASON: Final = {
    "RESPONSE_REJECTED": "SAFETY",
    "GENERATED_AUDIO_SAFETY": "SAFETY",
    "MALFORMED_FUNCTION_CALL": "MALFORMED_FUNCTION_CALL",
    "MAX_REGENERATION_REACHED": "OTHER",
    "NEED_MORE_INPUT": "STOP",
}
_RATE = re.compile(r"rate=(\d+)")
_SENTENCE_END = re.compile(r"(?<=[.!?؟。！？])\s+")
_WORD = re.compile(r"\S+\s*")
_SPEAKER_LINE = re.compile(r"^\s*([^:\n]{1,40}):\s*(.+)$")
_TRANSCRIBE = re.compile(r"transcri", re.IGNORECASE)


class InjectedFault(Exception):
    """A scenario ``fault`` step: the request fails the way the service fails."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class Parts:
    """Content parts the model produced next."""

    parts: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Finish:
    """How the reply ended: a candidate's ``finishReason``, or a blocked prompt (no candidate at all)."""

    finish_reason: str | None = "STOP"
    block_reason: str | None = None


type ReplyEvent = Parts | Finish


@dataclass(frozen=True)
class AudioInput:
    """Audio the user sent in the current turn (an ``inlineData`` part)."""

    mime_type: str
    data: bytes

    @property
    def seconds(self) -> float:
        """Duration, from the WAV header or the PCM rate in the MIME type (0 when unknown)."""
        if "wav" in self.mime_type:
            try:
                with wave.open(io.BytesIO(self.data)) as wav:
                    return float(wav.getnframes() / wav.getframerate())
            except wave.Error, EOFError:
                return 0.0
        match = _RATE.search(self.mime_type)
        if match and ("pcm" in self.mime_type or "L16" in self.mime_type):
            return len(self.data) / (2 * int(match[1]))
        return 0.0


@dataclass(frozen=True)
class Conversation:
    """Where a request stands in the conversation."""

    turn_index: int  # 0-based index of the current user turn
    user_text: str | None  # the current user turn's text parts
    audio: AudioInput | None  # the current user turn's audio, if any
    rounds: int  # model function-call rounds since the current user turn
    results: tuple[ToolResult, ...] = field(default=())  # function responses since the current user turn

    @property
    def wants_transcript(self) -> bool:
        """An STT request: audio plus a prompt asking for its transcription."""
        return self.audio is not None and bool(self.user_text and _TRANSCRIBE.search(self.user_text))


def blob_bytes(value: Any) -> bytes:
    """The bytes of a proto ``bytes`` field (decoded already by the parser, or still base64 text)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        text = value.replace("-", "+").replace("_", "/")
        return base64.b64decode(text + "=" * (-len(text) % 4))
    return b""


def _parts(content: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    parts = content.get("parts", [])
    return [p for p in parts if isinstance(p, Mapping)] if isinstance(parts, list) else []


def _is_user_turn(content: Mapping[str, Any]) -> bool:
    role = content.get("role") or "user"
    parts = _parts(content)
    return role == "user" and any("functionResponse" not in part for part in parts)


def read_conversation(contents: Sequence[Mapping[str, Any]]) -> Conversation:
    """Locate the current user turn and what followed it."""
    user_positions = [i for i, content in enumerate(contents) if _is_user_turn(content)]
    if not user_positions:
        return Conversation(0, None, None, 0)
    current = user_positions[-1]
    texts = [str(p["text"]) for p in _parts(contents[current]) if "text" in p]
    audio = next(
        (
            AudioInput(str(p["inlineData"].get("mimeType", "")), blob_bytes(p["inlineData"].get("data")))
            for p in _parts(contents[current])
            if isinstance(p.get("inlineData"), Mapping)
            and str(p["inlineData"].get("mimeType", "")).startswith("audio/")
        ),
        None,
    )
    rounds = 0
    results: list[ToolResult] = []
    for content in contents[current + 1 :]:
        parts = _parts(content)
        if content.get("role") == "model" and any("functionCall" in p for p in parts):
            rounds += 1
        for part in parts:
            response = part.get("functionResponse")
            if isinstance(response, Mapping):
                payload = response.get("response")
                results.append(
                    ToolResult(str(response.get("name", "")), payload if isinstance(payload, Mapping) else {})
                )
    user_text = "\n".join(texts).strip() or None
    return Conversation(len(user_positions) - 1, user_text, audio, rounds, tuple(results))


def spoken_turn_key(contents: Sequence[Mapping[str, Any]]) -> str | None:
    """A name for the current user turn when it carries audio: a digest of the conversation up to it.

    A retried request, or the next tool round of the same turn, has the same key; other audio, or the same
    audio after other history, has another one. (A request identical to an earlier one, byte for byte, is
    taken as that turn again: REST cannot tell a retry from a new conversation that says exactly the same,
    which real speech never does.) None when the current turn has no audio.
    """
    user_positions = [i for i, content in enumerate(contents) if _is_user_turn(content)]
    if not user_positions:
        return None
    current = user_positions[-1]
    if not any(isinstance(part.get("inlineData"), Mapping) for part in _parts(contents[current])):
        return None
    canonical = json.dumps(
        list(contents[: current + 1]),
        sort_keys=True,
        default=lambda value: bytes(value).hex() if isinstance(value, bytes | bytearray) else str(value),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def unsigned_call_position(contents: Sequence[Mapping[str, Any]]) -> int | None:
    """The 1-based position of a current-turn model content whose function call lost its thought signature.

    Gemini 3 signs the first function call of each response and refuses a request whose current turn
    (after the last user turn) replays one without it.
    """
    user_positions = [i for i, content in enumerate(contents) if _is_user_turn(content)]
    start = user_positions[-1] + 1 if user_positions else 0
    for position in range(start, len(contents)):
        content = contents[position]
        calls = [p for p in _parts(content) if "functionCall" in p]
        if content.get("role") == "model" and calls and not calls[0].get("thoughtSignature"):
            return position + 1
    return None


def steps_for_round(turn: Turn, rounds: int, declared: Sequence[str]) -> tuple[Step, ...]:
    """The steps left for the ``rounds``-th response of a turn (the response ends at its next call group).

    Only call groups with a declared function count as rounds (the others are never sent); a response
    after a call group starts with the ``on_result`` steps of the calls in that group.
    """
    steps = turn.steps
    start = 0
    carried: tuple[Step, ...] = ()
    done = 0
    index = 0
    while done < rounds:
        while index < len(steps) and not isinstance(steps[index], Call):
            index += 1
        if index >= len(steps):
            return ()
        group: list[Call] = []
        while index < len(steps) and isinstance(call := steps[index], Call):
            group.append(call)
            index += 1
        if any(resolve_function(call.name, declared) for call in group):
            done += 1
            carried = tuple(step for call in group for step in call.on_result)
            start = index
    return (*carried, *steps[start:])


def declared_functions(request: Mapping[str, Any]) -> list[str]:
    """Names of the functions a request declares."""
    names: list[str] = []
    for tool in request.get("tools", []) or []:
        if isinstance(tool, Mapping):
            for declaration in tool.get("functionDeclarations", []) or []:
                if isinstance(declaration, Mapping) and declaration.get("name"):
                    names.append(str(declaration["name"]))
    return names


def resolve_function(name: str, declared: Sequence[str]) -> str | None:
    """The declared function a scripted call means: the same name, or one namespaced as ``<prefix>__name``."""
    if name in declared:
        return name
    return next((d for d in declared if d.endswith(f"__{name}")), None)


def text_pieces(text: str, words: int = TEXT_CHUNK_WORDS) -> list[str]:
    """Text cut into streaming chunks of a few words (concatenating them gives the text back)."""
    tokens = _WORD.findall(text)
    if not tokens:
        return [text]
    leading = text[: len(text) - len(text.lstrip())]
    pieces = ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]
    pieces[0] = leading + pieces[0]
    return pieces


def sentences(text: str) -> list[str]:
    """Text split after sentence-ending punctuation (Latin and Arabic)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


@dataclass
class ScriptedReply:
    """The reply of a chat model: the scenario turn's steps for this round."""

    turn: Turn
    conversation: Conversation
    declared: Sequence[str]
    model: str
    streaming: bool
    chunk_interval_s: float = TEXT_CHUNK_INTERVAL_S

    async def events(self) -> AsyncIterator[ReplyEvent]:
        """Produce the reply's parts, pausing where the scenario pauses; a call group ends the response."""
        steps = steps_for_round(self.turn, self.conversation.rounds, self.declared)
        index = 0
        while index < len(steps):
            step = steps[index]
            index += 1
            if isinstance(step, Pause):
                await asyncio.sleep(step.ms / 1000)
            elif isinstance(step, Say):
                async for parts in self._say(render(step.text, self.conversation.results)):
                    yield parts
            elif isinstance(step, Refuse):
                yield refusal(step.reason)
                return
            elif isinstance(step, Fault):
                if step.kind == "go_away":
                    _LOGGER.info("Ignoring a go_away fault on REST (a Live-only signal)")
                    continue
                raise InjectedFault(step.kind)
            else:
                group = [step]
                while index < len(steps) and isinstance(call := steps[index], Call):
                    group.append(call)
                    index += 1
                calls = self._function_calls(group)
                if calls:
                    yield Parts(calls)
                    break
        yield Finish()

    async def _say(self, text: str) -> AsyncIterator[Parts]:
        if not self.streaming:
            yield Parts(({"text": text},))
            return
        for index, piece in enumerate(text_pieces(text)):
            if index and self.chunk_interval_s:
                await asyncio.sleep(self.chunk_interval_s)
            yield Parts(({"text": piece},))

    def _function_calls(self, group: Sequence[Call]) -> tuple[dict[str, Any], ...]:
        """The ``functionCall`` parts of one group (the real API gives no ids on REST)."""
        parts: list[dict[str, Any]] = []
        for call in group:
            name = resolve_function(call.name, self.declared)
            if name is None:
                # A real model only calls functions the request declares.
                _LOGGER.info("Not calling %s: the request does not declare it", call.name)
                continue
            parts.append({"functionCall": {"name": name, "args": dict(call.args)}})
        if parts and self.model.startswith("gemini-3"):
            # Gemini 3 signs its first function call; clients send the signature back with the history.
            parts[0]["thoughtSignature"] = base64.b64encode(secrets.token_bytes(48)).decode()
        return tuple(parts)


def refusal(reason: str) -> Finish:
    """A scenario refusal as REST reports it."""
    if reason in _BLOCKED_PROMPT:
        return Finish(finish_reason=None, block_reason=_BLOCKED_PROMPT[reason])
    return Finish(finish_reason=_FINISH_REASON.get(reason, "SAFETY"))


async def transcript_events(
    text: str, streaming: bool, interval_s: float = TEXT_CHUNK_INTERVAL_S
) -> AsyncIterator[ReplyEvent]:
    """The reply of an STT request: the transcript as text."""
    pieces = text_pieces(text) if streaming else [text]
    for index, piece in enumerate(pieces):
        if index and interval_s:
            await asyncio.sleep(interval_s)
        yield Parts(({"text": piece},))
    yield Finish()


async def image_events(turn: Turn, prompt: str) -> AsyncIterator[ReplyEvent]:
    """The reply of an image model: the scripted words, then a drawing (one PNG, never streamed in pieces);
    a scripted refusal instead, as for text."""
    if refused := next((step for step in turn.steps if isinstance(step, Refuse)), None):
        yield refusal(refused.reason)
        return
    words = " ".join(step.text for step in turn.steps if isinstance(step, Say))
    if words:
        yield Parts(({"text": words},))
    yield Parts(({"inlineData": {"mimeType": "image/png", "data": base64.b64encode(drawing(prompt)).decode()}},))
    yield Finish()


def drawing(prompt: str) -> bytes:
    """A real PNG any decoder reads: a square in a colour of the prompt's own (the emulator cannot draw)."""
    red, green, blue = hashlib.sha256(prompt.encode()).digest()[:3]
    row = b"\x00" + bytes((red, green, blue)) * IMAGE_SIZE  # filter 0, then RGB pixels

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", IMAGE_SIZE, IMAGE_SIZE, 8, 2, 0, 0, 0)  # 8-bit RGB
    pixels = zlib.compress(row * IMAGE_SIZE)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def transcript_for(turn: Turn | None) -> str:
    """What the user said, as the scenario scripts it (the emulator cannot recognise speech)."""
    return turn.user if turn is not None and turn.user else STT_PLACEHOLDER


def chat_turn(scripted: Turn | None, conversation: Conversation) -> Turn:
    """The scripted turn, or the default reply to an unscripted one."""
    if scripted is not None:
        return scripted
    seconds = conversation.audio.seconds if conversation.audio else 0.0
    return default_turn(conversation.user_text, None, seconds)


@dataclass(frozen=True)
class SpeechRequest:
    """What a TTS request asks to have spoken."""

    text: str
    language: str | None
    voice: str | None
    speaker_voices: Mapping[str, str | None]

    @classmethod
    def from_request(cls, request: Mapping[str, Any], conversation: Conversation) -> SpeechRequest:
        """Read the text and ``generationConfig.speechConfig`` (voice, language, speakers)."""
        config = request.get("generationConfig", {}) or {}
        speech = config.get("speechConfig", {}) or {}
        voice = _voice_name(speech.get("voiceConfig"))
        speakers: dict[str, str | None] = {}
        multi = speech.get("multiSpeakerVoiceConfig", {}) or {}
        for entry in multi.get("speakerVoiceConfigs", []) or []:
            if isinstance(entry, Mapping) and entry.get("speaker"):
                speakers[str(entry["speaker"])] = _voice_name(entry.get("voiceConfig"))
        return cls(conversation.user_text or "", speech.get("languageCode") or None, voice, speakers)

    def segments(self) -> list[tuple[str, str | None]]:
        """(sentence, voice) pairs in speaking order; with speakers, ``Name: line`` picks the voice."""
        if not self.speaker_voices:
            return [(sentence, self.voice) for sentence in sentences(self.text)]
        segments: list[tuple[str, str | None]] = []
        voice = next(iter(self.speaker_voices.values()))
        for line in self.text.splitlines():
            match = _SPEAKER_LINE.match(line)
            spoken = line
            if match and match[1].strip() in self.speaker_voices:
                voice = self.speaker_voices[match[1].strip()]
                spoken = match[2]
            segments.extend((sentence, voice) for sentence in sentences(spoken))
        return segments


def _voice_name(voice_config: Any) -> str | None:
    if not isinstance(voice_config, Mapping):
        return None
    prebuilt = voice_config.get("prebuiltVoiceConfig", {}) or {}
    name = prebuilt.get("voiceName") if isinstance(prebuilt, Mapping) else None
    return str(name) if name else None


async def speech_events(
    speech: SpeechRequest, synthesizer: Synthesizer, streaming: bool, default_language: str
) -> AsyncIterator[ReplyEvent]:
    """Speak the request's text, sentence by sentence; streaming sends each sentence's audio as it is made."""
    collected = bytearray()
    chunk_bytes = int(OUTPUT_RATE * AUDIO_CHUNK_S) * 2
    for text, voice in speech.segments():
        language = speech.language or detect_language(text, default=default_language)
        pcm = await synthesizer.synthesize_async(text, language, sample_rate=OUTPUT_RATE, voice=voice)
        if not streaming:
            collected += pcm
            continue
        for start in range(0, len(pcm), chunk_bytes):
            yield Parts((audio_part(pcm[start : start + chunk_bytes]),))
    if not streaming:
        yield Parts((audio_part(bytes(collected)),))
    yield Finish()


def audio_part(pcm: bytes) -> dict[str, Any]:
    """An ``inlineData`` part carrying 24 kHz PCM16 as the TTS models label it."""
    return {"inlineData": {"mimeType": TTS_MIME, "data": base64.b64encode(pcm).decode()}}


def count_tokens(contents: Sequence[Mapping[str, Any]], *extra: Mapping[str, Any] | None) -> dict[str, int]:
    """Token estimates per modality (text ~4 characters a token, audio 32 a second, images 258)."""
    counts: dict[str, int] = {}
    for content in [*contents, *(e for e in extra if e)]:
        for part in _parts(content):
            modality, tokens = _part_tokens(part)
            counts[modality] = counts.get(modality, 0) + tokens
    return counts


def _part_tokens(part: Mapping[str, Any]) -> tuple[str, int]:
    if "text" in part:
        return "TEXT", math.ceil(len(str(part["text"])) / 4)
    blob = part.get("inlineData")
    if isinstance(blob, Mapping):
        mime = str(blob.get("mimeType", ""))
        if mime.startswith("audio/"):
            return "AUDIO", math.ceil(AudioInput(mime, blob_bytes(blob.get("data"))).seconds * AUDIO_TOKENS_PER_SECOND)
        if mime.startswith("image/"):
            return "IMAGE", IMAGE_TOKENS
        return "DOCUMENT", IMAGE_TOKENS
    return "TEXT", math.ceil(len(str(dict(part))) / 4)

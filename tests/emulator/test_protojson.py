"""Tests of the proto3-JSON (ESF) parser and the request schemas.

The schemas are checked against what the real google-genai SDK puts on the wire: the captured frames in
``gemini-sdk-client-frames.jsonl`` and, below, requests the SDK builds from configs with as many fields
set as it allows, captured at the WebSocket and HTTP layers. Error texts are checked verbatim.
"""

import asyncio
import base64
import datetime as dt
import enum
import functools
import json
import math
import re
import types as pytypes
import typing
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
from gemini_live_emulator.messages import (
    CLIENT_MESSAGE_MLDEV,
    CLIENT_MESSAGE_VERTEX,
    COUNT_TOKENS_REQUEST_MLDEV,
    COUNT_TOKENS_REQUEST_VERTEX,
    CREATE_AUTH_TOKEN_REQUEST,
    GENERATE_CONTENT_REQUEST_MLDEV,
    GENERATE_CONTENT_REQUEST_VERTEX,
)
from gemini_live_emulator.protojson import (
    EnumType,
    Field,
    Kind,
    Message,
    ProtoJsonError,
    Violation,
    parse_json,
    parse_value,
)
from google import genai
from google.genai import live as genai_live
from google.genai import types
from google.oauth2.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FRAMES_FILE = Path(__file__).parents[1] / "data" / "gemini-sdk-client-frames.jsonl"
SDK_DIR = Path(genai.__file__).parent
Backend = typing.Literal["mldev", "vertex"]
BACKENDS: tuple[Backend, ...] = ("mldev", "vertex")


def _error(text: str | bytes, message: Message = CLIENT_MESSAGE_MLDEV, **options: Any) -> str:
    with pytest.raises(ProtoJsonError) as caught:
        parse_json(text, message, **options)
    return caught.value.message


# -------------------------------------------------------------------------------------------- recasing


def _decode_any_base64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))


def _recase(
    value: Any, message: Message, name_of: Callable[[Field], str], encode: Callable[[bytes], str]
) -> dict[str, Any]:
    """Rewrite a valid JSON object: field names via ``name_of``, bytes via ``encode``; data kept as is."""
    result: dict[str, Any] = {}
    for key, item in value.items():
        described = message.field(key)
        assert described is not None, key
        result[name_of(described)] = _recase_value(item, described, name_of, encode)
    return result


def _recase_value(value: Any, described: Field, name_of: Callable[[Field], str], encode: Callable[[bytes], str]) -> Any:
    if described.map:
        return {key: _recase_one(item, described, name_of, encode) for key, item in value.items()}
    if described.repeated and isinstance(value, list):
        return [_recase_one(item, described, name_of, encode) for item in value]
    return _recase_one(value, described, name_of, encode)


def _recase_one(value: Any, described: Field, name_of: Callable[[Field], str], encode: Callable[[bytes], str]) -> Any:
    if described.kind is Kind.MESSAGE and isinstance(value, dict):
        assert described.message is not None
        return _recase(value, described.message, name_of, encode)
    if described.kind is Kind.BYTES and isinstance(value, str):
        return encode(_decode_any_base64(value))
    return value


def _camel(described: Field) -> str:
    return described.json_name


def _snake(described: Field) -> str:
    return described.name


def _standard(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _url_safe_unpadded(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# ------------------------------------------------------------------------------------- captured frames


def _captured_frames() -> Iterator[tuple[str, Message]]:
    schema = CLIENT_MESSAGE_MLDEV
    for line in FRAMES_FILE.read_text().splitlines():
        record = json.loads(line)
        if "path" in record:
            schema = CLIENT_MESSAGE_VERTEX if "aiplatform" in record["path"] else CLIENT_MESSAGE_MLDEV
        else:
            yield record["data"], schema


# The capture lives beside the research notes, outside the repository; without it these tests skip.
CAPTURED = list(_captured_frames())


@pytest.mark.parametrize(("frame", "schema"), CAPTURED)
def test_every_captured_sdk_frame_parses_and_any_spelling_gives_the_same_result(frame: str, schema: Message) -> None:
    """The SDK's mixed-case frames, and their pure camelCase and snake_case forms, mean the same."""
    parsed = parse_json(frame, schema)
    original = json.loads(frame)
    for name_of, encode in ((_camel, _standard), (_snake, _url_safe_unpadded)):
        rewritten = json.dumps(_recase(original, schema, name_of, encode))
        assert parse_json(rewritten, schema) == parsed
        assert parse_json(rewritten.encode(), schema) == parsed


def test_captured_frames_decode_to_canonical_values() -> None:
    """Canonical keys are lowerCamelCase, bytes are decoded, map keys and Struct contents are kept."""
    setup = parse_json(CAPTURED[0][0], CLIENT_MESSAGE_MLDEV)["setup"]
    assert setup["generationConfig"]["speechConfig"] == {
        "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}},
        "languageCode": "en-US",
    }
    assert setup["realtimeInputConfig"]["automaticActivityDetection"]["silenceDurationMs"] == 100
    assert setup["contextWindowCompression"] == {
        "triggerTokens": 25600,
        "slidingWindow": {"targetTokens": 12800},
    }
    declaration = setup["tools"][1]["functionDeclarations"][0]
    assert declaration["parameters"]["properties"] == {"entity_id": {"type": "STRING"}}
    assert declaration["behavior"] == "NON_BLOCKING"
    audio = parse_json(CAPTURED[2][0], CLIENT_MESSAGE_MLDEV)["realtimeInput"]["audio"]
    assert audio == {"data": b"\xff\xfe\xfb" * 4, "mimeType": "audio/pcm;rate=16000"}
    response = parse_json(CAPTURED[8][0], CLIENT_MESSAGE_MLDEV)["toolResponse"]["functionResponses"][0]
    assert response == {
        "willContinue": False,
        "scheduling": "INTERRUPT",
        "id": "function-call-123",
        "name": "turn_on",
        "response": {"result": "ok"},
    }


def test_url_safe_and_standard_base64_decode_to_the_same_bytes() -> None:
    """Both alphabets, with or without padding, decode the same; a mix of alphabets does not."""
    data = bytes(range(256)) * 3 + b"\xfb\xff"
    encodings = {
        base64.b64encode(data).decode(),
        base64.b64encode(data).decode().rstrip("="),
        base64.urlsafe_b64encode(data).decode(),
        base64.urlsafe_b64encode(data).decode().rstrip("="),
    }
    assert len(encodings) == 4
    for text in encodings:
        frame = json.dumps({"realtimeInput": {"audio": {"data": text, "mimeType": "audio/pcm"}}})
        assert parse_json(frame, CLIENT_MESSAGE_MLDEV)["realtimeInput"]["audio"]["data"] == data
    assert _error('{"realtime_input": {"audio": {"data": "+_8="}}}') == (
        "Invalid value at 'realtime_input.audio.data' (TYPE_BYTES), Base64 decoding failed for \"+_8=\""
    )


# ---------------------------------------------------------------------------------------- the real SDK


def _refused_by_sdk() -> dict[str, set[tuple[str, str]]]:
    """(type, field) pairs an SDK converter refuses for a backend ("only supported in ... mode")."""
    refused: dict[str, set[tuple[str, str]]] = {"mldev": set(), "vertex": set()}
    converter = re.compile(r"^def _(\w+)_to_(mldev|vertex)\(.*?(?=^def |\Z)", re.S | re.M)
    raises = re.compile(r"getv\(from_object, \['(\w+)'\]\) is not None:\n\s+raise ValueError")
    for name in ("_live_converters.py", "models.py", "_tokens_converters.py"):
        for match in converter.finditer((SDK_DIR / name).read_text()):
            refused[match.group(2)] |= {(match.group(1), field) for field in raises.findall(match.group(0))}
    # Refused elsewhere: t_schema (response_schema) on the Developer API, and output options set twice.
    refused["mldev"].add(("Schema", "additional_properties"))
    refused["vertex"] |= {("ImageConfig", "output_mime_type"), ("ImageConfig", "output_compression_quality")}
    return refused


REFUSED = _refused_by_sdk()
NOT_ON_THE_WIRE = {
    "http_options",
    "should_return_http_response",
    "automatic_function_calling",
    "automatic_continuation",
}
# Types with a proto oneof: each instance sets one member, in turn, so every member gets sent.
ONEOF_MEMBERS = {
    "Part": (
        "text",
        "inline_data",
        "function_call",
        "function_response",
        "file_data",
        "executable_code",
        "code_execution_result",
    ),
    "VoiceConfig": ("prebuilt_voice_config", "replicated_voice_config"),
    "FunctionResponsePart": ("inline_data", "file_data"),
    "GenerationConfigRoutingConfig": ("auto_mode", "manual_mode"),
}
MAX_DEPTH = 12


class MaximalConfigs:
    """Builds SDK objects with every field set that the SDK allows on one backend (values are valid).

    A recursive type (``Schema``) nests once inside itself, so its nested fields are sent too.
    """

    def __init__(self, refused: set[tuple[str, str]]) -> None:
        self.refused = refused
        self.turns: dict[str, int] = {}

    def build(self, cls: type[pydantic.BaseModel], ancestry: tuple[str, ...] = ()) -> Any:
        """An instance of ``cls`` with all allowed fields set."""
        cls.model_rebuild()
        ancestry += (cls.__name__,)
        members = ONEOF_MEMBERS.get(cls.__name__, ())
        chosen = ""
        if members:
            turn = self.turns.get(cls.__name__, 0)
            self.turns[cls.__name__] = turn + 1
            chosen = members[turn % len(members)]
        values = {}
        for name, info in cls.model_fields.items():
            if name in NOT_ON_THE_WIRE or (cls.__name__, name) in self.refused:
                continue
            if name in members and name != chosen:
                continue
            value = self.value(info.annotation, name, ancestry)
            if value is not None:
                values[name] = value
        return cls(**values)

    def value(self, annotation: Any, name: str, ancestry: tuple[str, ...]) -> Any:
        """A valid value for a field of this annotation (None: leave the field unset)."""
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is typing.Annotated:
            return self.value(args[0], name, ancestry)
        if origin in (typing.Union, pytypes.UnionType):
            return self.value(self._preferred(args), name, ancestry)
        if origin is list or (annotation is list and name == "tools"):
            return self._list(args[0] if args else types.Tool, name, ancestry)
        if origin is dict:
            item = self.value(args[1], name, ancestry)
            return None if item is None else {"key_one": item}
        if origin is typing.Literal:
            return args[0]
        if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
            if ancestry.count(annotation.__name__) >= 2 or len(ancestry) > MAX_DEPTH:
                return None
            return self.build(annotation, ancestry)
        return self._scalar(annotation, name)

    @staticmethod
    def _preferred(options: tuple[Any, ...]) -> Any:
        present = [option for option in options if option is not type(None)]
        models = [option for option in present if isinstance(option, type) and issubclass(option, pydantic.BaseModel)]
        return (models or present)[0]

    def _list(self, item: Any, name: str, ancestry: tuple[str, ...]) -> list[Any] | None:
        options = typing.get_args(item) or (item,)
        model = self._preferred(options)
        count = len(ONEOF_MEMBERS.get(getattr(model, "__name__", ""), ())) or 1
        values = [self.value(item, name, ancestry) for _ in range(count)]
        return [value for value in values if value is not None] or None

    @staticmethod
    def _scalar(annotation: Any, name: str) -> Any:
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            return list(annotation)[-1]
        if annotation is typing.Any:
            return {"number": 1, "text": "v", "list": [True, None]}
        scalars: dict[Any, Any] = {
            bool: True,
            int: 7,
            float: 40.0 if name == "top_k" else 0.5,
            bytes: b"\xff\xfe\xfb\x00",
            dt.datetime: dt.datetime(2030, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC),
        }
        if annotation is str:
            if name.endswith("offset") or name in ("timeout", "sse_read_timeout", "duration"):
                return "1.5s"  # Duration fields the SDK types as str
            return "AUDIO" if name == "response_modalities" else f"{name}-text"
        return scalars.get(annotation)


class _FakeWebSocket:
    """Stands in for ``websockets.connect``: records client frames, answers setup with setupComplete."""

    def __init__(self, sent: list[str]) -> None:
        self.sent = sent

    async def __aenter__(self) -> _FakeWebSocket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, data: str) -> None:
        self.sent.append(data)

    async def recv(self, decode: bool = True) -> bytes:
        return b'{"setupComplete": {}}'

    async def close(self, *args: object, **kwargs: object) -> None:
        return None


def _live_config(configs: MaximalConfigs) -> types.LiveConnectConfig:
    config: types.LiveConnectConfig = configs.build(types.LiveConnectConfig)
    assert config.speech_config is not None
    config.speech_config.multi_speaker_voice_config = None  # "not supported in the live API" (SDK)
    return config


async def _drive_live_session(client: genai.Client, backend: Backend) -> None:
    """Connect with a maximal config and send one of every client message the SDK has."""
    configs = MaximalConfigs(REFUSED[backend])
    # send_tool_response converts nothing, and on Vertex AI neither does send_client_content.
    unconverted = MaximalConfigs(set())
    async with client.aio.live.connect(model="gemini-live-model", config=_live_config(configs)) as session:
        content_source = unconverted if backend == "vertex" else configs
        await session.send_client_content(turns=[content_source.build(types.Content) for _ in range(7)])
        for argument, mime in (
            ("audio", "audio/pcm;rate=16000"),
            ("media", "audio/pcm"),
            ("video", "image/jpeg"),
        ):
            blob = types.Blob(data=b"\xff\xfe\xfb", mime_type=mime, display_name="chunk")
            await session.send_realtime_input(**{argument: blob})
        await session.send_realtime_input(text="turn on the light")
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        await session.send_realtime_input(audio_stream_end=True)
        await session.send_tool_response(
            function_responses=[unconverted.build(types.FunctionResponse) for _ in range(2)]
        )
        await session.send_context_update(
            system_instruction=configs.build(types.Content), tools=[configs.build(types.Tool)]
        )
        await session.send_context_update(tools=[])
        # The deprecated send() dumps the same types with model_dump(mode="json").
        await session.send(input="hello", end_of_turn=True)
        await session.send(input=types.Blob(data=b"\xff\xfe", mime_type="audio/pcm"))
        await session.send(input=unconverted.build(types.FunctionResponse))
        await session.send(input=types.LiveClientRealtimeInput(activity_end=types.ActivityEnd()))


def _client(backend: Backend, http_options: dict[str, Any] | None = None) -> genai.Client:
    if backend == "vertex":
        credentials = Credentials(token="ya29.test")
        return genai.Client(
            vertexai=True,
            project="p",
            location="us-central1",
            credentials=credentials,
            http_options=http_options,
        )
    return genai.Client(api_key="test-key", http_options=http_options)


@functools.cache
def sdk_live_frames(backend: Backend) -> tuple[str, ...]:
    """Every frame the SDK sends for a maximal Live session on ``backend``."""
    sent: list[str] = []
    original = genai_live.ws_connect
    genai_live.ws_connect = lambda *args, **kwargs: _FakeWebSocket(sent)  # type: ignore[assignment]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            asyncio.run(_drive_live_session(_client(backend), backend))
    finally:
        genai_live.ws_connect = original
    return tuple(sent)


def _answer(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith(":countTokens"):
        return httpx.Response(200, json={"totalTokens": 1})
    if request.url.path.endswith("auth_tokens"):
        return httpx.Response(200, json={"name": "auth_tokens/test"})
    return httpx.Response(200, json={"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}}]})


def _auth_token_config(configs: MaximalConfigs) -> types.CreateAuthTokenConfig:
    live_config = _live_config(configs)
    # With generation_config set as well, the SDK's token converter crashes (AttributeError in setv).
    live_config.generation_config = None
    moment = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    constraints = types.LiveConnectConstraints(model="gemini-live-model", config=live_config)
    return types.CreateAuthTokenConfig(
        uses=2,
        expire_time=moment,
        new_session_expire_time=moment,
        live_connect_constraints=constraints,
        lock_additional_fields=["temperature"],
    )


@functools.cache
def sdk_rest_bodies(backend: Backend) -> tuple[tuple[str, str], ...]:
    """(path, body) of generateContent, countTokens and (Developer API) auth_tokens with maximal configs."""
    bodies: list[tuple[str, str]] = []

    def record(request: httpx.Request) -> httpx.Response:
        bodies.append((request.url.path, request.content.decode()))
        return _answer(request)

    http: dict[str, Any] = {"httpx_client": httpx.Client(transport=httpx.MockTransport(record))}
    client = _client(backend, {**http, "api_version": "v1alpha"} if backend == "mldev" else http)
    configs = MaximalConfigs(REFUSED[backend])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        contents = [configs.build(types.Content) for _ in range(7)]
        client.models.generate_content(
            model="gemini-model", contents=contents, config=configs.build(types.GenerateContentConfig)
        )
        count_config = None
        if backend == "vertex":
            count_config = types.CountTokensConfig(
                system_instruction=configs.build(types.Content),
                tools=[configs.build(types.Tool)],
                generation_config=configs.build(types.GenerationConfig),
            )
        client.models.count_tokens(model="gemini-model", contents=contents, config=count_config)
        if backend == "mldev":
            client.auth_tokens.create(config=_auth_token_config(configs))
    return tuple(bodies)


def _rest_schema(backend: Backend, path: str) -> Message:
    if path.endswith("auth_tokens"):
        return CREATE_AUTH_TOKEN_REQUEST
    if path.endswith(":countTokens"):
        return COUNT_TOKENS_REQUEST_VERTEX if backend == "vertex" else COUNT_TOKENS_REQUEST_MLDEV
    return GENERATE_CONTENT_REQUEST_VERTEX if backend == "vertex" else GENERATE_CONTENT_REQUEST_MLDEV


def _fields_sent(value: dict[str, Any], message: Message, seen: set[tuple[str, str]]) -> None:
    for described in message.fields:
        if described.json_name not in value:
            continue
        seen.add((message.full_name, described.name))
        if described.message is None:
            continue
        item = value[described.json_name]
        items = item.values() if described.map else item if described.repeated else [item]
        for element in items:
            _fields_sent(element, described.message, seen)


@pytest.mark.parametrize("backend", BACKENDS)
def test_schemas_accept_everything_the_sdk_sends(backend: Backend) -> None:
    """Guard against false rejections: maximal SDK requests, as sent, all parse."""
    schema = CLIENT_MESSAGE_VERTEX if backend == "vertex" else CLIENT_MESSAGE_MLDEV
    seen: set[tuple[str, str]] = set()
    frames = sdk_live_frames(backend)
    assert len(frames) == 16
    for frame in frames:
        _fields_sent(parse_json(frame, schema), schema, seen)
    bodies = sdk_rest_bodies(backend)
    assert len(bodies) == (3 if backend == "mldev" else 2)
    for path, body in bodies:
        _fields_sent(parse_json(body, _rest_schema(backend, path)), _rest_schema(backend, path), seen)
    assert len(seen) > 350  # the configs really are maximal, not silently empty


@pytest.mark.parametrize("backend", BACKENDS)
def test_sdk_live_frames_keep_their_meaning(backend: Backend) -> None:
    """Spot checks of converted values in the SDK's maximal Live setup."""
    schema = CLIENT_MESSAGE_VERTEX if backend == "vertex" else CLIENT_MESSAGE_MLDEV
    setup = parse_json(sdk_live_frames(backend)[0], schema)["setup"]
    assert set(setup["generationConfig"]["responseModalities"]) == {"VIDEO"}
    assert setup["realtimeInputConfig"]["turnCoverage"] == "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO"
    assert setup["contextWindowCompression"] == {"triggerTokens": 7, "slidingWindow": {"targetTokens": 7}}
    assert setup["avatarConfig"]["customizedAvatar"]["imageData"] == b"\xff\xfe\xfb\x00"
    assert ("explicitVadSignal" in setup) == (backend == "vertex")
    assert ("transparent" in setup["sessionResumption"]) == (backend == "vertex")


def test_developer_api_live_setup_merges_a_field_the_sdk_sends_twice() -> None:
    """The SDK sends ``generation_config`` (snake) and its shortcuts (camel) side by side; ESF merges."""
    frame = sdk_live_frames("mldev")[0]
    assert '"response_modalities"' in frame
    assert '"responseModalities"' in frame
    generation = parse_json(frame, CLIENT_MESSAGE_MLDEV)["setup"]["generationConfig"]
    assert generation["responseModalities"] == ["VIDEO", "VIDEO"]
    assert generation["temperature"] == 0.5


# ----------------------------------------------------------------------------------------- error texts


def test_unknown_fields_are_refused_with_the_esf_text() -> None:
    """Unknown names: snake_case path of the enclosing message; no location at the top."""
    assert _error('{"setup": {"generationConfig": {"foo": 1}}}') == (
        "Invalid JSON payload received. Unknown name \"foo\" at 'setup.generation_config': Cannot find field."
    )
    assert _error('{"foo": {}}') == 'Invalid JSON payload received. Unknown name "foo": Cannot find field.'
    assert _error('{"setup": {"responseModalities": ["AUDIO"]}}') == (
        "Invalid JSON payload received. Unknown name \"responseModalities\" at 'setup': Cannot find field."
    )
    frame = '{"setup": {"explicitVadSignal": true, "sessionResumption": {"transparent": true}}}'
    assert _error(frame) == (
        "Invalid JSON payload received. Unknown name \"explicitVadSignal\" at 'setup': Cannot find field.\n"
        "Invalid JSON payload received. Unknown name \"transparent\" at 'setup.session_resumption': "
        "Cannot find field."
    )
    assert parse_json(frame, CLIENT_MESSAGE_VERTEX) == {
        "setup": {"explicitVadSignal": True, "sessionResumption": {"transparent": True}}
    }


def test_every_violation_is_reported_with_its_field() -> None:
    """All problems are collected in document order, one per line, with their locations."""
    frame = '{"setup": {"tools": [{"functionDeclarations": [{"nam": "x", "behavior": "SOMETIMES"}]}], "x": 1}}'
    with pytest.raises(ProtoJsonError) as caught:
        parse_json(frame, CLIENT_MESSAGE_MLDEV)
    assert caught.value.violations == (
        Violation(
            "setup.tools[0].function_declarations[0]",
            'Invalid JSON payload received. Unknown name "nam" at '
            "'setup.tools[0].function_declarations[0]': Cannot find field.",
        ),
        Violation(
            "setup.tools[0].function_declarations[0].behavior",
            "Invalid value at 'setup.tools[0].function_declarations[0].behavior' "
            "(type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionDeclaration.Behavior), "
            '"SOMETIMES"',
        ),
        Violation("setup", "Invalid JSON payload received. Unknown name \"x\" at 'setup': Cannot find field."),
    )
    assert str(caught.value) == "\n".join(violation.description for violation in caught.value.violations)


def test_map_keys_are_data_and_map_values_are_located_by_entry() -> None:
    """``properties`` keys are kept as sent; a problem inside one is at ``properties[i].value``."""
    parameters = {
        "type": "OBJECT",
        "properties": {"entity_id": {"type": "STRING"}, "brightness_pct": {"typ": 1}},
    }
    frame = json.dumps({"setup": {"tools": [{"function_declarations": [{"name": "f", "parameters": parameters}]}]}})
    assert _error(frame) == (
        'Invalid JSON payload received. Unknown name "typ" at '
        "'setup.tools[0].function_declarations[0].parameters.properties[1].value': Cannot find field."
    )
    parameters["properties"]["brightness_pct"] = {"type": "INTEGER", "minimum": 0}
    setup = parse_json(
        json.dumps({"setup": {"tools": [{"functionDeclarations": [{"parameters": parameters}]}]}}),
        CLIENT_MESSAGE_MLDEV,
    )
    assert setup["setup"]["tools"][0]["functionDeclarations"][0]["parameters"]["properties"] == {
        "entity_id": {"type": "STRING"},
        "brightness_pct": {"type": "INTEGER", "minimum": 0.0},
    }


def test_bad_enum_values_name_the_enum_type() -> None:
    """Enums: by name (case-insensitively, as ESF), by number; otherwise the enum's type URL."""
    frame = '{"setup": {"realtimeInputConfig": {"activityHandling": "%s"}}}'
    assert _error(frame % "FOO") == (
        "Invalid value at 'setup.realtime_input_config.activity_handling' "
        "(type.googleapis.com/google.ai.generativelanguage.v1beta.RealtimeInputConfig.ActivityHandling), "
        '"FOO"'
    )
    assert _error(frame % "FOO", api_version="v1alpha") == (
        "Invalid value at 'setup.realtime_input_config.activity_handling' "
        "(type.googleapis.com/google.ai.generativelanguage.v1alpha.RealtimeInputConfig.ActivityHandling), "
        '"FOO"'
    )
    assert _error(frame % "FOO", CLIENT_MESSAGE_VERTEX) == (
        "Invalid value at 'setup.realtime_input_config.activity_handling' "
        '(type.googleapis.com/google.cloud.aiplatform.v1beta1.RealtimeInputConfig.ActivityHandling), "FOO"'
    )
    for sent in ("NO_INTERRUPTION", "no-interruption", "2"):
        handling = parse_json(frame % sent, CLIENT_MESSAGE_MLDEV)["setup"]["realtimeInputConfig"]["activityHandling"]
        assert handling == "NO_INTERRUPTION"
    numbered = '{"setup": {"realtimeInputConfig": {"activityHandling": 2, "turnCoverage": 9}}}'
    config = parse_json(numbered, CLIENT_MESSAGE_MLDEV)["setup"]["realtimeInputConfig"]
    assert config == {"activityHandling": "NO_INTERRUPTION", "turnCoverage": 9}


def test_values_of_the_wrong_type_are_refused_with_the_esf_text() -> None:
    """Scalars print TYPE_*; messages print their type URL; objects on scalars and lists on singulars."""
    assert _error('{"setup": {"generationConfig": {"temperature": "abc"}}}') == (
        "Invalid value at 'setup.generation_config.temperature' (TYPE_FLOAT), \"abc\""
    )
    assert _error('{"setup": {"generationConfig": {"maxOutputTokens": 6.5}}}') == (
        "Invalid value at 'setup.generation_config.max_output_tokens' (TYPE_INT32), 6.5"
    )
    assert _error('{"setup": {"model": true}}') == "Invalid value at 'setup.model' (TYPE_STRING), true"
    assert _error('{"setup": {"systemInstruction": "Be brief."}}', api_version="v1alpha") == (
        "Invalid value at 'setup.system_instruction' "
        '(type.googleapis.com/google.ai.generativelanguage.v1alpha.Content), "Be brief."'
    )
    assert _error('{"setup": {"model": {}}}') == (
        "Invalid value at 'setup' (model), Starting an object on a scalar field"
    )
    assert _error('{"setup": {"generationConfig": [{}]}}') == (
        "Invalid JSON payload received. Unknown name \"generationConfig\" at 'setup': "
        "Proto field is not repeating, cannot start list."
    )
    assert _error('{"client_content": {"turns": [{"parts": [{"text": 1}, {"text": "ok"}]}]}}') == (
        "Invalid value at 'client_content.turns[0].parts[0].text' (TYPE_STRING), 1"
    )


def test_well_known_types_follow_proto3_json() -> None:
    """Duration strings, Timestamps, int64 strings, special floats, Struct and Value, nulls."""
    part = {"text": "x", "videoMetadata": {"startOffset": "1.5s", "endOffset": "-0.25s"}}
    frame = {"clientContent": {"turns": [{"parts": [part]}]}}
    metadata = parse_json(json.dumps(frame), CLIENT_MESSAGE_MLDEV)["clientContent"]["turns"][0]["parts"][0]
    assert metadata["videoMetadata"] == {"startOffset": 1.5, "endOffset": -0.25}
    part["videoMetadata"] = {"startOffset": "1h"}
    assert _error(json.dumps(frame)) == (
        "Invalid value at 'client_content.turns[0].parts[0].video_metadata.start_offset' "
        "(type.googleapis.com/google.protobuf.Duration), Field 'startOffset', "
        "Illegal duration format; duration must end with 's'"
    )
    compression = parse_json(
        '{"setup": {"contextWindowCompression": {"triggerTokens": "25600"}}}', CLIENT_MESSAGE_MLDEV
    )
    assert compression["setup"]["contextWindowCompression"] == {"triggerTokens": 25600}
    generation = parse_json(
        '{"setup": {"generationConfig": {"temperature": "NaN", "topP": "Infinity", "seed": null}}}',
        CLIENT_MESSAGE_MLDEV,
    )["setup"]["generationConfig"]
    assert math.isnan(generation["temperature"])
    assert generation["topP"] == math.inf
    assert "seed" not in generation
    token = parse_json('{"expireTime": "2030-01-01T01:30:00.5+01:00", "fieldMask": "model"}', CREATE_AUTH_TOKEN_REQUEST)
    assert token == {
        "expireTime": dt.datetime(2030, 1, 1, 0, 30, 0, 500000, tzinfo=dt.UTC),
        "fieldMask": "model",
    }
    assert _error('{"expireTime": "2030-01-01T00:30:00"}', CREATE_AUTH_TOKEN_REQUEST) == (
        "Invalid value at 'expire_time' (type.googleapis.com/google.protobuf.Timestamp), "
        "Field 'expireTime', Invalid time format: 2030-01-01T00:30:00"
    )
    response = '{"toolResponse": {"functionResponses": [{"id": "1", "response": {"output": {"a": [1, null]}}}]}}'
    parsed = parse_json(response, CLIENT_MESSAGE_MLDEV)["toolResponse"]["functionResponses"][0]
    assert parsed == {"id": "1", "response": {"output": {"a": [1, None]}}}


def test_malformed_json_is_refused_with_the_parsers_text_and_context() -> None:
    """Grammar errors carry a context line of up to 20 characters either side and a caret."""
    assert _error("not json") == "Invalid JSON payload received. Unexpected token.\nnot json\n^"
    assert _error('{"setup": {"model": NaN, "tools": []}}') == (
        "Invalid JSON payload received. Unexpected token.\n"
        '{"setup": {"model": NaN, "tools": []}}\n'
        "                    ^"
    )
    assert _error('{"setup": {"model": "models/x"}}   garbage') == (
        "Invalid JSON payload received. Parsing terminated before end of input.\n"
        'el": "models/x"}}   garbage\n'
        "                    ^"
    )
    assert _error('{"setup": {"model": "models/x"') == (
        "Invalid JSON payload received. Unexpected end of string. Expected , or } after key:value pair.\n\n^"
    )
    assert _error('{"setup": {"model": "models/x}}') == (
        "Invalid JSON payload received. Closing quote expected in string.\n\n^"
    )
    assert _error("") == "Invalid JSON payload received. Unexpected end of string. Expected a value.\n\n^"
    assert (
        _error('{"setup": {,}}')
        == 'Invalid JSON payload received. Expected an object key or }.\n{"setup": {,}}\n           ^'
    )
    assert (
        _error('{"setup" {}}')
        == 'Invalid JSON payload received. Expected : between key:value pair.\n{"setup" {}}\n         ^'
    )
    assert _error('{"setup": @}') == "Invalid JSON payload received. Expected a value.\n@}\n^"
    assert _error(b'{"setup": {"model": "\xff"}}') == (
        'Invalid JSON payload received. Encountered non UTF-8 code points.\n\ufffd"}}\n^'
    )
    assert _error("[]") == 'Invalid JSON payload received. Unknown name "": Root element must be a message.'


def test_bad_numbers_are_refused_with_the_parsers_texts() -> None:
    """Numbers are read as ESF reads them: a leading zero, junk after a number, NaN and overflow are errors."""
    frame = '{"setup": {"generationConfig": {"topK": %s}}}'
    for number in ("01", "0x1F"):
        assert _error(frame % number) == (
            "Invalid JSON payload received. Octal/hex numbers are not valid JSON values.\n"
            f'onConfig": {{"topK": {number}}}}}}}\n'
            "                    ^"
        )
    assert _error(frame % "1e5x") == (
        'Invalid JSON payload received. Unable to parse number.\nonConfig": {"topK": 1e5x}}}\n                    ^'
    )
    frame = '{"setup": {"generationConfig": {"temperature": %s}}}'
    assert _error(frame % "1e999") == (
        "Invalid JSON payload received. Number exceeds the range of double.\n"
        'g": {"temperature": 1e999}}}\n'
        "                    ^"
    )
    assert _error(frame % "-Infinity") == (
        "Invalid JSON payload received. Unable to parse number.\n"
        'g": {"temperature": -Infinity}}}\n'
        "                    ^"
    )
    assert _error(frame % "NaN") == (
        'Invalid JSON payload received. Unexpected token.\ng": {"temperature": NaN}}}\n                    ^'
    )
    assert _error(frame % ("9" * 5000)).startswith("Invalid JSON payload received. Number exceeds the range of double.")
    # In free-form JSON (a Struct) a whole number is exact up to uint64's maximum, a double beyond it.
    response = '{"toolResponse": {"functionResponses": [{"response": {"n": %s}}]}}'
    for number, value in (("18446744073709551615", 2**64 - 1), ("18446744073709551616", 1.8446744073709552e19)):
        parsed = parse_json(response % number, CLIENT_MESSAGE_MLDEV)["toolResponse"]["functionResponses"][0]
        assert parsed["response"]["n"] == value
        assert type(parsed["response"]["n"]) is type(value)


def test_unicode_escapes_must_pair_surrogates() -> None:
    """Escaped surrogates must come as a pair; an escaped backslash before "u" is no escape."""
    assert parse_json('{"setup": {"model": "x\\ud83d\\ude00"}}', CLIENT_MESSAGE_MLDEV) == {"setup": {"model": "x😀"}}
    assert parse_json('{"setup": {"model": "\\\\ud800"}}', CLIENT_MESSAGE_MLDEV) == {"setup": {"model": "\\ud800"}}
    frame = '{"setup": {"model": "models/x%s", "tools": []}}'
    for escapes, text in (
        ("\\ud800", "Missing low surrogate."),
        ("\\udc00", "Invalid unicode code point."),
        ("\\ud800\\u0041", "Invalid low surrogate."),
        ("\\ud800\\uZZZZ", "Invalid escape sequence."),
        ("\\u00G1", "Invalid escape sequence."),
    ):
        sent = frame % escapes
        assert _error(sent) == f"Invalid JSON payload received. {text}\n{sent[9:49]}\n{' ' * 20}^"


def test_a_text_cut_short_is_reported_from_the_token_the_parser_waited_on() -> None:
    """At the end of the text ESF's parser waits for more input; its context line starts where it waited."""
    assert _error('{"setup": {"generationConfig": {"topK": 40') == (
        "Invalid JSON payload received. Unexpected end of string. Expected , or } after key:value pair.\n40\n  ^"
    )
    assert _error('{"setup": {"generationConfig": {"temperature": NaN') == (
        "Invalid JSON payload received. Unexpected token.\nNaN\n^"
    )
    assert (
        _error('{"setup": {"model": "models/x\\u00') == "Invalid JSON payload received. Illegal hex string.\n\\u00\n^"
    )
    assert _error('{"setup": {"model": "models/x\\') == (
        "Invalid JSON payload received. Closing quote expected in string.\n\\\n^"
    )
    assert _error(b'{"setup": {"generationConfig": {"topK": 40\xff}}}') == (
        "Invalid JSON payload received. Encountered non UTF-8 code points.\n40\ufffd}}}\n^"
    )
    assert _error(b'{"setup": {"model": "x", "tools": [1 2] "\xff"}}') == (
        'Invalid JSON payload received. Expected , or ] after array value.\n": "x", "tools": [1 2] "\n'
        "                    ^"
    )


def test_only_standard_json_is_read() -> None:
    """Trailing commas, single quotes, unquoted keys, unknown escapes: ESF's own parser takes them, the
    emulator refuses them with the text of the standard JSON rule they break.
    """
    assert _error('{"setup": {},}') == 'Invalid JSON payload received. Unexpected token.\n{"setup": {},}\n            ^'
    assert _error("{'setup': {}}") == "Invalid JSON payload received. Expected an object key or }.\n{'setup': {}}\n ^"
    assert _error("{setup: {}}") == "Invalid JSON payload received. Expected an object key or }.\n{setup: {}}\n ^"
    assert _error('{"setup": {"model": "models/x\\q"}}') == (
        'Invalid JSON payload received. Invalid escape sequence.\n {"model": "models/x\\q"}}\n                    ^'
    )
    # Control characters inside strings are taken, as ESF takes them.
    assert parse_json('{"setup": {"model": "a\tb\x01"}}', CLIENT_MESSAGE_MLDEV) == {"setup": {"model": "a\tb\x01"}}


def test_a_second_member_of_a_oneof_is_refused() -> None:
    """Oneofs: the message's own path, the oneof's name, the key as sent (also for a repeated spelling)."""
    assert _error('{"setup": {}, "realtimeInput": {"text": "hi"}}') == (
        "Invalid value (oneof), oneof field 'message_type' is already set. Cannot set 'realtimeInput'"
    )
    assert _error('{"realtime_input": {}, "realtimeInput": {}}') == (
        "Invalid value (oneof), oneof field 'message_type' is already set. Cannot set 'realtimeInput'"
    )
    part = '{"clientContent": {"turns": [{"parts": [{"text": "a", "inlineData": {"data": ""}}]}]}}'
    assert _error(part) == (
        "Invalid value at 'client_content.turns[0].parts[0]' (oneof), oneof field 'data' is already set. "
        "Cannot set 'inlineData'"
    )
    assert parse_json('{"setup": null, "realtimeInput": {}}', CLIENT_MESSAGE_MLDEV) == {"realtimeInput": {}}


def test_a_field_sent_under_both_spellings_is_merged_or_refused() -> None:
    """By default a field given twice is merged as ESF merges it; ``on_duplicate="reject"`` refuses it."""
    frame = (
        '{"setup": {"generationConfig": {"temperature": 0.1, "responseModalities": ["AUDIO"]},'
        ' "generation_config": {"temperature": 0.2, "response_modalities": ["TEXT"], "topK": 3}}}'
    )
    merged = parse_json(frame, CLIENT_MESSAGE_MLDEV)["setup"]["generationConfig"]
    assert merged == {"temperature": 0.2, "responseModalities": ["AUDIO", "TEXT"], "topK": 3}
    assert _error(frame, on_duplicate="reject") == (
        "Invalid JSON payload received. Duplicate field \"generation_config\" at 'setup': "
        "Field 'generation_config' is already set."
    )
    assert _error('{"setup": {"model": "a", "model": "b"}}', on_duplicate="reject") == (
        "Invalid JSON payload received. Duplicate field \"model\" at 'setup': Field 'model' is already set."
    )


def test_parse_value_takes_decoded_json_and_a_base_path() -> None:
    """The same conversion for values that are already Python objects."""
    setup = {"model": "models/x", "generation_config": {"response_modalities": "audio"}}
    setup_schema = CLIENT_MESSAGE_MLDEV.field("setup")
    assert setup_schema is not None
    assert setup_schema.message is not None
    assert parse_value(setup, setup_schema.message, "setup") == {
        "model": "models/x",
        "generationConfig": {"responseModalities": ["AUDIO"]},
    }
    with pytest.raises(ProtoJsonError, match=re.escape("Unknown name \"bad\" at 'setup'")):
        parse_value({"bad": 1}, setup_schema.message, "setup")


def test_schema_declarations_are_checked() -> None:
    """A schema cannot declare a field twice or describe a field inconsistently."""
    with pytest.raises(ValueError, match="declared twice"):
        Message("t.M", Field("a_b", Kind.STRING), Field("aB", Kind.STRING))
    with pytest.raises(ValueError, match="enum type"):
        Field("e", Kind.ENUM)
    assert EnumType("t.E", {"A": 0, "B": 5}).name(5) == "B"


# -------------------------------------------------------------------------------------------- property


def _all_valid_messages() -> list[tuple[str, Message]]:
    messages = list(CAPTURED)
    for backend in BACKENDS:
        schema = CLIENT_MESSAGE_VERTEX if backend == "vertex" else CLIENT_MESSAGE_MLDEV
        messages += [(frame, schema) for frame in sdk_live_frames(backend)]
        messages += [(body, _rest_schema(backend, path)) for path, body in sdk_rest_bodies(backend)]
    # The Developer API setup repeats generation_config under both spellings: recasing one onto the
    # other would change the order of the merged lists, not the meaning, so it is left out here.
    return [(text, schema) for text, schema in messages if '"response_modalities"' not in text]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_spelling_and_any_base64_alphabet_mean_the_same(data: st.DataObject) -> None:
    """Randomly re-cased field names (at any depth) and re-encoded bytes give the same canonical dict."""
    text, schema = data.draw(st.sampled_from(_all_valid_messages()))
    spellings = data.draw(st.randoms(use_true_random=False))

    def name_of(described: Field) -> str:
        return spellings.choice((described.name, described.json_name))

    def encode(raw: bytes) -> str:
        encoded = spellings.choice((base64.b64encode, base64.urlsafe_b64encode))(raw).decode()
        return encoded.rstrip("=") if spellings.random() < 0.5 else encoded

    rewritten = json.dumps(_recase(json.loads(text), schema, name_of, encode))
    assert parse_json(rewritten, schema) == parse_json(text, schema)


def test_nesting_limits_are_esfs() -> None:
    """Objects nest 100 deep at most; lists inside lists are flattened into a repeated field at any depth."""
    too_deep = '{"a": ' * 101 + "1" + "}" * 101
    assert _error(too_deep) == (
        "Invalid JSON payload received. Message too deep. Max recursion depth reached for key 'a'"
    )
    deep_lists = '{"setup": {"tools": ' + "[" * 5000 + '{"codeExecution": {}}' + "]" * 5000 + "}}"
    assert parse_json(deep_lists, CLIENT_MESSAGE_MLDEV) == {"setup": {"tools": [{"codeExecution": {}}]}}
    deeper = '{"setup": {"tools": [' + '{"a": [' * 10 + "]}" * 10 + "]}}"
    assert _error(deeper) == (
        "Invalid JSON payload received. Unknown name \"a\" at 'setup.tools[0]': Cannot find field."
    )
    # Beyond what json.loads can read (tens of thousands of levels), the text names no key.
    unreadable = '{"a": ' * 200_000 + "1" + "}" * 200_000
    assert (
        _error(unreadable) == "Invalid JSON payload received. Message too deep. Max recursion depth reached for key ''"
    )


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=st.dictionaries(st.text(max_size=8), _JSON_VALUES, max_size=4), ascii_only=st.booleans())
def test_the_grammar_reads_standard_json_as_json_loads_does(value: dict[str, Any], ascii_only: bool) -> None:
    """Free-form JSON (a Struct) comes back exactly as the standard library reads it."""
    frame = {"toolResponse": {"functionResponses": [{"id": "1", "response": value}]}}
    text = json.dumps(frame, ensure_ascii=ascii_only, indent=None if ascii_only else 1)
    parsed = parse_json(text.encode(), CLIENT_MESSAGE_MLDEV)
    assert (
        parsed["toolResponse"]["functionResponses"][0]["response"]
        == json.loads(text)["toolResponse"]["functionResponses"][0]["response"]
    )


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=60), st.binary(max_size=60), st.from_regex(r'\{"setup": ?[^}]{0,30}\}?')))
def test_any_input_is_either_parsed_or_refused_with_protojsonerror(text: str | bytes) -> None:
    """Arbitrary input never crashes the parser: it is parsed or refused with ESF's error."""
    refusal: ProtoJsonError | None = None
    try:
        parse_json(text, CLIENT_MESSAGE_MLDEV)
    except ProtoJsonError as err:
        refusal = err
    assert refusal is None or (refusal.message and refusal.violations)

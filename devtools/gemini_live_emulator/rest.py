"""The REST side of the emulated service: the Gemini Developer API, Vertex AI and the OAuth2 token endpoint.

Every non-Live request comes here (:func:`handle_rest`). A request is routed by its path, then
authenticated as the real service does it (Developer API: ``?key=``/``x-goog-api-key``, or an OAuth2
Bearer token; Vertex AI: OAuth2 only), then checked against injected faults, then its body is parsed
as proto3 JSON (unknown fields are refused with the ESF text), and only then is the model looked up
and the call answered. Errors are ``google.rpc.Status`` bodies with the service's own texts; paths the
service does not have get Google's HTML 404 page.

What the model says comes from the scenario (:mod:`.generation`): the position in the conversation is
derived from ``contents``; a spoken turn takes the next turn of the script the Live side also walks
(:meth:`~.server.Emulator.spoken_turn_position`), so a client that opens a new conversation per
utterance (the bridge's cascaded fallback) hears the scenario in order, as on Live.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import math
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from aiohttp import web

from . import wire
from .auth import AuthError, Caller, bearer_from_header
from .catalog import ModelInfo, PageTokenError, find_model, paginate, served_models
from .generation import (
    AUDIO_TOKENS_PER_SECOND,
    GENERATED_IMAGE_TOKENS,
    TEXT_CHUNK_INTERVAL_S,
    Finish,
    InjectedFault,
    Parts,
    ReplyEvent,
    ScriptedReply,
    SpeechRequest,
    blob_bytes,
    chat_turn,
    count_tokens,
    declared_functions,
    image_events,
    read_conversation,
    speech_events,
    spoken_turn_key,
    transcript_events,
    transcript_for,
    unsigned_call_position,
)
from .messages import (
    COUNT_TOKENS_REQUEST_MLDEV,
    COUNT_TOKENS_REQUEST_VERTEX,
    CREATE_AUTH_TOKEN_REQUEST,
    GENERATE_CONTENT_REQUEST_MLDEV,
    GENERATE_CONTENT_REQUEST_VERTEX,
)
from .oauth import handle_token
from .protojson import Message, ProtoJsonError, parse_json
from .records import RestRequestRecord

if TYPE_CHECKING:
    from .server import Emulator

_LOGGER = logging.getLogger(__name__)

Backend = Literal["mldev", "vertex"]

_DEV_PATH: Final = re.compile(
    r"^/+(?P<version>v1|v1beta|v1alpha)/(?P<collection>models|tunedModels|auth_tokens)"
    r"(?:/(?P<model>[^/:]+))?(?::(?P<verb>[A-Za-z]+))?$"
)
_VERTEX_PATH: Final = re.compile(
    r"^/+(?P<version>v1|v1beta1)/(?:"
    r"projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/(?P<collection>publishers/google/models|models)"
    r"|(?P<publisher_collection>publishers/google/models))"
    r"(?:/(?P<model>[^/:]+))?(?::(?P<verb>[A-Za-z]+))?$"
)
_GENERATION_VERBS: Final = ("generateContent", "streamGenerateContent", "countTokens")

# The REST texts carry a pointer the WebSocket close reasons (123 bytes at most) leave out.
_DEVCONSOLE: Final = " See https://developers.google.com/identity/sign-in/web/devconsole-project."
_REST_AUTH_SUFFIX: Final = {
    wire.REASON_API_KEY_ON_VERTEX: " See https://cloud.google.com/docs/authentication",
    wire.REASON_MISSING_OAUTH: _DEVCONSOLE,
    wire.REASON_INVALID_OAUTH: _DEVCONSOLE,
}
_INTERNAL_DEVELOPER: Final = (
    "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting"
)
_QUOTA_VERTEX: Final = (
    "Resource exhausted. Please try again later. Please refer to "
    "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."
)
_CONTENTS_MISSING: Final = "* GenerateContentRequest.contents: contents is not specified\n"
_UNSIGNED_CALL: Final = (
    "Function call is missing a thought_signature in functionCall parts. This is required for tools to work "
    "correctly, and missing thought_signature may lead to degraded model performance. Additional data, "
    "function call `default_api:{name}` , position {position}. Please refer to "
    "https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
)
_EPHEMERAL_MAX_AHEAD_S: Final = 20 * 3600.0
_HOLD_BACK_S: Final = 0.05  # how long a streamed chunk waits for the next one before it goes out alone
_GOOGLE_HEADERS: Final = {
    "Vary": "Origin, X-Origin, Referer",
    "Server": "scaffolding on HTTPServer2",
    "X-XSS-Protection": "0",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
}
_JSON_TYPE: Final = "application/json; charset=UTF-8"
_NOT_FOUND_PAGE: Final = """<!DOCTYPE html>
<html lang=en>
  <meta charset=utf-8>
  <meta name=viewport content="initial-scale=1, minimum-scale=1, width=device-width">
  <title>Error 404 (Not Found)!!1</title>
  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>
  <p><b>404.</b> <ins>That’s an error.</ins>
  <p>The requested URL <code>{path}</code> was not found on this server.  <ins>That’s all we know.</ins>
"""


class RestError(Exception):
    """Answer the request with this HTTP status and ``google.rpc.Status`` body."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class DropConnection(Exception):
    """An injected network failure: the connection is cut without an answer."""


@dataclass(frozen=True)
class Route:
    """What a request path names."""

    backend: Backend
    version: str
    collection: str
    model: str | None
    verb: str | None
    project: str | None = None
    location: str | None = None


def match_route(path: str) -> Route | None:
    """The Developer API or Vertex AI resource a path names, or None."""
    vertex = _VERTEX_PATH.match(path)
    if vertex:
        return Route(
            "vertex",
            vertex["version"],
            vertex["collection"] or vertex["publisher_collection"],
            vertex["model"],
            vertex["verb"],
            vertex["project"],
            vertex["location"],
        )
    developer = _DEV_PATH.match(path)
    if developer:
        return Route("mldev", developer["version"], developer["collection"], developer["model"], developer["verb"])
    return None


async def handle_rest(request: web.Request, emulator: Emulator) -> web.StreamResponse:
    """Answer a REST call (everything that is not a Live WebSocket upgrade)."""
    if re.fullmatch(r"/+token", request.path) and request.method == "POST" and emulator.service_account:
        return await handle_token(request, emulator.service_account, emulator.credentials)
    route = match_route(request.path)
    handler = _handler_for(route, request.method) if route else None
    if route is None or handler is None:
        return _not_found_page(request.path)
    try:
        response = await handler(request, emulator, route)
    except RestError as err:
        _LOGGER.info("REST %s %s: %d", request.method, request.path, err.status)
        return _json_response(err.body, err.status)
    except DropConnection:
        return _drop(request)
    return response


type _Handler = Callable[[web.Request, Emulator, Route], Awaitable[web.StreamResponse]]


def _handler_for(route: Route, method: str) -> _Handler | None:
    """The handler for a route and HTTP method (None: the service has no such method)."""
    if route.collection in ("models", "publishers/google/models") and route.model is None and method == "GET":
        if route.collection == "models" and route.backend == "vertex":
            return _list_tuned_models
        if route.backend == "vertex" and route.version != "v1beta1":
            return None  # the publisher-model list is a v1beta1 method
        return _list_models
    if route.collection == "tunedModels" and route.model is None and method == "GET":
        return _list_tuned_models
    if route.collection == "auth_tokens" and route.model is None and route.verb is None and method == "POST":
        return _create_auth_token if route.version in ("v1alpha", "v1beta") else None
    if route.collection not in ("models", "publishers/google/models") or route.model is None:
        return None
    if route.backend == "vertex" and route.collection == "models":
        return None  # endpoint models (tuned) are not served
    if route.verb is None:
        return _get_model if method == "GET" else None
    if method != "POST":
        return None
    if route.verb == "countTokens":
        return _count_tokens
    if route.verb in _GENERATION_VERBS:
        return _generate
    return _unsupported_method if route.backend == "mldev" else None


# ------------------------------------------------------------------------------------------- responses


def _json_text(body: Any) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def _json_response(body: Any, status: int = 200) -> web.Response:
    """A JSON body as the service writes it (pretty-printed, UTF-8)."""
    return web.Response(text=_json_text(body), status=status, headers={**_GOOGLE_HEADERS, "Content-Type": _JSON_TYPE})


def _not_found_page(path: str) -> web.Response:
    """Google's front end answers a path no API serves with an HTML page, not JSON."""
    return web.Response(
        text=_NOT_FOUND_PAGE.format(path=path.replace("<", "&lt;")),
        status=404,
        headers={"Content-Type": "text/html; charset=UTF-8", "Referrer-Policy": "no-referrer"},
    )


def _drop(request: web.Request) -> web.Response:
    """Cut the connection (the client sees a network error)."""
    _LOGGER.info("Dropping the connection of %s %s (injected fault)", request.method, request.path)
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)


def _timestamp(epoch: float) -> str:
    """A ``google.protobuf.Timestamp`` in its JSON form (UTC, microseconds, ``Z``)."""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_timestamp(value: Any) -> float | None:
    """Seconds since the epoch of a JSON Timestamp (None when absent; ValueError when malformed)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


# ------------------------------------------------------------------------------------------- checks


def _authorize(request: web.Request, emulator: Emulator, route: Route) -> Caller:
    """Authenticate as the real service does; raises :class:`RestError` with its answer."""
    api_key = request.query.get("key") or request.headers.get("x-goog-api-key")
    bearer = bearer_from_header(request.headers.get("Authorization"), "Bearer")
    store = emulator.credentials
    if route.backend == "vertex":
        try:
            return store.authorize_vertex(bearer, api_key)
        except AuthError as err:
            raise RestError(err.http_status, _vertex_auth_body(err, route)) from err
    if api_key:
        caller = store.authorize_developer(api_key)
        if not caller.credential_valid:
            raise RestError(400, wire.api_key_invalid_body())
        return caller
    if bearer:
        try:
            return store.authorize_vertex(bearer, None)
        except AuthError as err:
            raise RestError(
                err.http_status,
                wire.error_body(
                    err.http_status,
                    err.reason + _REST_AUTH_SUFFIX.get(err.reason, ""),
                    reason=err.error_reason,
                ),
            ) from err
    raise RestError(403, wire.error_body(403, wire.REASON_NO_CREDENTIALS))


def _vertex_method(route: Route) -> str:
    """The RPC a Vertex AI route maps to, as ``ErrorInfo.metadata.method`` names it."""
    if route.verb:
        rpc = route.verb[:1].upper() + route.verb[1:]
        return f"google.cloud.aiplatform.{route.version}.PredictionService.{rpc}"
    return f"google.cloud.aiplatform.{route.version}.ModelGardenService.GetPublisherModel"


def _vertex_auth_body(err: AuthError, route: Route) -> dict[str, Any]:
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": err.error_reason or "CREDENTIALS_MISSING",
        "domain": "googleapis.com",
        "metadata": {"method": _vertex_method(route), "service": "aiplatform.googleapis.com"},
    }
    message = err.reason + _REST_AUTH_SUFFIX.get(err.reason, "")
    return wire.error_body(err.http_status, message, extra_details=[info])


def _quota_error(backend: Backend) -> RestError:
    if backend == "vertex":
        return RestError(429, wire.error_body(429, _QUOTA_VERTEX))
    return RestError(429, wire.quota_body())


def _internal_error(backend: Backend) -> RestError:
    return RestError(500, wire.error_body(500, wire.REASON_INTERNAL if backend == "vertex" else _INTERNAL_DEVELOPER))


def _take_rest_fault(emulator: Emulator, route: Route) -> None:
    """Consume one injected REST rejection, if any: 429 as the quota system answers."""
    faults = emulator.config.faults
    if faults.reject_rest > 0:
        faults.reject_rest -= 1
        raise _quota_error(route.backend)


async def _read_body(request: web.Request, schema: Message, api_version: str) -> dict[str, Any]:
    """The body parsed as proto3 JSON; malformed JSON or an unknown field is a 400 with ESF's text."""
    raw = await request.read()
    if not raw.strip():
        return {}  # the front end reads an empty body as {}
    try:
        return parse_json(raw, schema, api_version=api_version)
    except ProtoJsonError as err:
        violations = [
            {"field": v.field, "description": v.description} if v.field else {"description": v.description}
            for v in err.violations
        ]
        details = [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations}]
        raise RestError(400, wire.error_body(400, err.message, extra_details=details)) from err


def _require_model(emulator: Emulator, route: Route, method: str) -> ModelInfo:
    """The served model a route names; 404 with the service's text otherwise."""
    assert route.model is not None
    model = find_model(emulator.config, route.backend, route.model)
    usable = model is not None and (method == "get" or model.kind != "live")
    if model is not None and usable:
        return model
    if route.backend == "vertex":
        name = f"projects/{route.project}/locations/{route.location}/publishers/google/models/{route.model}"
        if route.project is None:
            name = f"publishers/google/models/{route.model}"
        message = (
            f"Publisher Model `{name}` was not found or your project does not have access to it. "
            "Please ensure you are using a valid model version. For more information, see: "
            "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"
        )
    elif method == "get":
        message = f"Model is not found: models/{route.model} for api version {route.version}"
    else:
        message = (
            f"models/{route.model} is not found for API version {route.version}, or is not supported for "
            f"{method}. Call ListModels to see the list of available models and their supported methods."
        )
    raise RestError(404, wire.error_body(404, message))


# ------------------------------------------------------------------------------------------- models


async def _list_models(request: web.Request, emulator: Emulator, route: Route) -> web.StreamResponse:
    """``GET models`` (Developer) / ``GET publishers/google/models`` (Vertex), one page at a time."""
    _authorize(request, emulator, route)
    _take_rest_fault(emulator, route)
    try:
        page_size = int(request.query.get("pageSize", "0") or 0)
        page, next_token = paginate(
            served_models(emulator.config, route.backend), page_size, request.query.get("pageToken")
        )
    except (PageTokenError, ValueError) as err:
        raise RestError(400, wire.error_body(400, wire.REASON_INVALID_ARGUMENT)) from err
    if route.backend == "vertex":
        body: dict[str, Any] = {"publisherModels": [m.vertex_resource() for m in page]}
    else:
        body = {"models": [m.developer_resource() for m in page]}
    if next_token:
        body["nextPageToken"] = next_token
    return _json_response(body)


async def _list_tuned_models(request: web.Request, emulator: Emulator, route: Route) -> web.StreamResponse:
    """``GET tunedModels`` / Vertex ``models``: the emulator has no tuned models (an empty list is ``{}``)."""
    _authorize(request, emulator, route)
    _take_rest_fault(emulator, route)
    return _json_response({})


async def _get_model(request: web.Request, emulator: Emulator, route: Route) -> web.StreamResponse:
    """``GET models/{m}`` / ``GET publishers/google/models/{m}``."""
    _authorize(request, emulator, route)
    _take_rest_fault(emulator, route)
    model = _require_model(emulator, route, "get")
    return _json_response(model.vertex_resource() if route.backend == "vertex" else model.developer_resource())


async def _unsupported_method(request: web.Request, emulator: Emulator, route: Route) -> web.StreamResponse:
    """A model method the emulator does not serve (``embedContent``, ``predict``...)."""
    _authorize(request, emulator, route)
    _take_rest_fault(emulator, route)
    _require_model(emulator, route, route.verb or "")
    message = (
        f"models/{route.model} is not found for API version {route.version}, or is not supported for "
        f"{route.verb}. Call ListModels to see the list of available models and their supported methods."
    )
    raise RestError(404, wire.error_body(404, message))


# ------------------------------------------------------------------------------------------- countTokens


async def _count_tokens(request: web.Request, emulator: Emulator, route: Route) -> web.StreamResponse:
    """``POST models/{m}:countTokens``: token estimates by modality."""
    _authorize(request, emulator, route)
    _take_rest_fault(emulator, route)
    schema = COUNT_TOKENS_REQUEST_VERTEX if route.backend == "vertex" else COUNT_TOKENS_REQUEST_MLDEV
    body = await _read_body(request, schema, route.version)
    _require_model(emulator, route, "countTokens")
    inner = body.get("generateContentRequest") or {}
    contents = body.get("contents") or inner.get("contents") or []
    system = body.get("systemInstruction") or inner.get("systemInstruction")
    counts = count_tokens(contents, system)
    total = sum(counts.values())
    result: dict[str, Any] = {"totalTokens": total}
    if route.backend == "vertex":
        result["totalBillableCharacters"] = _billable_characters(contents)
    if counts:
        result["promptTokensDetails"] = [{"modality": m, "tokenCount": n} for m, n in counts.items()]
    return _json_response(result)


def _billable_characters(contents: Sequence[Mapping[str, Any]]) -> int:
    return sum(
        len(re.sub(r"\s", "", str(part.get("text", ""))))
        for content in contents
        for part in content.get("parts", [])
        if isinstance(part, Mapping)
    )


# ------------------------------------------------------------------------------------------- auth tokens


async def _create_auth_token(request: web.Request, emulator: Emulator, route: Route) -> web.StreamResponse:
    """``POST v1alpha/auth_tokens``: mint an ephemeral Live API token (an ephemeral token cannot mint one)."""
    _authorize(request, emulator, route)
    _take_rest_fault(emulator, route)
    body = await _read_body(request, CREATE_AUTH_TOKEN_REQUEST, route.version)
    now = time.time()
    try:
        expire = _parse_timestamp(body.get("expireTime"))
        new_session = _parse_timestamp(body.get("newSessionExpireTime"))
    except ValueError as err:
        raise RestError(400, wire.error_body(400, wire.REASON_INVALID_ARGUMENT)) from err
    for moment in (expire, new_session):
        if moment is not None and not now < moment <= now + _EPHEMERAL_MAX_AHEAD_S:
            raise RestError(400, wire.error_body(400, wire.REASON_INVALID_ARGUMENT))
    uses = body.get("uses", 1)
    if not isinstance(uses, int) or uses < 0:
        raise RestError(400, wire.error_body(400, wire.REASON_INVALID_ARGUMENT))
    setup = body.get("bidiGenerateContentSetup") or None
    token = emulator.credentials.issue_ephemeral_token(
        uses=uses,
        expire_time=expire,
        new_session_expire_time=new_session,
        setup=setup,
        field_mask=_field_mask(body.get("fieldMask")) if setup else None,
    )
    _LOGGER.info("Minted an ephemeral token (%d uses)", uses)
    return _json_response(
        {
            "name": token.name,
            "expireTime": _timestamp(token.expire_time),
            "newSessionExpireTime": _timestamp(token.new_session_expire_time),
            "uses": token.uses,
        }
    )


def _field_mask(value: Any) -> tuple[str, ...] | None:
    """A ``google.protobuf.FieldMask`` (JSON: comma-separated paths) as a tuple; None when absent."""
    if value is None or value == "":
        return None
    paths = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(p.strip() for p in paths if str(p).strip())


# ------------------------------------------------------------------------------------------- generation


def _requested_modalities(body: Mapping[str, Any]) -> list[str]:
    config = body.get("generationConfig") or {}
    return [str(m) for m in config.get("responseModalities", []) or []]


def _check_modalities(model: ModelInfo, body: Mapping[str, Any]) -> None:
    """TTS models only speak, text models only write, image models write and draw; the service's 400
    otherwise."""
    requested = _requested_modalities(body) or ["TEXT"]
    accepted = {"tts": [["AUDIO"]], "image": [["TEXT", "IMAGE"], ["IMAGE"], ["TEXT"]]}.get(model.kind, [["TEXT"]])
    if sorted(requested, reverse=True) in accepted:
        return
    combinations = "".join(f"* {', '.join(combination)}\n" for combination in accepted)
    message = (
        f"The requested combination of response modalities ({', '.join(requested)}) is not supported by the "
        f"model. models/{model.id} accepts the following combination of response modalities:\n{combinations}"
    )
    raise RestError(400, wire.error_body(400, message))


def _check_thought_signatures(model: ModelInfo, contents: Sequence[Mapping[str, Any]]) -> None:
    """Gemini 3 wants its function calls replayed with their signatures (current turn only)."""
    if not model.id.startswith("gemini-3"):
        return
    position = unsigned_call_position(contents)
    if position is None:
        return
    parts = contents[position - 1].get("parts", [])
    name = next((p["functionCall"].get("name", "") for p in parts if "functionCall" in p), "")
    raise RestError(400, wire.error_body(400, _UNSIGNED_CALL.format(name=name, position=position)))


def _reply_events(
    emulator: Emulator, model: ModelInfo, body: Mapping[str, Any], route: Route
) -> AsyncIterator[ReplyEvent]:
    """The model's reply to this request, as a stream of events (the call is recorded on the emulator)."""
    contents = body.get("contents") or []
    conversation = read_conversation(contents)
    streaming = route.verb == "streamGenerateContent"
    interval = TEXT_CHUNK_INTERVAL_S if emulator.config.generation_speed > 0 else 0.0
    key = spoken_turn_key(contents) if model.kind != "tts" else None
    position = None if key is None else emulator.spoken_turn_position(key, conversation.turn_index)
    emulator.rest_requests.append(
        RestRequestRecord(route.verb or "", model.id, route.backend, contents, position, dict(body))
    )
    if model.kind == "tts":
        speech = SpeechRequest.from_request(body, conversation)
        return speech_events(speech, emulator.synthesizer, streaming, default_language="en-US")
    if model.kind == "image":
        scripted = emulator.scenario.turn_for(conversation.turn_index, conversation.user_text)
        return image_events(chat_turn(scripted, conversation), conversation.user_text or "")
    typed = None if conversation.audio else conversation.user_text
    scripted = emulator.scenario.turn_for(conversation.turn_index if position is None else position, typed)
    if conversation.wants_transcript:
        return transcript_events(transcript_for(scripted), streaming, interval)
    turn = chat_turn(scripted, conversation)
    reply = ScriptedReply(turn, conversation, declared_functions(body), model.id, streaming, interval)
    return reply.events()


async def _generate(request: web.Request, emulator: Emulator, route: Route) -> web.StreamResponse:
    """``generateContent`` and ``streamGenerateContent`` (``?alt=sse``: SSE, else a JSON array)."""
    _authorize(request, emulator, route)
    _take_rest_fault(emulator, route)
    schema = GENERATE_CONTENT_REQUEST_VERTEX if route.backend == "vertex" else GENERATE_CONTENT_REQUEST_MLDEV
    body = await _read_body(request, schema, route.version)
    streaming = route.verb == "streamGenerateContent"
    model = _require_model(emulator, route, route.verb or "generateContent")
    if not body.get("contents"):
        raise RestError(400, wire.error_body(400, _CONTENTS_MISSING))
    _check_modalities(model, body)
    _check_thought_signatures(model, body["contents"])
    envelope = _Envelope(route.backend, model.id, count_tokens(body["contents"], body.get("systemInstruction")))
    events = _reply_events(emulator, model, body, route)
    _LOGGER.info("REST %s on %s (%s)", route.verb, model.id, route.backend)
    if not streaming:
        return await _answer_once(events, envelope)
    sse = request.query.get("alt") == "sse"
    return await _answer_stream(request, events, envelope, sse)


@dataclass
class _Envelope:
    """What every ``GenerateContentResponse`` of one call shares (ids, model, prompt token counts)."""

    backend: Backend
    model_id: str
    prompt_counts: dict[str, int]
    response_id: str = field(default_factory=lambda: secrets.token_urlsafe(17))
    create_time: float = field(default_factory=time.time)
    output_tokens: int = 0
    output_modality: str = "TEXT"

    def add_output(self, parts: Sequence[Mapping[str, Any]]) -> None:
        """Count the tokens of parts the model produced."""
        for part in parts:
            blob = part.get("inlineData")
            if isinstance(blob, Mapping) and str(blob.get("mimeType", "")).startswith("image/"):
                self.output_tokens += GENERATED_IMAGE_TOKENS
                self.output_modality = "IMAGE"
            elif isinstance(blob, Mapping):
                seconds = len(blob_bytes(blob.get("data"))) / (2 * 24000)
                self.output_tokens += math.ceil(seconds * AUDIO_TOKENS_PER_SECOND)
                self.output_modality = "AUDIO"
            elif "text" in part:
                self.output_tokens += math.ceil(len(str(part["text"])) / 4)
            else:
                self.output_tokens += math.ceil(len(json.dumps(part.get("functionCall", {}))) / 4)

    def usage(self, final: bool) -> dict[str, Any]:
        """``usageMetadata``: running counts on the Developer API; Vertex sends counts only at the end."""
        if self.backend == "vertex" and not final:
            return {"trafficType": "ON_DEMAND"}
        prompt = sum(self.prompt_counts.values())
        usage: dict[str, Any] = {"promptTokenCount": prompt}
        if self.output_tokens:
            usage["candidatesTokenCount"] = self.output_tokens
        usage["totalTokenCount"] = prompt + self.output_tokens
        if self.backend == "vertex":
            usage["trafficType"] = "ON_DEMAND"
        usage["promptTokensDetails"] = [{"modality": m, "tokenCount": n} for m, n in self.prompt_counts.items()]
        if self.output_tokens and (self.backend == "vertex" or self.output_modality != "TEXT"):
            usage["candidatesTokensDetails"] = [{"modality": self.output_modality, "tokenCount": self.output_tokens}]
        return usage

    def response(self, parts: Sequence[Mapping[str, Any]], finish: Finish | None, *, streaming: bool) -> dict[str, Any]:
        """One ``GenerateContentResponse`` (a whole answer, or one streamed chunk)."""
        body: dict[str, Any] = {}
        if finish is not None and finish.block_reason:
            body["promptFeedback"] = {"blockReason": finish.block_reason}
        else:
            body["candidates"] = [self._candidate(parts, finish, streaming)]
        body["usageMetadata"] = self.usage(final=finish is not None)
        body["modelVersion"] = self.model_id
        if self.backend == "vertex":
            body["createTime"] = _timestamp(self.create_time)
        body["responseId"] = self.response_id
        return body

    def _candidate(self, parts: Sequence[Mapping[str, Any]], finish: Finish | None, streaming: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {}
        reason = finish.finish_reason if finish else None
        if reason != "SAFETY":
            content = {"parts": list(parts), "role": "model"}
            if self.backend == "vertex":
                content = {"role": "model", "parts": list(parts)}
            candidate["content"] = content if parts else {}
        if reason:
            candidate["finishReason"] = reason
        if reason == "SAFETY":
            candidate["safetyRatings"] = _BLOCKED_RATINGS
        if self.backend == "mldev":
            candidate["index"] = 0
        elif reason and not streaming and any("text" in p for p in parts):
            candidate["avgLogprobs"] = -0.0831
        return candidate


_BLOCKED_RATINGS: Final = [
    {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
]


def _merge_parts(parts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Adjacent text parts joined, as a non-streamed answer carries them."""
    merged: list[dict[str, Any]] = []
    for part in parts:
        if merged and set(part) == {"text"} and set(merged[-1]) == {"text"}:
            merged[-1] = {"text": merged[-1]["text"] + str(part["text"])}
        else:
            merged.append(dict(part))
    return merged


def _fault_error(fault: InjectedFault, backend: Backend) -> RestError | None:
    """The error an injected fault answers with (None: the connection is dropped instead)."""
    if fault.kind == "quota":
        return _quota_error(backend)
    if fault.kind == "drop":
        return None
    return _internal_error(backend)


def _raise_fault(fault: InjectedFault, backend: Backend) -> None:
    error = _fault_error(fault, backend)
    if error is None:
        raise DropConnection from fault
    raise error from fault


async def _answer_once(events: AsyncIterator[ReplyEvent], envelope: _Envelope) -> web.Response:
    """A non-streamed answer: everything the model produced, in one response."""
    parts: list[dict[str, Any]] = []
    finish = Finish()
    try:
        async for event in events:
            if isinstance(event, Parts):
                parts.extend(event.parts)
            else:
                finish = event
    except InjectedFault as fault:
        _raise_fault(fault, envelope.backend)
    merged = _merge_parts(parts)
    envelope.add_output(merged)
    return _json_response(envelope.response(merged, finish, streaming=False))


class _StreamWriter:
    """Writes a streamed answer: server-sent events (``?alt=sse``) or one JSON array."""

    def __init__(self, request: web.Request, sse: bool) -> None:
        self._request = request
        self._sse = sse
        self._response: web.StreamResponse | None = None

    @property
    def started(self) -> bool:
        """Whether the response head (and so the 200 status) has gone out."""
        return self._response is not None

    async def write(self, body: Mapping[str, Any]) -> None:
        """Send one ``GenerateContentResponse`` (or an error object) now."""
        first = self._response is None
        response = await self._start()
        if self._sse:
            frame = "data: " + json.dumps(body, separators=(",", ": "), ensure_ascii=False) + "\r\n\r\n"
        else:
            frame = ("[" if first else "\n,\r\n") + json.dumps(body, indent=2, ensure_ascii=False)
        await response.write(frame.encode())

    async def finish(self) -> web.StreamResponse:
        """End the stream."""
        response = await self._start()
        if not self._sse:
            await response.write(b"\n]")
        await response.write_eof()
        return response

    def abort(self) -> web.StreamResponse:
        """Cut the connection mid-stream (an injected network failure)."""
        _LOGGER.info("Dropping a streamed answer (injected fault)")
        if self._request.transport is not None:
            self._request.transport.abort()
        assert self._response is not None
        return self._response

    async def _start(self) -> web.StreamResponse:
        if self._response is None:
            content_type = "text/event-stream" if self._sse else _JSON_TYPE
            response = web.StreamResponse(headers={**_GOOGLE_HEADERS, "Content-Type": content_type})
            if self._sse:
                response.headers["Content-Disposition"] = "attachment"
            await response.prepare(self._request)
            self._response = response
        return self._response


async def _answer_stream(
    request: web.Request, events: AsyncIterator[ReplyEvent], envelope: _Envelope, sse: bool
) -> web.StreamResponse:
    """A streamed answer: each part as the model produces it; the last chunk carries finishReason and usage.

    A chunk is held back briefly so that the finish reason can ride on the last content, as the service
    does; when the model is slow to go on (speech synthesis), it goes out alone and an empty chunk ends
    the stream. A fault before the first chunk is an HTTP error; after it, an error object ends the stream.
    """
    writer = _StreamWriter(request, sse)
    held: list[dict[str, Any]] | None = None
    finish = Finish()
    iterator = aiter(events)
    next_event: asyncio.Future[ReplyEvent] | None = None
    try:
        while True:
            next_event = asyncio.ensure_future(anext(iterator))
            if held is not None:
                done, _ = await asyncio.wait({next_event}, timeout=_HOLD_BACK_S)
                if not done:
                    await writer.write(envelope.response(held, None, streaming=True))
                    held = None
            try:
                event = await next_event
            except StopAsyncIteration:
                break
            if isinstance(event, Finish):
                finish = event
                continue
            if held is not None:
                await writer.write(envelope.response(held, None, streaming=True))
            held = list(event.parts)
            envelope.add_output(held)
    except InjectedFault as fault:
        if held is None and not writer.started:
            _raise_fault(fault, envelope.backend)
        if held is not None:
            await writer.write(envelope.response(held, None, streaming=True))
        error = _fault_error(fault, envelope.backend)
        if error is None:
            return writer.abort()
        await writer.write(error.body)
        return await writer.finish()
    finally:
        if next_event is not None and not next_event.done():
            next_event.cancel()
            await asyncio.gather(next_event, return_exceptions=True)
    if held is None and not finish.block_reason:
        held = [] if envelope.output_modality == "AUDIO" else [{"text": ""}]
    await writer.write(envelope.response(held or [], finish, streaming=True))
    return await writer.finish()

"""How failures are sorted: what the flow, set-up and the entities each make of them."""

from __future__ import annotations

import aiohttp
import pytest
from google.auth import exceptions as auth_exceptions
from google.genai import errors as genai_errors

from custom_components.gemini_live.errors import ErrorKind, api_error, classify, describe


def api(code: int, status: str, message: str = "m", details: object = None) -> genai_errors.APIError:
    """An SDK error as the SDK builds it from a response body."""
    body = {"error": {"code": code, "status": status, "message": message, "details": details or []}}
    return genai_errors.APIError(code, body)


@pytest.mark.parametrize(
    ("err", "kind"),
    [
        (api(400, "INVALID_ARGUMENT", details=[{"reason": "API_KEY_INVALID"}]), ErrorKind.AUTH),
        (api(401, "UNAUTHENTICATED"), ErrorKind.AUTH),
        (api(403, "PERMISSION_DENIED"), ErrorKind.AUTH),
        (api(429, "RESOURCE_EXHAUSTED"), ErrorKind.QUOTA),
        (api(503, "UNAVAILABLE"), ErrorKind.CONNECTION),
        (api(404, "NOT_FOUND"), ErrorKind.REQUEST),
        (api(400, "INVALID_ARGUMENT", details=[{"x": {1, 2}}]), ErrorKind.REQUEST),  # details not JSON
        (auth_exceptions.RefreshError("invalid_grant"), ErrorKind.AUTH),
        (auth_exceptions.RefreshError("internal", retryable=True), ErrorKind.CONNECTION),
        (auth_exceptions.TransportError("dns"), ErrorKind.CONNECTION),
        (aiohttp.ClientConnectionError("refused"), ErrorKind.CONNECTION),
        (TimeoutError(), ErrorKind.CONNECTION),
        (ValueError("odd"), ErrorKind.UNKNOWN),
    ],
)
def test_classify(err: BaseException, kind: ErrorKind) -> None:
    """Each failure lands in the kind a user can act on."""
    assert classify(err) is kind


def test_messages_are_one_sentence_and_details_go_to_the_log() -> None:
    """The translated error names only the kind (no service text, no URL); describe() keeps the details."""
    err = api_error(api(429, "RESOURCE_EXHAUSTED", "Quota exceeded, see https://ai.google.dev/x"))
    assert err.translation_key == "api_quota_exceeded"
    assert not err.translation_placeholders
    assert describe(api(429, "RESOURCE_EXHAUSTED", "Quota exceeded")) == "429 RESOURCE_EXHAUSTED: Quota exceeded"
    assert describe(TimeoutError()) == "TimeoutError"
    assert describe(aiohttp.ClientConnectionError("refused")) == "ClientConnectionError: refused"


def test_google_auth_errors_are_described_without_their_tuple() -> None:
    """google-auth packs the token endpoint's answer beside its message; the log gets the message only."""
    err = auth_exceptions.RefreshError(
        "invalid_grant: Invalid JWT Signature.", {"error": "invalid_grant", "error_description": "Invalid JWT"}
    )
    assert describe(err) == "RefreshError: invalid_grant: Invalid JWT Signature."

"""What went wrong when talking to Gemini, decided once for every caller.

The SDK, google-auth and the HTTP libraries each raise their own exceptions. :func:`classify` sorts
them into a few kinds that the config flow (form errors), set-up (``ConfigEntry*`` exceptions) and the
entities (translated ``HomeAssistantError``) each turn into their own answer.
"""

from __future__ import annotations

import json
from enum import StrEnum

import aiohttp
import httpx
import requests
from google.auth import exceptions as auth_exceptions
from google.genai import errors as genai_errors
from homeassistant.exceptions import HomeAssistantError

from .const import DOMAIN


class ErrorKind(StrEnum):
    """The kinds of failure a user can act on differently."""

    AUTH = "invalid_auth"  # bad, expired or revoked credentials: re-authenticate
    QUOTA = "quota_exceeded"  # 429: wait, or raise the quota
    CONNECTION = "cannot_connect"  # network, TLS, timeouts, 5xx: try again later
    REQUEST = "bad_request"  # the service refused this request (unknown model, bad option)
    UNKNOWN = "unknown"


class ServiceAccountError(ValueError):
    """A service-account key that cannot be used (not JSON, missing fields, a broken private key)."""


class ApiKeyOnVertexError(ServiceAccountError):
    """An API key given where Vertex AI needs a service account (OAuth2)."""


_AUTH_STATUSES = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})


def classify(err: BaseException) -> ErrorKind:
    """The kind of failure an exception from a Gemini call stands for."""
    if isinstance(err, genai_errors.APIError):
        if err.code in (401, 403) or err.status in _AUTH_STATUSES or "API_KEY_INVALID" in _details(err):
            return ErrorKind.AUTH
        if err.code == 429:
            return ErrorKind.QUOTA
        if err.code >= 500 or err.code == 408:
            return ErrorKind.CONNECTION
        return ErrorKind.REQUEST
    if isinstance(err, auth_exceptions.RefreshError):
        # google-auth marks refusals that may pass on a retry (5xx, 429) as retryable.
        return ErrorKind.CONNECTION if err.retryable else ErrorKind.AUTH
    if isinstance(
        err,
        (
            auth_exceptions.TransportError,
            aiohttp.ClientError,
            httpx.HTTPError,
            requests.RequestException,
            TimeoutError,
            OSError,
        ),
    ):
        return ErrorKind.CONNECTION
    return ErrorKind.UNKNOWN


def describe(err: BaseException) -> str:
    """A one-line, secret-free description of an error, for the log only (never for a person).

    google-auth's errors carry a tuple (the message and the token endpoint's whole answer); only the
    message is kept. Keys and tokens are never part of an SDK or HTTP error's text.
    """
    if isinstance(err, genai_errors.APIError):
        return f"{err.code} {err.status or ''}: {err.message or ''}".strip()
    if isinstance(err, auth_exceptions.GoogleAuthError) and err.args and isinstance(err.args[0], str):
        return f"{type(err).__name__}: {err.args[0]}"
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def api_error(err: BaseException) -> HomeAssistantError:
    """A translated Home Assistant error for a failed call: one short sentence, the details in the log."""
    return HomeAssistantError(translation_domain=DOMAIN, translation_key=f"api_{classify(err).value}")


def _details(err: genai_errors.APIError) -> str:
    try:
        return json.dumps(err.details)
    except TypeError, ValueError:
        return str(err.details)

"""Why a Live connection failed, named once: a short machine cause, the code, a sentence for a person.

The Live service reports failures as WebSocket close codes with reason texts (1007 invalid argument or a
bad API key, 1008 policy: credentials, unknown model, goAway abort; 1011 internal or quota), as HTTP
statuses on the upgrade (429, 5xx), or the network simply fails. :func:`classify` turns each into a
:class:`LiveError` that says whether trying again can help.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
from typing import Final

import websockets
from google.auth import exceptions as auth_exceptions
from google.genai import errors as genai_errors

CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001
CLOSE_DROPPED: Final = 1006  # no close frame: the connection was lost
CLOSE_INVALID_ARGUMENT: Final = 1007
CLOSE_POLICY: Final = 1008
CLOSE_TOO_BIG: Final = 1009
CLOSE_INTERNAL: Final = 1011

_DEV_MODEL_NOT_FOUND = re.compile(r"^(?:models/)?(?P<model>\S+) is not found for API version (?P<version>[\w.]+)")
_VERTEX_MODEL_NOT_FOUND = re.compile(r"Publisher Model `(?P<path>[^`]*)` was not found")
_QUOTA_TEXTS = ("exceeded your current quota", "Resource has been exhausted", "RESOURCE_EXHAUSTED")


class LiveError(Exception):
    """A failed Live connection: ``cause`` (short machine name), ``code`` (close code or HTTP status), ``retryable``.

    ``str(error)`` is a sentence naming the cause for a person, e.g. "the API key was refused (API key not valid)".
    """

    def __init__(
        self,
        cause: str,
        message: str,
        *,
        code: int | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.cause = cause
        self.code = code
        self.retryable = retryable
        self.message = message
        self.retry_after_s = retry_after_s  # how long the service asked to wait (RetryInfo), when it said

    def __repr__(self) -> str:
        return f"LiveError(cause={self.cause!r}, code={self.code!r}, retryable={self.retryable}, {self.message!r})"


class SessionFailed(Exception):
    """Raised inside a session's own tasks when it cannot go on; carries the :class:`LiveError` to report."""

    def __init__(self, error: LiveError) -> None:
        super().__init__(str(error))
        self.error = error


def classify(error: BaseException) -> LiveError:
    """The :class:`LiveError` for anything connecting, setting up or using a Live connection raised."""
    if isinstance(error, LiveError):
        return error
    if isinstance(error, genai_errors.APIError):
        reason = error.details if isinstance(error.details, str) else str(error.message or "")
        return from_close(error.code, reason)
    if isinstance(error, websockets.InvalidStatus):
        return _from_http_status(error.response.status_code, error.response.body)
    if isinstance(error, websockets.ConnectionClosed):
        if error.rcvd is None:
            return from_close(CLOSE_DROPPED, "")
        return from_close(error.rcvd.code, error.rcvd.reason)
    if isinstance(error, websockets.InvalidURI):
        return LiveError("invalid_endpoint", f"the Live endpoint URL is not valid ({error})")
    if isinstance(error, websockets.InvalidHandshake):
        return LiveError("handshake", f"the WebSocket handshake failed ({error})", retryable=True)
    return _from_local(error)


def from_close(code: int, reason: str) -> LiveError:
    """The error for a close code and its reason text, as the Live service sends them."""
    reason = reason.strip()
    if code == CLOSE_INVALID_ARGUMENT:
        return _invalid_argument(reason)
    if code == CLOSE_POLICY:
        return _policy(reason)
    if code == CLOSE_INTERNAL:
        if any(text in reason for text in _QUOTA_TEXTS):
            return LiveError("quota", f"the Gemini quota is exhausted ({reason})", code=code, retryable=True)
        if reason.startswith("Deadline expired"):
            return LiveError("deadline", f"the service ended the session ({reason})", code=code, retryable=True)
        return LiveError(
            "internal", f"the service had an internal error ({_or_none(reason)})", code=code, retryable=True
        )
    if code == CLOSE_DROPPED:
        return LiveError("dropped", "the connection to the service was lost", code=code, retryable=True)
    if code in (CLOSE_NORMAL, CLOSE_GOING_AWAY):
        return LiveError("closed", f"the service closed the connection ({_or_none(reason)})", code=code, retryable=True)
    if code == CLOSE_TOO_BIG:
        return LiveError("too_big", f"a message was too big for the service ({_or_none(reason)})", code=code)
    # 1012 service restart, 1013 try again later, 1014 bad gateway: transient by definition.
    retryable = code > CLOSE_INTERNAL
    return LiveError(
        f"closed_{code}",
        f"the service closed the connection: {code} {_or_none(reason)}",
        code=code,
        retryable=retryable,
    )


def _invalid_argument(reason: str) -> LiveError:
    code = CLOSE_INVALID_ARGUMENT
    if reason.startswith("API key not valid"):
        return LiveError("auth_invalid_key", "the API key was refused (API key not valid)", code=code)
    if reason.startswith("API key expired"):
        return LiveError("auth_expired_key", "the API key was refused (API key expired)", code=code)
    if "location is not supported" in reason:
        return LiveError("location_unsupported", f"the Gemini API is not offered here ({reason})", code=code)
    if "response modalities" in reason:
        return LiveError("modality_unsupported", f"the model cannot answer that way ({reason})", code=code)
    return LiveError("invalid_argument", f"the service refused the request as invalid ({_or_none(reason)})", code=code)


def _policy(reason: str) -> LiveError:
    code = CLOSE_POLICY
    if reason.startswith("API keys are not supported"):
        message = "the Vertex endpoint needs OAuth2 credentials; an API key was given"
        return LiveError("auth_api_key_on_vertex", message, code=code)
    if match := _DEV_MODEL_NOT_FOUND.match(reason):
        message = f"model {match['model']} is not available for Live on API version {match['version']}"
        return LiveError("model_not_found", message, code=code)
    if match := _VERTEX_MODEL_NOT_FOUND.search(reason):
        message = f"model {match['path'].rsplit('/', 1)[-1]} is not available for Live on Vertex AI ({match['path']})"
        return LiveError("model_not_found", message, code=code)
    if reason.startswith("Request had invalid authentication credentials"):
        return LiveError("auth_invalid_token", "the OAuth2 access token was refused (invalid or expired)", code=code)
    if reason.startswith(("Request is missing required authentication", "Method doesn't allow unregistered callers")):
        return LiveError("auth_missing", "the service received no credentials", code=code)
    if "ephemeral token" in reason:
        return LiveError(
            "auth_token_expired", "the ephemeral token was refused (invalid, used up or expired)", code=code
        )
    if reason.startswith("Connection aborted because the client failed to close"):
        message = "the service aborted the connection after goAway"
        return LiveError("go_away_abort", message, code=code, retryable=True)
    if reason.startswith("Operation is not implemented"):
        return LiveError("unsupported", f"the model does not support this setup ({reason})", code=code)
    if reason.startswith("The operation was aborted"):
        return LiveError("aborted", f"the service aborted the session ({reason})", code=code, retryable=True)
    return LiveError("policy", f"the service refused the session ({_or_none(reason)})", code=code)


def _from_http_status(status: int, body: bytes | bytearray | None = None) -> LiveError:
    if status == 429:
        message = "the Gemini quota is exhausted (HTTP 429 on connect)"
        return LiveError("quota", message, code=status, retryable=True, retry_after_s=retry_delay_s(body))
    if status >= 500:
        return LiveError(
            "unavailable", f"the service is unavailable (HTTP {status} on connect)", code=status, retryable=True
        )
    if status in (401, 403):
        return LiveError("auth_refused", f"the service refused the credentials (HTTP {status})", code=status)
    if status == 404:
        message = "the Live endpoint was not found (HTTP 404); check the base URL and API version"
        return LiveError("not_found", message, code=status)
    return LiveError("http_error", f"the service refused the connection (HTTP {status})", code=status)


def _from_local(error: BaseException) -> LiveError:
    """Failures on this side of the wire: network, TLS, credentials."""
    if isinstance(error, auth_exceptions.DefaultCredentialsError):
        return LiveError("auth_no_credentials", f"no Google Cloud credentials were found ({error})")
    if isinstance(error, auth_exceptions.RefreshError):
        retryable = bool(getattr(error, "retryable", False))
        return LiveError(
            "auth_refresh_failed", f"no OAuth2 access token could be obtained ({error})", retryable=retryable
        )
    if isinstance(error, auth_exceptions.TransportError):
        return LiveError(
            "auth_unavailable", f"the OAuth2 token endpoint could not be reached ({error})", retryable=True
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        detail = getattr(error, "verify_message", None) or error.strerror or "verification failed"
        message = f"the service's TLS certificate is not trusted ({detail}); check the CA file"
        return LiveError("tls_untrusted", message)
    if isinstance(error, ssl.SSLError):
        return LiveError("tls", f"the TLS connection failed ({error})", retryable=True)
    if isinstance(error, TimeoutError):
        return LiveError("timeout", "the service did not answer in time", retryable=True)
    if isinstance(error, ConnectionRefusedError):
        return LiveError("unavailable", "the service refused the connection (nothing listening)", retryable=True)
    if isinstance(error, socket.gaierror):
        return LiveError("dns", f"the service's host name could not be resolved ({error})", retryable=True)
    if isinstance(error, OSError):
        return LiveError("network", f"the network failed ({error.strerror or error})", retryable=True)
    return LiveError("unexpected", f"unexpected error: {type(error).__name__}: {error}")


def retry_delay_s(body: bytes | bytearray | str | None) -> float | None:
    """The ``google.rpc.RetryInfo.retryDelay`` of a Google error body (``"30s"``), in seconds; None without one."""
    if not body:
        return None
    try:
        data = json.loads(body)
        details = data["error"]["details"]
    except (ValueError, KeyError, TypeError):
        return None
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = detail.get("retryDelay")
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    return max(0.0, float(delay[:-1]))
                except ValueError:
                    return None
    return None


def _or_none(reason: str) -> str:
    return reason or "no reason given"

"""What the real service puts on the wire: frame encoding, close codes and their reason texts, REST error bodies.

Texts are the real service's (see docs/emulator.md for where each was observed); the emulator never
invents a friendlier message, since clients match on these.
"""

from __future__ import annotations

import json
from typing import Any, Final

# WebSocket close codes the Live service uses.
CLOSE_INVALID_ARGUMENT: Final = 1007
CLOSE_POLICY: Final = 1008
CLOSE_TOO_BIG: Final = 1009
CLOSE_INTERNAL: Final = 1011

MAX_REASON_BYTES: Final = 123

REASON_INVALID_ARGUMENT: Final = "Request contains an invalid argument."
REASON_API_KEY_INVALID: Final = "API key not valid. Please pass a valid API key."
REASON_API_KEY_ON_VERTEX: Final = (
    "API keys are not supported by this API. Expected OAuth2 access token or other authentication "
    "credentials that assert a principal."
)
REASON_NO_CREDENTIALS: Final = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
REASON_MISSING_OAUTH: Final = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie "
    "or other valid authentication credential."
)
REASON_INVALID_OAUTH: Final = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
    "other valid authentication credential."
)
REASON_TOKEN_INVALID: Final = "The provided ephemeral token is invalid or has expired."
REASON_INTERNAL: Final = "Internal error encountered."
REASON_QUOTA: Final = (
    "You exceeded your current quota, please check your plan and billing details. For more information "
    "on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)
REASON_GO_AWAY_ABORT: Final = (
    "Connection aborted because the client failed to close the connection after receiving a GoAway "
    "signal once the session duration limit was reached."
)
REASON_TOO_BIG: Final = "Message too big."
REASON_TEXT_MODALITY: Final = "The requested combination of response modalities (TEXT) is not supported by the model."


def model_not_found_reason(model: str, api_version: str) -> str:
    """The 1008 reason for a model the service does not have (``model`` as the client named it)."""
    return (
        f"{model} is not found for API version {api_version}, or is not supported for "
        "bidiGenerateContent. Call ListModels to see the list of available models and their supported "
        "methods."
    )


def truncate_reason(reason: str) -> str:
    """Cut a close reason to the 123 bytes a close frame can carry, as the service does (never mid-character)."""
    data = reason.encode()
    if len(data) <= MAX_REASON_BYTES:
        return reason
    return data[:MAX_REASON_BYTES].decode(errors="ignore")


def encode_frame(message: dict[str, Any]) -> bytes:
    """A server message as the service sends it: pretty-printed JSON (2-space indent, trailing newline), binary."""
    return (json.dumps(message, indent=2, ensure_ascii=False) + "\n").encode()


def format_duration(seconds: float) -> str:
    """A ``google.protobuf.Duration`` in its JSON form (``"50s"``, ``"0.500s"``)."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{seconds:.3f}s".rstrip("0")


# REST error bodies (google.rpc.Status as JSON).
STATUS_BY_CODE: Final = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def error_body(
    code: int,
    message: str,
    *,
    reason: str | None = None,
    domain: str = "googleapis.com",
    service: str = "generativelanguage.googleapis.com",
    extra_details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A REST error body ``{"error": {"code", "message", "status", "details"}}`` as Google's APIs return it."""
    error: dict[str, Any] = {"code": code, "message": message, "status": STATUS_BY_CODE.get(code, "UNKNOWN")}
    details: list[dict[str, Any]] = []
    if reason is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": domain,
                "metadata": {"service": service},
            }
        )
    details.extend(extra_details or [])
    if details:
        error["details"] = details
    return {"error": error}


def api_key_invalid_body() -> dict[str, Any]:
    """400 for a Developer API key the service does not know."""
    return error_body(
        400,
        REASON_API_KEY_INVALID,
        reason="API_KEY_INVALID",
        extra_details=[
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": REASON_API_KEY_INVALID,
            }
        ],
    )


def quota_body(retry_delay_s: float = 30.0) -> dict[str, Any]:
    """429 RESOURCE_EXHAUSTED as the Developer API returns it (``RetryInfo`` asks to wait ``retry_delay_s``)."""
    return error_body(
        429,
        REASON_QUOTA,
        extra_details=[
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                    }
                ],
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_delay_s:g}s"},
        ],
    )

"""Every failure the Live service (or the network) reports maps to a named, correctly retryable LiveError."""

from __future__ import annotations

import socket
import ssl

import pytest
import websockets
from gemini_live_emulator import wire
from google.genai import errors as genai_errors

from gemini_live_engine.errors import LiveError, classify, from_close


@pytest.mark.parametrize(
    ("code", "reason", "cause", "retryable"),
    [
        (1007, wire.REASON_API_KEY_INVALID, "auth_invalid_key", False),
        (1007, "API key expired. Please renew the API key.", "auth_expired_key", False),
        (1007, wire.REASON_INVALID_ARGUMENT, "invalid_argument", False),
        (1007, "User location is not supported for the API use.", "location_unsupported", False),
        (1007, wire.REASON_TEXT_MODALITY, "modality_unsupported", False),
        (1008, wire.truncate_reason(wire.REASON_API_KEY_ON_VERTEX), "auth_api_key_on_vertex", False),
        (1008, wire.truncate_reason(wire.model_not_found_reason("models/x", "v1alpha")), "model_not_found", False),
        (1008, wire.truncate_reason(wire.REASON_INVALID_OAUTH), "auth_invalid_token", False),
        (1008, wire.truncate_reason(wire.REASON_MISSING_OAUTH), "auth_missing", False),
        (1008, wire.truncate_reason(wire.REASON_NO_CREDENTIALS), "auth_missing", False),
        (1008, wire.REASON_TOKEN_INVALID, "auth_token_expired", False),
        (1008, wire.truncate_reason(wire.REASON_GO_AWAY_ABORT), "go_away_abort", True),
        (1008, "Operation is not implemented, or supported, or enabled.", "unsupported", False),
        (1011, wire.REASON_INTERNAL, "internal", True),
        (1011, wire.truncate_reason(wire.REASON_QUOTA), "quota", True),
        (1011, "Resource has been exhausted (e.g. check quota).", "quota", True),
        (1011, "Deadline expired before operation could complete.", "deadline", True),
        (1006, "", "dropped", True),
        (1000, "The operation was cancelled.", "closed", True),
        (1009, wire.REASON_TOO_BIG, "too_big", False),
        (1013, "", "closed_1013", True),
    ],
)
def test_close_codes(code: int, reason: str, cause: str, retryable: bool) -> None:
    """The service's close codes and reason texts, as the SDK raises them (APIError)."""
    error = classify(genai_errors.APIError(code, reason))
    assert (error.cause, error.code, error.retryable) == (cause, code, retryable)
    assert error.message and error.message == str(error)
    assert from_close(code, reason).cause == cause


def test_readable_messages() -> None:
    """The sentences name the cause for a person."""
    assert str(from_close(1008, wire.truncate_reason(wire.model_not_found_reason("models/gemini-x", "v1beta")))) == (
        "model gemini-x is not available for Live on API version v1beta"
    )
    vertex = "Publisher Model `projects/p/locations/l/publishers/google/models/gemini-y` was not found or ..."
    assert str(from_close(1008, vertex)).startswith("model gemini-y is not available for Live on Vertex AI")


@pytest.mark.parametrize(
    ("error", "cause", "retryable"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "unavailable", True),
        (socket.gaierror(-2, "Name or service not known"), "dns", True),
        (TimeoutError(), "timeout", True),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "tls_untrusted", False),
        (OSError(101, "Network is unreachable"), "network", True),
        (websockets.ConnectionClosedError(None, None), "dropped", True),
        (ValueError("odd"), "unexpected", False),
    ],
)
def test_local_failures(error: BaseException, cause: str, retryable: bool) -> None:
    """Network, TLS and other failures on this side of the wire."""
    classified = classify(error)
    assert (classified.cause, classified.retryable) == (cause, retryable)


def test_live_error_passes_through() -> None:
    """A LiveError is already classified."""
    error = LiveError("quota", "the Gemini quota is exhausted", code=429, retryable=True)
    assert classify(error) is error

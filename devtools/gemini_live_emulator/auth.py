"""Who may call the emulator: Developer API keys, Vertex OAuth2 access tokens and ephemeral tokens.

Credentials are checked by the same rules as the real service, and failures carry its reason texts
(see :mod:`.wire`). The store lives as long as the emulator process.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import wire

Backend = Literal["mldev", "vertex"]

ACCESS_TOKEN_LIFETIME_S = 3600.0
EPHEMERAL_EXPIRE_DEFAULT_S = 30 * 60.0
EPHEMERAL_NEW_SESSION_DEFAULT_S = 60.0


class AuthError(Exception):
    """A refused credential: the close code (WebSocket) or HTTP status (REST) and the real reason text."""

    def __init__(self, close_code: int, http_status: int, reason: str, error_reason: str | None = None) -> None:
        super().__init__(reason)
        self.close_code = close_code
        self.http_status = http_status
        self.reason = reason
        self.error_reason = error_reason


@dataclass
class EphemeralToken:
    """An ``auth_tokens/...`` token minted through the v1alpha ``auth_tokens`` endpoint."""

    name: str
    uses: int  # 0 = unlimited
    expire_time: float
    new_session_expire_time: float
    setup: Mapping[str, Any] | None  # liveConnectConstraints as a canonical setup dict
    field_mask: tuple[str, ...] | None  # None: the whole setup is locked when constraints exist
    sessions_started: int = 0


@dataclass
class Caller:
    """An authenticated caller of one request or connection."""

    kind: Literal["api_key", "oauth", "ephemeral"]
    credential_valid: bool = True  # a bad Developer API key is refused only after setup, as the service does
    ephemeral: EphemeralToken | None = None


@dataclass
class CredentialStore:
    """The credentials the emulator accepts."""

    api_keys: set[str] = field(default_factory=set)
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic-free wall time)
    ephemeral_tokens: dict[str, EphemeralToken] = field(default_factory=dict)

    def new_api_key(self) -> str:
        """Mint and accept a new Developer API key (same shape as Google's: ``AIza`` + 35 characters)."""
        key = "AIza" + secrets.token_urlsafe(27)[:35]
        self.api_keys.add(key)
        return key

    def issue_access_token(self, lifetime: float = ACCESS_TOKEN_LIFETIME_S) -> str:
        """Mint an OAuth2 access token (as the token endpoint does for a service account)."""
        token = "ya29.emulator-" + secrets.token_urlsafe(48)
        self.access_tokens[token] = time.time() + lifetime
        return token

    def issue_ephemeral_token(
        self,
        *,
        uses: int = 1,
        expire_time: float | None = None,
        new_session_expire_time: float | None = None,
        setup: Mapping[str, Any] | None = None,
        field_mask: tuple[str, ...] | None = None,
    ) -> EphemeralToken:
        """Mint an ephemeral token with the service's defaults (30 min, new sessions within 60 s, one use)."""
        now = time.time()
        token = EphemeralToken(
            name="auth_tokens/" + secrets.token_hex(32),
            uses=uses,
            expire_time=expire_time if expire_time is not None else now + EPHEMERAL_EXPIRE_DEFAULT_S,
            new_session_expire_time=(
                new_session_expire_time
                if new_session_expire_time is not None
                else now + EPHEMERAL_NEW_SESSION_DEFAULT_S
            ),
            setup=setup,
            field_mask=field_mask,
        )
        self.ephemeral_tokens[token.name] = token
        return token

    def access_token_valid(self, token: str) -> bool:
        """Whether a Bearer token was issued here and has not expired."""
        expiry = self.access_tokens.get(token)
        return expiry is not None and expiry > time.time()

    def authorize_developer(self, api_key: str | None) -> Caller:
        """A Developer API key call. An unknown key is let through the upgrade and refused after setup."""
        if not api_key:
            raise AuthError(wire.CLOSE_POLICY, 403, wire.REASON_NO_CREDENTIALS, "CONSUMER_INVALID")
        return Caller("api_key", credential_valid=api_key in self.api_keys)

    def authorize_vertex(self, bearer: str | None, api_key: str | None) -> Caller:
        """A Vertex AI call: OAuth2 only; an API key gets the service's 1008/401 text."""
        if bearer is None:
            if api_key:
                raise AuthError(wire.CLOSE_POLICY, 401, wire.REASON_API_KEY_ON_VERTEX, "CREDENTIALS_MISSING")
            raise AuthError(wire.CLOSE_POLICY, 401, wire.REASON_MISSING_OAUTH, "CREDENTIALS_MISSING")
        if not self.access_token_valid(bearer):
            raise AuthError(wire.CLOSE_POLICY, 401, wire.REASON_INVALID_OAUTH, "ACCESS_TOKEN_TYPE_UNSUPPORTED")
        return Caller("oauth")

    def authorize_ephemeral(self, name: str | None, *, resuming: bool) -> Caller:
        """An ephemeral-token connection. Resuming a session does not count as a use."""
        token = self.ephemeral_tokens.get(name or "")
        now = time.time()
        if token is None or token.expire_time <= now:
            raise AuthError(wire.CLOSE_POLICY, 401, wire.REASON_TOKEN_INVALID, "ACCESS_TOKEN_EXPIRED")
        if not resuming:
            if token.new_session_expire_time <= now or (token.uses and token.sessions_started >= token.uses):
                raise AuthError(wire.CLOSE_POLICY, 401, wire.REASON_TOKEN_INVALID, "ACCESS_TOKEN_EXPIRED")
            token.sessions_started += 1
        return Caller("ephemeral", ephemeral=token)


def bearer_from_header(value: str | None, scheme: str) -> str | None:
    """The credential of an ``Authorization: <scheme> <credential>`` header, or None."""
    if not value:
        return None
    given, _, credential = value.partition(" ")
    if given.lower() != scheme.lower() or not credential.strip():
        return None
    return credential.strip()

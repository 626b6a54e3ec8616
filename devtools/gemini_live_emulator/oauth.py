"""Google's OAuth2 token endpoint for service accounts, as the emulator's own authorization server.

The emulator has a service account (an RSA key and the JSON key file Google would hand out, with
``token_uri`` pointing here), kept in its state directory. google-auth signs a JWT assertion with that
key and trades it at ``POST /token`` (``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``) for an
access token, exactly as it does against ``https://oauth2.googleapis.com/token``; the token is then
accepted as ``Authorization: Bearer`` by the Vertex AI endpoints. Errors carry Google's OAuth error
bodies.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from google.auth import exceptions as auth_exceptions
from google.auth import jwt

from .state import write_private

if TYPE_CHECKING:
    from .auth import CredentialStore

_LOGGER = logging.getLogger(__name__)

JWT_BEARER_GRANT: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth always puts Google's endpoint in the assertion's audience, whatever token_uri says.
GOOGLE_TOKEN_ENDPOINT: Final = "https://oauth2.googleapis.com/token"
TOKEN_PATH: Final = "/token"
SERVICE_ACCOUNT_FILE: Final = "service-account.json"
_KEY_FILE_FIELDS: Final = ("project_id", "private_key_id", "private_key", "client_email", "token_uri")
DEFAULT_PROJECT: Final = "gemini-live-emulator"
ACCESS_TOKEN_EXPIRES_IN: Final = 3599  # what Google answers for a one-hour token
MAX_ASSERTION_LIFETIME_S: Final = 3600
CLOCK_SKEW_S: Final = 300

INVALID_SIGNATURE: Final = "Invalid JWT Signature."
INVALID_TIMEFRAME: Final = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
    "Check your iat and exp values in the JWT claim."
)
ACCOUNT_NOT_FOUND: Final = "Invalid grant: account not found"
INVALID_SCOPE: Final = "Invalid OAuth scope or ID token audience provided."


@dataclass(frozen=True)
class ServiceAccount:
    """The emulator's service account: where its key file is and what verifies its signatures."""

    file: Path
    project_id: str
    client_email: str
    private_key_id: str
    public_key_pem: str
    token_uri: str


def create_service_account(directory: Path, token_uri: str, project_id: str = DEFAULT_PROJECT) -> ServiceAccount:
    """The service account whose JSON key file is in ``directory``: an earlier run's, or a new one.

    An earlier run's key file is kept (same key, same ids), with ``token_uri`` brought up to date when
    the emulator now serves on another address.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SERVICE_ACCOUNT_FILE
    info = _read_key_file(path)
    if info is None:
        info = _new_key_file(project_id)
    elif info["token_uri"] == token_uri:
        return _service_account(path, info)
    info["token_uri"] = token_uri
    write_private(path, (json.dumps(info, indent=2) + "\n").encode())
    return _service_account(path, info)


def _new_key_file(project_id: str) -> dict[str, str]:
    """The content of a new key file, as Google hands one out (``token_uri`` is filled in by the caller)."""
    private_pem = (
        _signing_key()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    client_email = f"gemini-live-emulator@{project_id}.iam.gserviceaccount.com"
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": private_pem,
        "client_email": client_email,
        "client_id": str(secrets.randbelow(10**21 - 10**20) + 10**20),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{client_email}",
        "universe_domain": "googleapis.com",
    }


def _read_key_file(path: Path) -> dict[str, str] | None:
    """An earlier run's key file, or None when there is none (or it is not one the emulator can use)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        _LOGGER.warning("%s is not JSON; making a new service account", path)
        return None
    if (
        not isinstance(info, dict)
        or info.get("type") != "service_account"
        or not all(isinstance(info.get(key), str) for key in _KEY_FILE_FIELDS)
        or not isinstance(_private_key(info), rsa.RSAPrivateKey)
    ):
        _LOGGER.warning("%s is not a usable service-account key file; making a new one", path)
        return None
    return info


def _private_key(info: Mapping[str, Any]) -> PrivateKeyTypes | None:
    try:
        return serialization.load_pem_private_key(str(info["private_key"]).encode(), password=None)
    except ValueError, TypeError:
        return None


def _service_account(path: Path, info: Mapping[str, str]) -> ServiceAccount:
    public_pem = (
        serialization.load_pem_private_key(info["private_key"].encode(), password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return ServiceAccount(
        path, info["project_id"], info["client_email"], info["private_key_id"], public_pem, info["token_uri"]
    )


@functools.cache
def _signing_key() -> rsa.RSAPrivateKey:
    """The RSA key of the process's new service accounts (made once: 2048-bit generation takes about 0.1 s)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class GrantError(Exception):
    """A refused token request: the OAuth ``error`` code, its description and the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def verify_assertion(assertion: str, account: ServiceAccount, audiences: list[str], now: float) -> Mapping[str, Any]:
    """The claims of a JWT-bearer assertion signed by ``account``'s key (:class:`GrantError` otherwise)."""
    try:
        # Signature first, with google-auth; the time window is checked below to answer with Google's texts.
        claims: Mapping[str, Any] = jwt.decode(  # type: ignore[no-untyped-call]
            assertion,
            certs={account.private_key_id: account.public_key_pem},
            verify=True,
            clock_skew_in_seconds=10**9,
        )
    except auth_exceptions.MalformedError as err:
        if "segments" in str(err) or "JSON" in str(err):
            raise GrantError("invalid_grant", "Bad Request") from err
        raise GrantError("invalid_grant", INVALID_SIGNATURE) from err
    except (auth_exceptions.InvalidValue, ValueError) as err:
        raise GrantError("invalid_grant", INVALID_SIGNATURE) from err
    if claims.get("iss") != account.client_email:
        raise GrantError("invalid_grant", ACCOUNT_NOT_FOUND)
    if claims.get("aud") not in audiences:
        raise GrantError(
            "invalid_grant",
            f"Invalid JWT: Failed audience check. The right audience is {GOOGLE_TOKEN_ENDPOINT}",
        )
    issued, expires = claims.get("iat"), claims.get("exp")
    if (
        not isinstance(issued, int | float)
        or not isinstance(expires, int | float)
        or issued > now + CLOCK_SKEW_S
        or expires < now - CLOCK_SKEW_S
        or expires - issued > MAX_ASSERTION_LIFETIME_S
    ):
        raise GrantError("invalid_grant", INVALID_TIMEFRAME)
    if not str(claims.get("scope", "")).strip():
        raise GrantError("invalid_scope", INVALID_SCOPE)
    return claims


def token_audiences(request: web.Request, account: ServiceAccount) -> list[str]:
    """The ``aud`` values an assertion may carry: Google's endpoint, the key file's, or this request's URL."""
    return [GOOGLE_TOKEN_ENDPOINT, account.token_uri, f"https://{request.host}{TOKEN_PATH}"]


async def handle_token(request: web.Request, account: ServiceAccount, credentials: CredentialStore) -> web.Response:
    """``POST /token``: trade a service account's signed JWT for an access token."""
    form = await request.post()
    grant_type = form.get("grant_type")
    if grant_type != JWT_BEARER_GRANT:
        given = grant_type if isinstance(grant_type, str) else ""
        return _oauth_error(GrantError("unsupported_grant_type", f"Invalid grant_type: {given}"))
    assertion = form.get("assertion")
    if not isinstance(assertion, str) or not assertion:
        return _oauth_error(GrantError("invalid_request", "Missing required parameter: assertion"))
    try:
        verify_assertion(assertion, account, token_audiences(request, account), time.time())
    except GrantError as err:
        return _oauth_error(err)
    token = credentials.issue_access_token(lifetime=ACCESS_TOKEN_EXPIRES_IN + 1)
    return web.json_response(
        {"access_token": token, "expires_in": ACCESS_TOKEN_EXPIRES_IN, "token_type": "Bearer"},
        dumps=_pretty,
        headers={"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"},
    )


def _oauth_error(err: GrantError) -> web.Response:
    return web.json_response(
        {"error": err.error, "error_description": err.description}, status=err.status, dumps=_pretty
    )


def _pretty(data: Any) -> str:
    return json.dumps(data, indent=2)

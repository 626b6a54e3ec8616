"""Credentials for the Live engine: Developer API key, Vertex AI through google-auth, ephemeral tokens."""

from __future__ import annotations

import asyncio
import datetime
import logging
import threading

import pytest
from gemini_live_emulator import Emulator
from google.oauth2 import service_account

from gemini_live_engine import (
    ApiKeyCredentials,
    Credentials,
    EphemeralTokenCredentials,
    LiveError,
    LiveOptions,
    LiveSession,
    VertexCredentials,
)

from .live_helpers import collect, options_for, reply_text


async def hello(credentials: Credentials, options: LiveOptions) -> str:
    """Open a session, say hello in text, return the spoken reply's transcript."""
    session = LiveSession(credentials, options, label="test")
    await session.open()
    try:
        await session.send_text("Hello there")
        return reply_text(await collect(session))
    finally:
        await session.close()


async def test_api_key(emulator: Emulator) -> None:
    """A Developer API key: the key header on the Developer endpoint."""
    credentials = ApiKeyCredentials(emulator.api_key)
    assert await hello(credentials, options_for(emulator)) == "You said: Hello there"
    record = emulator.connections[0]
    assert (record.backend, record.auth_kind) == ("mldev", "api_key")
    assert emulator.api_key not in repr(credentials) + credentials.describe()


async def test_callers_at_the_same_moment_share_one_client(emulator: Emulator) -> None:
    """The warm standby and a fallback asking at once get the same client, so closing the credentials closes
    every client handed out (a second one would keep its connection pool and its cleanup timer)."""
    credentials = ApiKeyCredentials(emulator.api_key)
    options = options_for(emulator)
    try:
        first, second = await asyncio.gather(credentials.client(options), credentials.client(options))
        assert first is second
    finally:
        await credentials.aclose()


async def test_vertex_service_account(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Vertex AI: google-auth trades the service account's JWT at the emulator's /token, off the event loop;
    the token is reused while valid and refreshed once it is not; the quota project goes along."""
    refreshed_in: list[threading.Thread] = []
    original = service_account.Credentials.refresh

    def spy(self: service_account.Credentials, request: object) -> None:
        refreshed_in.append(threading.current_thread())
        original(self, request)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(service_account.Credentials, "refresh", spy)
    caplog.set_level(logging.DEBUG, logger="websockets.client")
    credentials = VertexCredentials(
        "demo-project",
        "us-central1",
        service_account_file=emulator.service_account_file,
        quota_project="billing-project",
    )
    options = options_for(emulator)

    assert await hello(credentials, options) == "You said: Hello there"
    assert await hello(credentials, options) == "You said: Hello there"
    assert len(refreshed_in) == 1, "a valid token is reused"
    assert len(emulator.credentials.access_tokens) == 1

    google_credentials = await credentials.fresh_credentials(options.ca_file)
    first_token = google_credentials.token
    google_credentials.expiry = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)  # about to expire
    assert await hello(credentials, options) == "You said: Hello there"
    assert len(refreshed_in) == 2 and google_credentials.token != first_token
    assert all(thread is not threading.main_thread() for thread in refreshed_in)

    assert [(r.backend, r.auth_kind) for r in emulator.connections] == [("vertex", "oauth")] * 3
    setup = emulator.connections[0].setup
    assert setup is not None
    assert setup["model"] == "projects/demo-project/locations/us-central1/publishers/google/models/gemini-3.8-live"
    header_lines = [r.getMessage() for r in caplog.records if r.name == "websockets.client"]
    assert "> x-goog-user-project: billing-project" in header_lines
    assert "> Authorization: <redacted>" in header_lines
    assert first_token not in caplog.text and google_credentials.token not in caplog.text


async def test_vertex_application_default_credentials(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """No file given: google.auth.default() finds the credentials (here through GOOGLE_APPLICATION_CREDENTIALS)."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", emulator.service_account_file)
    credentials = VertexCredentials("demo-project", "us-central1")
    assert "application default credentials" in credentials.describe()
    assert await hello(credentials, options_for(emulator)) == "You said: Hello there"
    assert (emulator.connections[0].backend, emulator.connections[0].auth_kind) == ("vertex", "oauth")


async def test_vertex_bad_service_account_file(emulator: Emulator) -> None:
    """A service account file that cannot be read is named, and not retried."""
    credentials = VertexCredentials("demo-project", "us-central1", service_account_file="/nonexistent/sa.json")
    session = LiveSession(credentials, options_for(emulator))
    with pytest.raises(LiveError) as raised:
        await session.open()
    assert raised.value.cause == "auth_bad_service_account"
    assert "/nonexistent/sa.json" in str(raised.value) and "No such file" in str(raised.value)
    assert emulator.connections == []


@pytest.mark.filterwarnings("ignore::google.genai.errors.ExperimentalWarning")
async def test_ephemeral_token(emulator: Emulator) -> None:
    """A token handed in from outside: the constrained v1alpha endpoint; the provider is asked per connection."""
    minted: list[str] = []

    async def provider() -> str:
        token = emulator.credentials.issue_ephemeral_token(uses=1).name
        minted.append(token)
        return token

    credentials = EphemeralTokenCredentials(provider)
    assert await hello(credentials, options_for(emulator)) == "You said: Hello there"
    assert await hello(credentials, options_for(emulator)) == "You said: Hello there"
    assert len(minted) == 2
    for record in emulator.connections:
        assert record.path.endswith("v1alpha.GenerativeService.BidiGenerateContentConstrained")
        assert record.auth_kind == "ephemeral"
    assert all(token not in repr(credentials) + credentials.describe() for token in minted)

"""Secrets never reach the logs: API keys, OAuth2 access tokens, ephemeral tokens, service-account keys."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from gemini_live_emulator import Emulator

from gemini_live_engine import (
    ApiKeyCredentials,
    Credentials,
    EphemeralTokenCredentials,
    LiveError,
    LiveSession,
    VertexCredentials,
)

from .live_helpers import collect, options_for

BAD_KEY = "AIzaSyBadKeyThatMustNotBeLogged0123456"


async def use(credentials: Credentials, emulator: Emulator) -> None:
    """Open a session, run a typed turn, close."""
    session = LiveSession(credentials, options_for(emulator), label="secret-test")
    await session.open()
    try:
        await session.send_text("Hello there")
        await collect(session)
    finally:
        await session.close()


@pytest.mark.filterwarnings("ignore::google.genai.errors.ExperimentalWarning")
async def test_secrets_never_logged(emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    """Every logger at DEBUG (the engine, the SDK, websockets' handshake headers): no secret in any line."""
    caplog.set_level(logging.DEBUG)
    tokens: list[str] = []

    async def provider() -> str:
        tokens.append(emulator.credentials.issue_ephemeral_token().name)
        return tokens[-1]

    await use(ApiKeyCredentials(emulator.api_key), emulator)
    await use(VertexCredentials("demo-project", "us-central1", emulator.service_account_file), emulator)
    await use(EphemeralTokenCredentials(provider), emulator)
    bad = LiveSession(ApiKeyCredentials(BAD_KEY), options_for(emulator), label="secret-test")
    with pytest.raises(LiveError) as raised:
        await bad.open()

    account = json.loads(await asyncio.to_thread(Path(emulator.service_account_file).read_text))
    key_lines = [line for line in account["private_key"].splitlines() if line and "PRIVATE KEY" not in line]
    secrets = [emulator.api_key, BAD_KEY, *tokens, *emulator.credentials.access_tokens, *key_lines]
    assert len(emulator.credentials.access_tokens) == 1 and len(tokens) == 1
    logged = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    # The handshake headers were logged (with their values blanked), so this test looks where secrets would be.
    assert "> x-goog-api-key: <redacted>" in logged and "> Authorization: <redacted>" in logged
    assert "[secret-test] Connecting to Gemini Live" in logged
    for secret in secrets:
        assert secret not in logged
        assert secret not in str(raised.value)

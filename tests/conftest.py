"""Fixtures shared by every test: real sockets on loopback, the emulator, SDK clients aimed at it."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import pytest
from gemini_live_emulator import Emulator, EmulatorConfig, Scenario
from google import genai
from google.genai import types
from google.oauth2.credentials import Credentials

import custom_components.gemini_live  # noqa: F401 - before the hass fixture puts its own custom_components first


@pytest.fixture(autouse=True)
def _real_sockets(socket_enabled: None) -> None:
    """Tests talk to real peers over loopback (Home Assistant's plugin blocks sockets by default)."""


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """Fast but faithful defaults for tests; a test may change them before the emulator starts."""
    return EmulatorConfig(generation_speed=0.0, resumption_update_interval_s=0.0)


@pytest.fixture
def scenario() -> Scenario:
    """No script unless a test provides one."""
    return Scenario()


@pytest.fixture
async def emulator(emulator_config: EmulatorConfig, scenario: Scenario) -> AsyncIterator[Emulator]:
    """A running emulator on a free loopback port."""
    async with Emulator(emulator_config, scenario) as running:
        yield running


def emulator_ssl_context(emulator: Emulator) -> ssl.SSLContext:
    """Trust the emulator's CA, and nothing else."""
    return ssl.create_default_context(cafile=emulator.ca_file)


def developer_client(emulator: Emulator, api_key: str | None = None, api_version: str | None = None) -> genai.Client:
    """The real SDK, Developer API mode, aimed at the emulator."""
    return genai.Client(
        api_key=api_key or emulator.api_key,
        http_options=types.HttpOptions(
            base_url=emulator.base_url,
            api_version=api_version,
            client_args={"verify": emulator_ssl_context(emulator)},
            async_client_args={"ssl": emulator_ssl_context(emulator)},
        ),
    )


def vertex_client(emulator: Emulator, token: str | None = None) -> genai.Client:
    """The real SDK, Vertex AI mode (OAuth2 bearer token), aimed at the emulator."""
    return genai.Client(
        vertexai=True,
        project="demo-project",
        location="us-central1",
        credentials=Credentials(token=token or emulator.credentials.issue_access_token()),
        http_options=types.HttpOptions(
            base_url=emulator.base_url + "/",
            client_args={"verify": emulator_ssl_context(emulator)},
            async_client_args={"ssl": emulator_ssl_context(emulator)},
        ),
    )

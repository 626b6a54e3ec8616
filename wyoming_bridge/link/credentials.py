"""Gemini credentials from Home Assistant: what a linked bridge without a key of its own connects with.

With a Gemini Developer API account, Home Assistant hands out single-use ephemeral tokens; with Vertex AI,
its current OAuth2 access token (docs/link-protocol.md). :class:`LinkedCredentials` is an engine
:class:`~gemini_live_engine.credentials.Credentials` that takes whichever Home Assistant sends, through the
engine's own token-carrying credentials, so the bridge never holds a long-lived secret.
"""

from __future__ import annotations

from google import genai

from gemini_live_engine.credentials import AccessTokenCredentials, Credentials, EphemeralTokenCredentials
from gemini_live_engine.options import LiveOptions

from .home import HomeLink


class LinkedCredentials:
    """Credentials handed out by the linked Home Assistant (see the module docstring)."""

    def __init__(self, home: HomeLink) -> None:
        self._home = home
        self._ephemeral = EphemeralTokenCredentials(home.ephemeral_token)
        self._vertex = AccessTokenCredentials(home.access_token)

    async def client(self, options: LiveOptions) -> genai.Client:
        """A client with credentials from Home Assistant that may open a new connection now."""
        chosen: Credentials = self._vertex if await self._home.wait_credentials_kind() == "vertex" else self._ephemeral
        return await chosen.client(options)

    def describe(self) -> str:
        """For logs."""
        kind = self._home.credentials_kind
        return f"credentials from Home Assistant ({kind or 'not received yet'})"

    async def aclose(self) -> None:
        """Close the clients handed out."""
        await self._ephemeral.aclose()
        await self._vertex.aclose()

    def __repr__(self) -> str:
        return "LinkedCredentials(<redacted>)"

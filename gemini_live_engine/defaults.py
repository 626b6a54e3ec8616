"""The engine's defaults, in one place: the options, the sessions and every front end read them here."""

from __future__ import annotations

from typing import Final

MODEL: Final = "gemini-3.8-live"
"""The Live model (native audio)."""

VOICE: Final = "Puck"
"""Gemini's prebuilt voice."""

TEXT_MODEL: Final = "gemini-3.1-flash-lite"
"""The cascaded path's text model (answers and tool calls)."""

TTS_MODEL: Final = "gemini-3.1-flash-tts-preview"
"""The cascaded path's speech model."""

SYSTEM_PROMPT: Final = (
    "You are a friendly voice assistant for a home. Answer briefly, in the language the user speaks. "
    "Use the tools to control the home and to look things up; never claim to have done something a tool "
    "did not confirm. When the user is done, call end_conversation."
)
"""Instructions for the model when none are given."""

IDLE_CLOSE_S: Final = 600.0
"""A warm session (a satellite's standby, a console's conversation) is closed after this long without a turn."""

TOOL_TIMEOUT_S: Final = 10.0
"""How long one tool call may take before the model is told it timed out."""

END_OF_SPEECH_MS: Final = 400
"""Quiet after the user's speech that ends the utterance on the client (``audioStreamEnd`` at once); 0 leaves the end
to the service's own silence window. Chosen by measurement: see ``benchmarks/end_of_speech_pauses.py``."""

"""Tests of the Gemini Live emulator."""

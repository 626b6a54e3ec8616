"""Tests of the Gemini Live Home Assistant integration."""

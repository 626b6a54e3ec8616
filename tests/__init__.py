"""Tests for Gemini Live for Home Assistant."""

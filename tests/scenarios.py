"""Emulator scripts shared by several test modules."""

from __future__ import annotations

from gemini_live_emulator import Scenario

TIME_SCENARIO = Scenario.from_data(
    {
        "turns": [
            {
                "user": "What time is it?",
                "model": [
                    {"call": {"name": "get_current_time"}},
                    {"say": "It is {result[output][time]} on {result[output][weekday]}."},
                ],
            }
        ]
    }
)
"""A spoken question that needs the built-in ``get_current_time`` tool; the answer starts with "It is "."""

"""One satellite as the link shows it to Home Assistant: its list entry, state, turns, and what it is asked.

:class:`LinkedSatellite` joins a satellite's turn controller (it observes its turns) and the
:class:`~.home.HomeLink` (it is the satellite's :class:`~.home.SatellitePort`), so neither knows the other.
"""

from __future__ import annotations

from gemini_live_engine.options import LiveOptions

from ..satellites.turn import SpokenAnnouncement, State, TurnController, TurnLog, turn_summary
from .home import Announcement, HomeLink, SatelliteSummary
from .tools import HeardSpeech, HomeTools

_STATES = {
    State.IDLE: "idle",
    State.STARTING: "listening",
    State.LISTENING: "listening",
    State.FOLLOW_UP: "listening",
    State.RESPONDING: "responding",
    State.ENDING: "responding",  # "idle" only once the satellite takes an announcement again
}


class LinkedSatellite:
    """A satellite the bridge controls, linked to Home Assistant (see the module docstring)."""

    def __init__(self, home: HomeLink, sat_id: str, base_options: LiveOptions) -> None:
        self.id = sat_id
        self._home = home
        self._base_options = base_options
        self.speech = HeardSpeech()
        self.tools = HomeTools(home, sat_id, self.speech)
        self.controller: TurnController | None = None
        self._name = sat_id
        self._connected = False
        self._streams = False
        self._failed = False

    def options(self) -> LiveOptions:
        """The satellite's session options: the bridge's, with what Home Assistant configured."""
        return self._home.options_for(self.id, self._base_options)

    # ------------------------------------------------------------------ for Home Assistant (port)

    def summary(self) -> SatelliteSummary:
        """How the satellite is listed."""
        return SatelliteSummary(self.id, self._name, "bridge" if self._streams else "satellite", self._connected)

    async def announce(self, announcement: Announcement) -> None:
        """Play Home Assistant's announcement on the satellite."""
        if self.controller is None or not self._connected:
            raise ConnectionError("the satellite is not connected")
        await self.controller.announce(
            SpokenAnnouncement(
                text=announcement.text,
                audio_format=announcement.audio_format,
                audio=announcement.audio if announcement.audio_format is not None else None,
                listen=announcement.listen,
                prompt=announcement.prompt,
            )
        )

    def set_muted(self, muted: bool) -> None:
        """The mute switch."""
        if self.controller is not None:
            self.controller.set_muted(muted)

    def reconfigure(self) -> None:
        """Home Assistant changed the options or tools."""
        if self.controller is not None:
            self.controller.reconfigure(self.options())

    # ------------------------------------------------------------------ from the satellite (observer)

    def satellite_changed(self, name: str, connected: bool, streams: bool) -> None:
        """Connected, disconnected, renamed, or found to stream its microphone."""
        self._name, self._connected, self._streams = name, connected, streams
        self._home.satellites_changed()
        muted = self.controller.muted if self.controller is not None else False
        self._home.state_changed(self.id, "idle" if connected else "offline", muted)

    def state_changed(self, state: State, muted: bool) -> None:
        """The turn's state, as the sensor shows it (after a failed turn: ``error`` until the next one)."""
        log = self.controller.log if self.controller is not None else None
        if state == State.ENDING and log is not None and log.error is not None:
            self._failed = True
        shown = "error" if self._failed and state in (State.ENDING, State.IDLE) else _STATES[state]
        self._home.state_changed(self.id, shown if self._connected else "offline", muted)

    def turn_started(self, log: TurnLog) -> None:
        """A turn began: tool calls from now on carry its id."""
        self._failed = False
        self.tools.turn = str(log.turn_id)

    def heard(self, text: str) -> None:
        """What the user says (for spoken confirmations)."""
        self.speech.heard(text)

    def turn_over(self, log: TurnLog) -> None:
        """The turn's summary, for Home Assistant's log."""
        summary = turn_summary(log)
        self._home.turn_over(
            self.id,
            {
                "turn": str(log.turn_id),
                "user": summary["user"],
                "reply": summary["reply"],
                "tools": summary["tools"],
                "error": summary["error"],
            },
        )

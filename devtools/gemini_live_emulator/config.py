"""The emulator's settings: timing, limits and injected faults."""

from __future__ import annotations

from dataclasses import dataclass, field

# Live models the emulator serves over BidiGenerateContent, per backend (model id without "models/").
LIVE_MODELS_DEVELOPER: tuple[str, ...] = (
    "gemini-3.8-live",
    "gemini-3.8-live-extended-thinking",
    "gemini-3.1-flash-live-preview",
    "gemini-2.5-flash-native-audio-preview-12-2025",
    "gemini-2.5-flash-native-audio-preview-09-2025",
)
LIVE_MODELS_VERTEX: tuple[str, ...] = ("gemini-live-2.5-flash-native-audio", "gemini-3.8-live")
# Models served over REST generateContent (text, and speech for the TTS models).
TEXT_MODELS: tuple[str, ...] = (
    "gemini-3.1-flash-lite",
    "gemini-3-flash",
    "gemini-3.1-pro",
    "gemini-2.5-flash",
)
TTS_MODELS: tuple[str, ...] = ("gemini-3.1-flash-tts-preview", "gemini-2.5-flash-preview-tts")
# Models that draw: they answer with text and an image (``responseModalities`` TEXT and IMAGE).
IMAGE_MODELS: tuple[str, ...] = ("gemini-2.5-flash-image",)


@dataclass
class Faults:
    """Faults injected by option (scenario steps inject their own per turn)."""

    reject_connects: int = 0  # answer the next N WebSocket upgrades with HTTP 429
    reject_rest: int = 0  # answer the next N REST calls with 429 RESOURCE_EXHAUSTED
    retry_delay_s: float = 30.0  # RetryInfo.retryDelay of a 429 (the real service: tens of seconds)
    quota_after_setup: int = 0  # close the next N Live connections with 1011 (quota) right after setupComplete
    setup_delay_ms: int = 0  # hold setupComplete back (a slow backend)
    first_audio_delay_ms: int = 0  # model latency before the first reply audio of every turn
    go_away_after_s: float | None = None  # connection age at which goAway is sent (the real service: ~540 s)
    go_away_time_left_s: float = 50.0  # goAway.timeLeft; the connection is aborted (1008) when it runs out


@dataclass
class EmulatorConfig:
    """Everything the emulator can be told at start; most of it can also be changed while it runs."""

    host: str = "127.0.0.1"
    port: int = 0
    api_keys: tuple[str, ...] = ()  # accepted Developer API keys; one is minted when empty
    faults: Faults = field(default_factory=Faults)
    generation_speed: float = 4.0  # reply audio is produced this many times faster than real time (0: at once)
    audio_chunk_ms: int = 40  # reply audio per serverContent message
    resumption_update_interval_s: float = 2.0  # sessionResumptionUpdate cadence while idle
    resumption_handle_ttl_s: float = 2 * 3600.0  # how long a handle can be resumed
    max_frame_bytes: int = 16 * 1024 * 1024  # larger client frames are refused with 1009
    setup_timeout_s: float = 30.0  # a connection that sends no setup is closed
    live_models: tuple[str, ...] = LIVE_MODELS_DEVELOPER
    vertex_live_models: tuple[str, ...] = LIVE_MODELS_VERTEX

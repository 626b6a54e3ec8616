"""Everything a Live session is set up with: the model's setup (voice, language, VAD, ...), the endpoint, timing.

:class:`LiveOptions` is plain data. :meth:`LiveOptions.connect_config` turns it into the SDK's
``types.LiveConnectConfig`` for one connection; the engine's own timing (retries, backoff, tool timeout,
goAway margin, replay bound) is read by :mod:`.session`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.genai import types

from . import defaults

INPUT_RATE = 16000  # Hz of the audio the session takes in
INPUT_MIME = f"audio/pcm;rate={INPUT_RATE}"


@dataclass(frozen=True)
class LiveOptions:
    """How to set up and run Live sessions. ``None`` means "the service's (or SDK's) default"."""

    # The model's setup.
    model: str = defaults.MODEL
    voice: str | None = defaults.VOICE
    language: str | None = None  # BCP-47, e.g. "ar-EG"; None: the model picks it from the speech
    system_prompt: str | None = None
    input_transcription: bool = True
    output_transcription: bool = True
    # Voice activity detection (the service's). vad_disabled: the caller marks speech with activity_start/end.
    vad_disabled: bool = False
    start_sensitivity: types.StartSensitivity | None = None
    end_sensitivity: types.EndSensitivity | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    activity_handling: types.ActivityHandling = types.ActivityHandling.START_OF_ACTIVITY_INTERRUPTS
    # Context window compression (sliding window) keeps long sessions going; None: the service's defaults.
    context_compression: bool = True
    compression_trigger_tokens: int | None = None
    compression_target_tokens: int | None = None
    session_resumption: bool = True
    # Endpoint: None is Google's; base_url + ca_file aim the engine at the emulator or another Live endpoint.
    base_url: str | None = None
    ca_file: str | None = None
    api_version: str | None = None
    # The engine's timing.
    connect_timeout_s: float = 10.0  # connect + setupComplete
    max_retries: int = 4  # retries after a retryable failure, before giving up
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    tool_timeout_s: float = defaults.TOOL_TIMEOUT_S
    renew_before_go_away_s: float = 5.0  # reconnect at the latest this long before goAway's timeLeft runs out
    replay_max_s: float = 30.0  # audio kept for replay to a resumed session (older audio is dropped)
    replay_overlap_s: float = 0.5  # audio sent this shortly before a handle arrived is replayed all the same
    # After a refusal that concerns every session on these credentials (see ..budget): the first cooldown, and the
    # longest (doubling per refusal in a row).
    quota_cooldown_s: float = 30.0
    quota_cooldown_max_s: float = 600.0
    auth_cooldown_s: float = 60.0
    auth_cooldown_max_s: float = 1800.0

    def connect_config(
        self, declarations: Sequence[types.FunctionDeclaration] = (), handle: str | None = None
    ) -> types.LiveConnectConfig:
        """The SDK's setup for one connection: these options, the tools, and a resumption handle if resuming."""
        config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
        if self.voice or self.language:
            config.speech_config = types.SpeechConfig(
                voice_config=(
                    types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=self.voice))
                    if self.voice
                    else None
                ),
                language_code=self.language,
            )
        if self.system_prompt:
            config.system_instruction = self.system_prompt
        if self.input_transcription:
            config.input_audio_transcription = types.AudioTranscriptionConfig()
        if self.output_transcription:
            config.output_audio_transcription = types.AudioTranscriptionConfig()
        config.realtime_input_config = types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(
                disabled=self.vad_disabled or None,
                start_of_speech_sensitivity=self.start_sensitivity,
                end_of_speech_sensitivity=self.end_sensitivity,
                prefix_padding_ms=self.prefix_padding_ms,
                silence_duration_ms=self.silence_duration_ms,
            ),
            activity_handling=self.activity_handling,
        )
        if self.context_compression:
            config.context_window_compression = types.ContextWindowCompressionConfig(
                trigger_tokens=self.compression_trigger_tokens,
                sliding_window=types.SlidingWindow(target_tokens=self.compression_target_tokens),
            )
        if self.session_resumption:
            config.session_resumption = types.SessionResumptionConfig(handle=handle)
        if declarations:
            config.tools = [types.Tool(function_declarations=list(declarations))]
        return config

"""The Gemini Live session engine: audio and text in; audio, transcripts and tool calls out.

Free of Home Assistant and Wyoming, built on the google-genai SDK, so the same engine can serve Wyoming
satellites in the bridge and voice devices inside Home Assistant::

    session = LiveSession(ApiKeyCredentials(key), LiveOptions(voice="Kore"), BuiltinTools(), label="kitchen")
    await session.open()
    await session.send_audio(pcm16k)
    async for event in session.events():
        match event:
            case AudioOut(pcm): play(pcm)
            case TurnComplete(): break
    await session.close()
"""

from .credentials import ApiKeyCredentials, Credentials, EphemeralTokenCredentials, VertexCredentials
from .errors import LiveError
from .events import (
    AnswerCut,
    AudioOut,
    GenerationComplete,
    InputTranscript,
    Interrupted,
    Notice,
    OutputTranscript,
    Reconnected,
    SessionError,
    SessionEvent,
    ToolCallFinished,
    ToolCallStarted,
    TurnComplete,
)
from .live.session import LiveSession
from .live.standby import StandbySession
from .options import LiveOptions

__all__ = [
    "AnswerCut",
    "ApiKeyCredentials",
    "AudioOut",
    "Credentials",
    "EphemeralTokenCredentials",
    "GenerationComplete",
    "InputTranscript",
    "Interrupted",
    "LiveError",
    "LiveOptions",
    "LiveSession",
    "Notice",
    "OutputTranscript",
    "Reconnected",
    "SessionError",
    "SessionEvent",
    "StandbySession",
    "ToolCallFinished",
    "ToolCallStarted",
    "TurnComplete",
    "VertexCredentials",
]

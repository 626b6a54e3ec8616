"""The cascaded fallback: a conversation through Gemini text and Gemini speech over REST, when Live cannot be used.

:class:`CascadedSession` takes and gives what :class:`~gemini_live_engine.live.session.LiveSession` does (both are
a :class:`~gemini_live_engine.voice_session.VoiceSession`), so a satellite or the web console can use either::

    session = CascadedSession(ApiKeyCredentials(key), LiveOptions(voice="Kore"), BuiltinTools(), label="kitchen")
    await session.open()
    await session.send_audio(pcm16k)
    async for event in session.events():
        ...
    await session.close()
"""

from .endpointing import Endpointer
from .requests import rest_error
from .session import FALLBACK_NOTICES, CascadedSession, FallbackTelling, fallback_notice, without_isolates

__all__ = [
    "FALLBACK_NOTICES",
    "CascadedSession",
    "Endpointer",
    "FallbackTelling",
    "fallback_notice",
    "rest_error",
    "without_isolates",
]

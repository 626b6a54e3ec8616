"""The link: Home Assistant runs the bridge (docs/link-protocol.md).

``server`` serves the WebSocket on the bridge's endpoint and pairs; ``home`` is Home Assistant as the bridge
sees it (configuration, credentials, tool calls, announcements); ``tools`` are Home Assistant's tools for a
satellite, with the spoken confirmation; ``credentials`` the Gemini credentials Home Assistant hands out.
"""

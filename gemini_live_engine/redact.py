"""Keep credentials out of logs written by the libraries the engine drives.

``websockets`` logs every handshake header at debug level, which includes ``x-goog-api-key`` and
``Authorization`` (API keys, OAuth2 access tokens, ephemeral tokens). A filter on its client logger
replaces those values before any handler sees them.
"""

from __future__ import annotations

import logging
import re
from typing import Final

SENSITIVE_HEADERS: Final = frozenset({"authorization", "x-goog-api-key", "proxy-authorization", "cookie"})
REDACTED: Final = "<redacted>"
_SECRET_QUERY = re.compile(r"(?i)([?&](?:key|access_token)=)[^&\s]+")


class HeaderRedactor(logging.Filter):
    """Blanks credential headers and credential query parameters in ``websockets`` handshake logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments; never drops a record."""
        args = record.args
        if not isinstance(args, tuple) or not args:
            return True
        if record.msg == "> %s: %s" and len(args) == 2 and str(args[0]).lower() in SENSITIVE_HEADERS:
            record.args = (args[0], REDACTED)
        elif isinstance(record.msg, str) and record.msg.startswith("> GET "):
            record.args = tuple(_SECRET_QUERY.sub(rf"\1{REDACTED}", a) if isinstance(a, str) else a for a in args)
        return True


_INSTALLED: list[HeaderRedactor] = []


def install() -> None:
    """Add the filter to the ``websockets`` client logger (once per process)."""
    if _INSTALLED:
        return
    redactor = HeaderRedactor()
    logging.getLogger("websockets.client").addFilter(redactor)
    _INSTALLED.append(redactor)

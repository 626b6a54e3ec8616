"""The web voice console: a browser as one more satellite (docs/web-console.md)."""

from .console import ConsoleContext
from .server import ConsoleServer

__all__ = ["ConsoleContext", "ConsoleServer"]

"""Moderator commands (issue 4): STUB, being written."""

from __future__ import annotations

from handlers.telegram_context import TelegramApp


def add_handlers(app: TelegramApp) -> None:
    """Register this module's handlers; called before the private-post handler."""

"""Exceptions of the knowledge base; each carries a message safe to show a user."""


class KbError(Exception):
    """Base of the errors the edges turn into user messages."""


class BadImportFile(KbError):
    """An import file is malformed; nothing was imported."""


class UnknownEntry(KbError):
    def __init__(self, entry_id: str) -> None:
        super().__init__(f"no entry with id {entry_id!r}")
        self.entry_id = entry_id

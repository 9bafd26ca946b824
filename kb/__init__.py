"""Knowledge base: entries, storage, matching, import/export. Knows nothing of Telegram or X."""

from kb.errors import BadImportFile, KbError, UnknownEntry
from kb.interchange import EntryIn
from kb.matcher import Candidate, Decision, MatchResult
from kb.service import CheckOutcome, KnowledgeBase

__all__ = [
    "BadImportFile",
    "Candidate",
    "CheckOutcome",
    "Decision",
    "EntryIn",
    "KbError",
    "KnowledgeBase",
    "MatchResult",
    "UnknownEntry",
]

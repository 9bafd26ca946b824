"""Handing freed memory back to the operating system.

glibc keeps what a process frees for its own later use; only memory at the very top of the
heap goes back by itself. Building the model's graphs or the KB's index frees tens of
megabytes of scratch (copies of the weights, n-gram hashes, a previous index) in the middle
of the heap, where it would stay resident for the life of the bot.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)


def give_back_freed_memory() -> None:
    """Return the heap's free pages (glibc's malloc_trim): a few ms, once after a build."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # another C library: the memory is only held
        log.debug("malloc_trim unavailable: freed memory stays with the process")

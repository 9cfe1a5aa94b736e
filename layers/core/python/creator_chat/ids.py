"""Identifiers: time-sortable for messages, random elsewhere, hashes for content."""

from __future__ import annotations

import hashlib
import secrets
import threading

_lock = threading.Lock()
_last_us = 0


def sortable_id(now: float) -> str:
    """An id that sorts by creation time, strictly increasing within this process.

    Messages are stored under ``MSG#<id>``, so the sort key order is the thread order even
    when a question and its (cached) answer are written in the same microsecond.
    """
    global _last_us
    with _lock:
        us = max(int(now * 1_000_000), _last_us + 1)
        _last_us = us
    return f"{us:014x}{secrets.token_hex(4)}"


def random_id(prefix: str = "") -> str:
    return f"{prefix}{secrets.token_hex(8)}"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

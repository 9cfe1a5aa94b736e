"""An in-process TTL + LRU cache: the ``Cache`` of the embedded local default.

Built on ``cachetools.TLRUCache``, whose "time to use" function gives every item its own
expiry (the TTL passed to ``set``), evicts the least recently used item when full and
drops expired items lazily. ``TLRUCache`` is not thread-safe, so every access is under a
lock. Time comes from the injected ``Clock``; tests move a ``FixedClock``.
"""

from __future__ import annotations

import threading

from cachetools import TLRUCache

from creator_chat.clock import SystemClock
from creator_chat.ports import Clock

__all__ = ["MemoryCache"]

# Each entry stores its own absolute expiry next to the value; ``_ttu`` hands it back.
_Entry = tuple[bytes, float]


def _ttu(_key: str, entry: _Entry, _now: float) -> float:
    return entry[1]


class MemoryCache:
    """Best-effort bytes cache bounded by ``max_items``; never raises on get/set/delete."""

    def __init__(self, max_items: int = 10_000, clock: Clock | None = None) -> None:
        if max_items < 1:
            raise ValueError("max_items must be >= 1")
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._lock = threading.Lock()
        self._items: TLRUCache[str, _Entry, float] = TLRUCache(
            maxsize=max_items, ttu=_ttu, timer=self._clock.now
        )

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._items.get(key)
        return None if entry is None else entry[0]

    def set(self, key: str, value: bytes, *, ttl_s: int) -> None:
        with self._lock:
            if ttl_s <= 0:
                # Nothing to keep; also drop an older value so it is not served stale.
                self._items.pop(key, None)
                return
            self._items[key] = (bytes(value), self._clock.now() + ttl_s)

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def ping(self) -> bool:
        return True

    def __len__(self) -> int:
        """Live (unexpired) items held."""
        with self._lock:
            self._items.expire()
            return len(self._items)

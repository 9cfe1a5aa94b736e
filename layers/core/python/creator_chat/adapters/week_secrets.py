"""The per-process cache of the trending store's weekly keys (both adapter families)."""

from __future__ import annotations

from collections.abc import Callable


class WeekSecretCache:
    """A week's key never changes while it lives: each process reads it once, then again
    only after it has expired (``load`` returns the key and the second it expires)."""

    def __init__(
        self, load: Callable[[str, int], tuple[bytes, int]], now: Callable[[], int]
    ) -> None:
        self._load = load
        self._now = now
        self._keys: dict[str, tuple[bytes, int]] = {}

    def get(self, week: str, expires_at: int) -> bytes:
        cached = self._keys.get(week)
        if cached is not None and cached[1] > self._now():
            return cached[0]
        secret, until = self._load(week, expires_at)
        self._keys[week] = (secret, until)
        return secret

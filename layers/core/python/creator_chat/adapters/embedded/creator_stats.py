"""Embedded table ``creator_stats``: counters per (creator, UTC day), no user id."""

from __future__ import annotations

from collections.abc import Mapping

from creator_chat.adapters.embedded.base import EmbeddedStore
from creator_chat.domain.insights import INSIGHTS_RETENTION_S, day_end

# an expired counter (a day past the retention, not yet purged) starts again from nothing
_ADD = """
INSERT INTO creator_stats (creator_id, day, name, n, expires_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (creator_id, day, name) DO UPDATE SET
    n = CASE WHEN expires_at <= ? THEN excluded.n ELSE n + excluded.n END,
    expires_at = excluded.expires_at
"""


class EmbeddedCreatorStatsStore(EmbeddedStore):
    """A row per (creator, day, counter); the counters of one ``add`` commit together."""

    def add(self, creator_id: str, day: str, counts: Mapping[str, int]) -> None:
        counts = {name: int(n) for name, n in counts.items() if n}
        if not counts:
            return
        expires, now = day_end(day) + INSIGHTS_RETENTION_S, self._now()
        with self._db.transaction() as conn:
            conn.executemany(
                _ADD, [(creator_id, day, name, n, expires, now) for name, n in counts.items()]
            )

    def days(self, creator_id: str, first: str, last: str) -> dict[str, dict[str, int]]:
        rows = self._db.query(
            "SELECT day, name, n FROM creator_stats"
            " WHERE creator_id = ? AND day BETWEEN ? AND ? AND expires_at > ?",
            (creator_id, first, last, self._now()),
        )
        out: dict[str, dict[str, int]] = {}
        for r in rows:
            out.setdefault(str(r["day"]), {})[str(r["name"])] = int(r["n"])
        return out

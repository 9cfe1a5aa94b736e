"""Embedded table ``rate_limits``: fixed-window counters."""

from __future__ import annotations

from creator_chat.adapters.embedded.base import EmbeddedStore
from creator_chat.domain.models import QuotaDecision

# One statement per hit: SQLite runs it under the write lock, so N parallel hits against a
# limit L admit exactly min(N, L). The WHERE makes the update a no-op at the limit, and a
# no-op upsert returns no row: that is the refusal. A row of this key that has expired (only
# possible if the same key is used with another window length) counts as absent.
_HIT = """
INSERT INTO rate_limits (key, count, expires_at) VALUES (:key, 1, :reset)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN rate_limits.expires_at <= :now THEN 1 ELSE rate_limits.count + 1 END,
    expires_at = excluded.expires_at
WHERE rate_limits.count < :limit OR rate_limits.expires_at <= :now
RETURNING count
"""


class EmbeddedRateLimiter(EmbeddedStore):
    """Table ``rate_limits``: one counter per (key, fixed window), expiring at the window's
    end; the same decisions as ``DynamoRateLimiter``."""

    def hit(self, key: str, *, limit: int, window_s: int) -> QuotaDecision:
        now = self._now()
        window_start = now - now % window_s
        reset = window_start + window_s
        params = {"key": f"{key}#{window_start}", "reset": reset, "now": now, "limit": limit}
        with self._db.transaction() as conn:
            # fetched inside the transaction: the statement must be finished before COMMIT
            rows = conn.execute(_HIT, params).fetchall()
        if not rows:
            return QuotaDecision(False, limit, 0, reset, max(1, reset - now))
        used = int(rows[0]["count"])
        return QuotaDecision(True, limit, max(0, limit - used), reset, 0)

    def delete_user_counters(self, user_id: str) -> int:
        # Keys are "chat:<user>#<window start>". The range [prefix, prefix with "#" -> "$")
        # holds exactly the keys that begin with the prefix ("#" + 1 = "$" in byte order), so
        # "chat:ab" never takes "chat:abc"'s counters, "_" and "%" mean themselves (no LIKE),
        # and the primary key's index answers it.
        prefix = f"chat:{user_id}#"
        upper = prefix[:-1] + "$"
        cur = self._db.execute(
            "DELETE FROM rate_limits WHERE key >= ? AND key < ?", (prefix, upper)
        )
        return cur.rowcount

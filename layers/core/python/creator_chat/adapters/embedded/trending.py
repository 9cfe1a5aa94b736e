"""Embedded tables ``trending_questions`` and ``trending_askers``: question counts per creator
and week."""

from __future__ import annotations

import hashlib
import secrets

from creator_chat.adapters.aws.dynamodb.trending import TRENDING_RETENTION_S
from creator_chat.adapters.embedded.base import EmbeddedStore
from creator_chat.adapters.embedded.database import Database
from creator_chat.adapters.week_secrets import WeekSecretCache
from creator_chat.ports import Clock

__all__ = ["TRENDING_RETENTION_S", "EmbeddedTrendingStore"]

_SECRET_PREFIX = "trending_secret:"  # noqa: S105 (a key name)

# A marker per (question, asker): inserted, or revived if it has expired, the fan is new to
# this question (rowcount 1); a live marker leaves the row as it is (rowcount 0).
_MARK_ASKER = """
INSERT INTO trending_askers (creator_id, week, qhash, asker, expires_at)
VALUES (:creator_id, :week, :qhash, :asker, :expires)
ON CONFLICT (creator_id, week, qhash, asker) DO UPDATE SET expires_at = excluded.expires_at
WHERE trending_askers.expires_at <= :now
"""

# The question's counter; an expired one starts again from nothing (its words included).
_COUNT = """
INSERT INTO trending_questions (creator_id, week, qhash, asked, askers, question, expires_at)
VALUES (:creator_id, :week, :qhash, 1, :new, NULL, :expires)
ON CONFLICT (creator_id, week, qhash) DO UPDATE SET
    asked = CASE WHEN expires_at <= :now THEN 1 ELSE asked + 1 END,
    askers = CASE WHEN expires_at <= :now THEN :new ELSE askers + :new END,
    question = CASE WHEN expires_at <= :now THEN NULL ELSE question END,
    expires_at = excluded.expires_at
RETURNING askers, question
"""


class EmbeddedTrendingStore(EmbeddedStore):
    """Per creator and week, a counter per question hash and a marker per (question, asker);
    the question's words are stored only once ``min_askers`` different fans asked it (the
    privacy rule of ``DynamoTrendingStore``), and everything expires after
    ``TRENDING_RETENTION_S``."""

    def __init__(self, db: Database, clock: Clock, *, min_askers: int = 3) -> None:
        super().__init__(db, clock)
        self.min_askers = min_askers
        self._secrets = WeekSecretCache(self._load_week_secret, self._now)

    def record_question(self, creator_id: str, week: str, question: str, asker: str) -> None:
        text = question[:200]
        now = self._now()
        params = {
            "creator_id": creator_id,
            "week": week,
            "qhash": hashlib.sha256(text.encode()).hexdigest()[:32],
            "asker": asker,
            "now": now,
            "expires": now + TRENDING_RETENTION_S,
        }
        # one transaction: a fan asking twice at once is still counted once, and the words
        # appear together with the count that allows them
        with self._db.transaction() as conn:
            params["new"] = conn.execute(_MARK_ASKER, params).rowcount
            row = conn.execute(_COUNT, params).fetchall()[0]
            # tested here, not as "question IS NULL" in RETURNING: SQLite 3.40 gets that wrong
            if row["askers"] >= self.min_askers and row["question"] is None:
                conn.execute(
                    "UPDATE trending_questions SET question = ?"
                    " WHERE creator_id = ? AND week = ? AND qhash = ?",
                    (text, creator_id, week, params["qhash"]),
                )

    def week_secret(self, week: str, *, expires_at: int) -> bytes:
        return self._secrets.get(week, expires_at)

    def _load_week_secret(self, week: str, expires_at: int) -> tuple[bytes, int]:
        key = f"{_SECRET_PREFIX}{week}"
        with self._db.transaction() as conn:
            # expired keys of other weeks go whenever a week's key is asked for
            for row in conn.execute(
                "SELECT key, value FROM meta WHERE key LIKE ? AND key != ?",
                (f"{_SECRET_PREFIX}%", key),
            ).fetchall():
                if int(str(row["value"]).split(":")[0]) <= self._now():
                    conn.execute("DELETE FROM meta WHERE key = ?", (row["key"],))
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is None or int(str(row["value"]).split(":")[0]) <= self._now():
                value = f"{expires_at}:{secrets.token_hex(32)}"
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
            else:
                value = str(row["value"])
        until, secret = value.split(":")
        return bytes.fromhex(secret), int(until)

    def top_questions(self, creator_id: str, week: str, *, limit: int) -> list[tuple[str, int]]:
        rows = self._db.query(
            "SELECT question, asked FROM trending_questions"
            " WHERE creator_id = ? AND week = ? AND question IS NOT NULL AND askers >= ?"
            " AND (expires_at IS NULL OR expires_at > ?)"
            " ORDER BY asked DESC, question LIMIT ?",
            (creator_id, week, self.min_askers, self._now(), max(0, limit)),
        )
        return [(str(r["question"]), int(r["asked"])) for r in rows]

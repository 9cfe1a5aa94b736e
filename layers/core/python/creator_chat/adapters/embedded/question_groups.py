"""Embedded tables ``question_groups`` and ``question_group_askers``: a creator's fans'
questions grouped by meaning (content gaps, down-rated answers)."""

from __future__ import annotations

from collections.abc import Sequence

from creator_chat.adapters.embedded.base import EmbeddedStore
from creator_chat.adapters.embedded.database import Database
from creator_chat.domain.insights import (
    DEFAULT_GROUP_SIMILARITY,
    INSIGHTS_RETENTION_S,
    QUESTION_CHARS,
    QuestionGroup,
    joined_centroid,
    nearest,
    pack_vector,
    unit,
    unpack_vector,
)
from creator_chat.ids import random_id
from creator_chat.ports import Clock

# A marker per (group, week, asker): inserted, or revived if it has expired, the fan is new
# to this group this week (rowcount 1); a live marker leaves the row as it is (rowcount 0).
_MARK_ASKER = """
INSERT INTO question_group_askers (creator_id, kind, group_id, week, asker, expires_at)
VALUES (:creator_id, :kind, :group_id, :week, :asker, :asker_expires)
ON CONFLICT (creator_id, kind, group_id, week, asker) DO UPDATE
SET expires_at = excluded.expires_at
WHERE question_group_askers.expires_at <= :now
"""


class EmbeddedQuestionGroupStore(EmbeddedStore):
    """Groups by creator and kind, each with a float16 centroid; matching a question to its
    group and counting its asker happen in one transaction, so parallel askings of one new
    question start one group, not several."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        min_fans: int = 3,
        similarity: float = DEFAULT_GROUP_SIMILARITY,
    ) -> None:
        super().__init__(db, clock)
        self.min_fans = min_fans
        self.similarity = similarity

    def record(
        self,
        creator_id: str,
        kind: str,
        vector: Sequence[float],
        question: str,
        *,
        week: str,
        asker: str,
        asker_expires_at: int,
    ) -> str:
        vector = unit(vector)
        now = self._now()
        params: dict[str, object] = {
            "creator_id": creator_id,
            "kind": kind,
            "now": now,
            "expires": now + INSIGHTS_RETENTION_S,
            "week": week,
            "asker": asker,
            "asker_expires": asker_expires_at,
        }
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT group_id, centroid, asked FROM question_groups"
                " WHERE creator_id = ? AND kind = ? AND expires_at > ?",
                (creator_id, kind, now),
            ).fetchall()
            groups = [(r["group_id"], unpack_vector(r["centroid"]), r["asked"]) for r in rows]
            match = nearest(groups, vector, self.similarity)
            if match is None:
                params["group_id"] = random_id("qg_")
                params["centroid"] = pack_vector(vector)
                conn.execute(
                    "INSERT INTO question_groups (creator_id, kind, group_id, centroid, asked,"
                    " fans, question, last_asked_at, expires_at) VALUES"
                    " (:creator_id, :kind, :group_id, :centroid, 1, 0, NULL, :now, :expires)",
                    params,
                )
            else:
                group_id, centroid, asked = match
                params["group_id"] = group_id
                params["centroid"] = pack_vector(joined_centroid(centroid, asked, vector))
                conn.execute(
                    "UPDATE question_groups SET asked = asked + 1, centroid = :centroid,"
                    " last_asked_at = :now, expires_at = :expires"
                    " WHERE creator_id = :creator_id AND kind = :kind AND group_id = :group_id",
                    params,
                )
            if conn.execute(_MARK_ASKER, params).rowcount:
                week_fans = conn.execute(
                    "SELECT COUNT(*) FROM question_group_askers WHERE creator_id = :creator_id"
                    " AND kind = :kind AND group_id = :group_id AND week = :week"
                    " AND expires_at > :now",
                    params,
                ).fetchone()[0]
                params["week_fans"] = week_fans
                params["question"] = (
                    question[:QUESTION_CHARS] if week_fans >= self.min_fans else None
                )
                # the words arrive with the count that allows them, and then stay
                conn.execute(
                    "UPDATE question_groups SET fans = :week_fans,"
                    " question = COALESCE(question, :question)"
                    " WHERE creator_id = :creator_id AND kind = :kind AND group_id = :group_id"
                    " AND fans < :week_fans",
                    params,
                )
        return str(params["group_id"])

    def list_groups(self, creator_id: str, kind: str, *, limit: int) -> list[QuestionGroup]:
        rows = self._db.query(
            "SELECT group_id, question, fans, asked, last_asked_at FROM question_groups"
            " WHERE creator_id = ? AND kind = ? AND expires_at > ?"
            " AND question IS NOT NULL AND fans >= ?"
            " ORDER BY last_asked_at DESC, group_id LIMIT ?",
            (creator_id, kind, self._now(), self.min_fans, max(0, limit)),
        )
        return [
            QuestionGroup(
                group_id=str(r["group_id"]),
                question=str(r["question"]),
                fans=int(r["fans"]),
                asked=int(r["asked"]),
                last_asked_at=int(r["last_asked_at"]),
            )
            for r in rows
        ]

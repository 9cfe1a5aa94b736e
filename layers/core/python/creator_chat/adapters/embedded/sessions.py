"""Embedded table ``sessions``: sessions by id, with a TTL."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from creator_chat.adapters.embedded.base import EmbeddedStore, from_json, to_json
from creator_chat.domain.models import Session
from creator_chat.errors import Conflict


class EmbeddedSessionStore(EmbeddedStore):
    """One row per session (``user_id``, ``revoked``, ``expires_at`` as columns, the rest
    JSON); an expired session reads as absent until the purge deletes it."""

    def put_session(self, session: Session, *, replace: bool = False) -> None:
        # An expired row still holds its id until purged, as a DynamoDB item does until TTL
        # deletes it: both refuse the put, and the authorizer denies that token.
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        try:
            self._db.execute(
                f"{verb} INTO sessions VALUES (?, ?, ?, ?, ?)",
                (
                    session.session_id,
                    session.user_id,
                    int(session.revoked),
                    session.expires_at,
                    to_json(session),
                ),
            )
        except sqlite3.IntegrityError as err:
            raise Conflict("session exists") from err

    def get_session(self, session_id: str) -> Session | None:
        row = self._db.query_one(
            "SELECT data FROM sessions WHERE session_id = ?"
            " AND (expires_at IS NULL OR expires_at > ?)",
            (session_id, self._now()),
        )
        return from_json(Session, row["data"]) if row else None

    def get_sessions(self, session_ids: Sequence[str]) -> dict[str, Session]:
        ids = list(dict.fromkeys(session_ids))
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        rows = self._db.query(
            f"SELECT data FROM sessions WHERE session_id IN ({marks})"  # noqa: S608 (placeholders)
            " AND (expires_at IS NULL OR expires_at > ?)",
            (*ids, self._now()),
        )
        sessions = [from_json(Session, row["data"]) for row in rows]
        return {session.session_id: session for session in sessions}

    def revoke_session(self, session_id: str, user_id: str) -> bool:
        # another user's session matches no row, so it reads as "not found", like a missing one
        cur = self._db.execute(
            "UPDATE sessions SET revoked = 1, data = json_set(data, '$.revoked', json('true'))"
            " WHERE session_id = ? AND user_id = ? AND (expires_at IS NULL OR expires_at > ?)",
            (session_id, user_id, self._now()),
        )
        return cur.rowcount > 0

    def list_sessions(self, user_id: str) -> list[Session]:
        rows = self._db.query(
            "SELECT data FROM sessions WHERE user_id = ?"
            " AND (expires_at IS NULL OR expires_at > ?) ORDER BY expires_at, session_id",
            (user_id, self._now()),
        )
        return [from_json(Session, r["data"]) for r in rows]

    def revoke_user_sessions(self, user_id: str, *, new_owner: str) -> int:
        return self._db.execute(
            "UPDATE sessions SET revoked = 1, user_id = ?, data = json_set(data,"
            " '$.revoked', json('true'), '$.user_id', ?) WHERE user_id = ?",
            (new_owner, new_owner, user_id),
        ).rowcount

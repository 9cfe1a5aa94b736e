"""Embedded tables ``threads``, ``messages`` and ``feedback``: conversations and their ratings."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import fields, replace
from typing import Any

from creator_chat.adapters.embedded.base import EmbeddedStore, from_json, to_json
from creator_chat.adapters.embedded.database import Database
from creator_chat.domain.models import Citation, Feedback, Message, MessageStatus, Thread
from creator_chat.errors import Conflict, NotFound
from creator_chat.ports import Clock

_MESSAGE_FIELDS = frozenset(f.name for f in fields(Message))
_CITATION_FIELDS = frozenset(f.name for f in fields(Citation))


class EmbeddedThreadStore(EmbeddedStore):
    """Threads with their messages (ordered by their time-sortable ids) and feedback. A thread
    expires ``idle_ttl_s`` after its last message; its messages and feedback expire with it."""

    def __init__(self, db: Database, clock: Clock, *, idle_ttl_s: int) -> None:
        super().__init__(db, clock)
        self._idle_ttl_s = idle_ttl_s

    # -- threads ---------------------------------------------------------------------------
    def create_thread(self, thread: Thread, first: Message) -> None:
        """Store a new thread with its first message in one transaction.

        A retry of the very same create (the caller timed out after it committed) succeeds
        without writing anything; any other write under the same ids is a Conflict.
        """
        _check_same_thread(thread, first)
        stored = replace(thread, message_count=thread.message_count + 1)
        with self._db.transaction() as conn:
            try:
                conn.execute(
                    "INSERT INTO threads (thread_id, user_id, creator_id, last_activity_at,"
                    " expires_at, message_count, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        stored.thread_id,
                        stored.user_id,
                        stored.creator_id,
                        stored.last_activity_at,
                        stored.expires_at,
                        stored.message_count,
                        to_json(stored),
                    ),
                )
                retried = False
            except sqlite3.IntegrityError as err:
                row = conn.execute(
                    "SELECT data FROM threads WHERE thread_id = ?", (thread.thread_id,)
                ).fetchone()
                existing = from_json(Thread, row["data"]) if row else None
                if existing is None or (existing.user_id, existing.created_at) != (
                    thread.user_id,
                    thread.created_at,
                ):
                    raise Conflict("thread already exists") from err
                retried = True
            inserted = self._insert_message(conn, first)
            if retried and inserted:
                # the thread is there but this is not its first message: not a retry
                raise Conflict("thread already exists")
        thread.message_count += 1

    def get_thread(self, thread_id: str) -> Thread | None:
        row = self._db.query_one(
            "SELECT data FROM threads WHERE thread_id = ?"
            " AND (expires_at IS NULL OR expires_at > ?)",
            (thread_id, self._now()),
        )
        return from_json(Thread, row["data"]) if row else None

    def find_latest_thread(self, user_id: str, creator_id: str) -> Thread | None:
        row = self._db.query_one(
            "SELECT data FROM threads WHERE user_id = ? AND creator_id = ?"
            " AND (expires_at IS NULL OR expires_at > ?)"
            " ORDER BY last_activity_at DESC, thread_id DESC LIMIT 1",
            (user_id, creator_id, self._now()),
        )
        return from_json(Thread, row["data"]) if row else None

    def list_threads(self, user_id: str, *, limit: int = 50) -> list[Thread]:
        rows = self._db.query(
            "SELECT data FROM threads WHERE user_id = ?"
            " AND (expires_at IS NULL OR expires_at > ?)"
            " ORDER BY last_activity_at DESC, thread_id DESC LIMIT ?",
            (user_id, self._now(), max(limit, 0)),
        )
        return [from_json(Thread, r["data"]) for r in rows]

    def set_last_video(self, thread_id: str, video_id: str) -> None:
        cur = self._db.execute(
            "UPDATE threads SET data = json_set(data, '$.last_video_id', ?) WHERE thread_id = ?",
            (video_id, thread_id),
        )
        if cur.rowcount == 0:
            raise NotFound("thread not found")

    # -- messages --------------------------------------------------------------------------
    def append_message(self, thread: Thread, message: Message) -> None:
        """Write the message into the live thread of ``message.user_id`` and push the thread's
        expiry to now + ``idle_ttl_s``, in one transaction. Messages and ratings carry no
        expiry of their own: they live exactly as long as their thread (every read joins it,
        and the purge removes them with it), so an append costs the same in a long thread."""
        _check_same_thread(thread, message)
        now = self._now()
        expires = now + self._idle_ttl_s
        with self._db.transaction() as conn:
            # the ownership and liveness check comes first, so that another user's thread
            # reads as "not found" even when the message id would also conflict
            rows = conn.execute(
                "UPDATE threads SET last_activity_at = ?, expires_at = ?,"
                " data = json_set(data, '$.last_activity_at', ?, '$.expires_at', ?)"
                " WHERE thread_id = ? AND user_id = ? AND (expires_at IS NULL OR expires_at > ?)"
                " RETURNING message_count",
                (now, expires, now, expires, thread.thread_id, message.user_id, now),
            ).fetchall()
            if not rows:
                raise NotFound("thread not found or expired")
            count = int(rows[0]["message_count"])
            if self._insert_message(conn, message):
                conn.execute(
                    "UPDATE threads SET message_count = message_count + 1,"
                    " data = json_set(data, '$.message_count', message_count + 1)"
                    " WHERE thread_id = ?",
                    (thread.thread_id,),
                )
                count += 1
        thread.last_activity_at, thread.expires_at, thread.message_count = now, expires, count

    def _insert_message(self, conn: sqlite3.Connection, message: Message) -> bool:
        """Insert the message; False when this very message is stored already (a retry),
        Conflict when another one holds its id."""
        try:
            conn.execute(
                "INSERT INTO messages (thread_id, message_id, user_id, status, expires_at, data)"
                " VALUES (?, ?, ?, ?, NULL, ?)",
                (
                    message.thread_id,
                    message.message_id,
                    message.user_id,
                    message.status.value,
                    to_json(message),
                ),
            )
        except sqlite3.IntegrityError as err:
            row = conn.execute(
                "SELECT data FROM messages WHERE message_id = ?", (message.message_id,)
            ).fetchone()
            stored = _message(row["data"]) if row else None
            if stored is None or (stored.thread_id, stored.user_id, stored.content) != (
                message.thread_id,
                message.user_id,
                message.content,
            ):
                raise Conflict("message already exists") from err
            return False
        return True

    def update_message(self, message: Message) -> None:
        # the row keeps its expiry: that moves with the thread's activity, not with edits
        cur = self._db.execute(
            "UPDATE messages SET user_id = ?, status = ?, data = ?"
            " WHERE thread_id = ? AND message_id = ?",
            (
                message.user_id,
                message.status.value,
                to_json(message),
                message.thread_id,
                message.message_id,
            ),
        )
        if cur.rowcount == 0:
            raise NotFound("message not found")

    def get_message(self, thread_id: str, message_id: str) -> Message | None:
        now = self._now()
        row = self._db.query_one(
            "SELECT m.data FROM messages m JOIN threads t ON t.thread_id = m.thread_id"
            " WHERE m.thread_id = ? AND m.message_id = ?"
            " AND (t.expires_at IS NULL OR t.expires_at > ?)"
            " AND (m.expires_at IS NULL OR m.expires_at > ?)",
            (thread_id, message_id, now, now),
        )
        return _message(row["data"]) if row else None

    def find_message(self, message_id: str) -> Message | None:
        now = self._now()
        row = self._db.query_one(
            "SELECT m.data FROM messages m JOIN threads t ON t.thread_id = m.thread_id"
            " WHERE m.message_id = ?"
            " AND (t.expires_at IS NULL OR t.expires_at > ?)"
            " AND (m.expires_at IS NULL OR m.expires_at > ?)",
            (message_id, now, now),
        )
        return _message(row["data"]) if row else None

    def list_messages(self, thread_id: str, *, limit: int = 100) -> list[Message]:
        now = self._now()
        rows = self._db.query(
            "SELECT m.data FROM messages m JOIN threads t ON t.thread_id = m.thread_id"
            " WHERE m.thread_id = ?"
            " AND (t.expires_at IS NULL OR t.expires_at > ?)"
            " AND (m.expires_at IS NULL OR m.expires_at > ?)"
            " ORDER BY m.message_id LIMIT ?",
            (thread_id, now, now, max(limit, 0)),
        )
        return [_message(r["data"]) for r in rows]

    def list_user_messages(self, user_id: str) -> list[Message]:
        now = self._now()
        rows = self._db.query(
            "SELECT m.data FROM threads t JOIN messages m ON m.thread_id = t.thread_id"
            " WHERE t.user_id = ?"
            " AND (t.expires_at IS NULL OR t.expires_at > ?)"
            " AND (m.expires_at IS NULL OR m.expires_at > ?)"
            " ORDER BY m.thread_id, m.message_id",
            (user_id, now, now),
        )
        return [_message(r["data"]) for r in rows]

    def recent_messages(self, thread_id: str, n: int) -> list[Message]:
        if n <= 0:
            return []
        now = self._now()
        rows = self._db.query(
            "SELECT m.data FROM messages m JOIN threads t ON t.thread_id = m.thread_id"
            " WHERE m.thread_id = ?"
            " AND (t.expires_at IS NULL OR t.expires_at > ?)"
            " AND (m.expires_at IS NULL OR m.expires_at > ?)"
            " ORDER BY m.message_id DESC LIMIT ?",
            (thread_id, now, now, n),
        )
        return [_message(r["data"]) for r in reversed(rows)]

    # -- feedback --------------------------------------------------------------------------
    def put_feedback(self, feedback: Feedback) -> Feedback | None:
        """One rating per (message, user): rating again replaces it (the one replaced is
        returned). It expires with its thread."""
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT 1 FROM threads WHERE thread_id = ?"
                " AND (expires_at IS NULL OR expires_at > ?)",
                (feedback.thread_id, self._now()),
            ).fetchone()
            if row is None:
                raise NotFound("thread not found")
            before = conn.execute(
                "SELECT data FROM feedback WHERE thread_id = ? AND message_id = ? AND user_id = ?",
                (feedback.thread_id, feedback.message_id, feedback.user_id),
            ).fetchone()
            conn.execute(
                "INSERT INTO feedback (thread_id, message_id, user_id, expires_at, data)"
                " VALUES (?, ?, ?, NULL, ?)"
                " ON CONFLICT (thread_id, message_id, user_id) DO UPDATE SET"
                " data = excluded.data",
                (feedback.thread_id, feedback.message_id, feedback.user_id, to_json(feedback)),
            )
        return None if before is None else from_json(Feedback, before["data"])

    def list_feedback(self, user_id: str) -> list[Feedback]:
        rows = self._db.query(
            "SELECT f.data FROM feedback f JOIN threads t ON t.thread_id = f.thread_id"
            " WHERE f.user_id = ? AND (t.expires_at IS NULL OR t.expires_at > ?)"
            " ORDER BY f.thread_id, f.message_id",
            (user_id, self._now()),
        )
        return [from_json(Feedback, r["data"]) for r in rows]

    # -- erasure ---------------------------------------------------------------------------
    def delete_user_data(self, user_id: str) -> int:
        """Every thread of this user with its messages and feedback, expired or not, and the
        user's own feedback (GDPR erasure); returns how many rows went."""
        owned = "SELECT thread_id FROM threads WHERE user_id = ?"
        with self._db.transaction() as conn:
            deleted = conn.execute(
                f"DELETE FROM feedback WHERE user_id = ? OR thread_id IN ({owned})",  # noqa: S608
                (user_id, user_id),
            ).rowcount
            deleted += conn.execute(
                f"DELETE FROM messages WHERE thread_id IN ({owned})",  # noqa: S608
                (user_id,),
            ).rowcount
            deleted += conn.execute("DELETE FROM threads WHERE user_id = ?", (user_id,)).rowcount
        return deleted


def _check_same_thread(thread: Thread, message: Message) -> None:
    # a message is stored under its own thread_id: one naming another thread than the one
    # whose ownership was checked would land in that other thread
    if message.thread_id != thread.thread_id:
        raise ValueError("the message belongs to another thread")


def _message(text: str) -> Message:
    data: dict[str, Any] = json.loads(text)
    kwargs = {k: v for k, v in data.items() if k in _MESSAGE_FIELDS}
    kwargs["status"] = MessageStatus(kwargs.get("status", MessageStatus.ANSWERED))
    kwargs["citations"] = [
        Citation(**{k: v for k, v in c.items() if k in _CITATION_FIELDS})
        for c in kwargs.get("citations") or []
    ]
    return Message(**kwargs)

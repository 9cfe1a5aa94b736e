"""Job queues in the embedded database, delivered with SQS's semantics.

Every queue (and its DLQ, ``<name>-dlq``) is rows of the ``jobs`` table. What SQS promises and
the workers rely on holds here too:
- **At-least-once, never to two consumers at once**: a receive takes up to N visible messages
  in send order, in one ``BEGIN IMMEDIATE`` transaction, and hides them for the visibility
  timeout; each delivery counts (``ApproximateReceiveCount``) and gets a fresh receipt handle.
- **Acknowledge by receipt**: ``delete`` removes a message only while the receipt of its latest
  delivery matches, so a consumer that overran its visibility timeout cannot delete the
  redelivered copy another consumer is working on.
- **Redrive**: a message already received ``max_receive_count`` times moves to the DLQ on the
  next receive instead of being delivered (SQS's redrive policy does the same).
- **Durable**: ``send`` is one INSERT, committed when it returns (or, inside a unit of work,
  with the caller's writes: a job is queued if and only if its document row is).

Time: delivery timing (``visible_at``) is wall time, ``time.time()``, never the injected
clock. A visibility timeout is a promise in real seconds between consumers (threads, or
another process on the same file), and a ``FixedClock`` in a container would otherwise hide
an unacknowledged message forever. The clock only stamps ``SentTimestamp``, so it agrees with
the domain's timestamps under a test clock; nothing orders or times out by it.

Long poll: a receiver waits on a condition that a commit of ``send`` in this process notifies
at once, and re-checks the table every ``RECHECK_S`` (another process may have written) or
when the next in-flight message becomes visible, whichever comes first: an idle poller
sleeps instead of spinning.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from creator_chat.adapters.embedded.database import Database
from creator_chat.errors import DependencyUnavailable
from creator_chat.ports import MAX_DELAY_S, Clock

RECHECK_S = 0.5


@dataclass(frozen=True)
class QueueCounts:
    """Messages of one queue: receivable now, received but not yet deleted, and sent with a
    delay not yet over (SQS's ApproximateNumberOfMessagesDelayed)."""

    visible: int
    in_flight: int
    delayed: int = 0

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


class _Signal:
    """Wakes the long-polling receivers of one queue when a send commits in this process."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.generation = 0

    def notify(self) -> None:
        with self._cond:
            self.generation += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> None:
        """Wait up to ``timeout`` unless a send committed since ``seen`` was read (a send
        between the receiver's check and its wait must not be slept through)."""
        with self._cond:
            if self.generation == seen:
                self._cond.wait(timeout)


# One signal per (database file, queue), shared by every EmbeddedJobQueue on them: the
# container's queue that handlers send to and the poller's are different objects.
_signals: weakref.WeakValueDictionary[tuple[str, str], _Signal] = weakref.WeakValueDictionary()
_signals_lock = threading.Lock()


def _signal_for(db: Database, queue: str) -> _Signal:
    key = (os.path.abspath(db.path), queue)
    with _signals_lock:
        signal = _signals.get(key)
        if signal is None:
            signal = _signals[key] = _Signal()
        return signal


class EmbeddedJobQueue:
    """One named job queue in the embedded database (the ``JobQueue`` port, plus receiving)."""

    def __init__(self, db: Database, name: str, *, clock: Clock | None = None) -> None:
        self._db = db
        self._name = name
        self._clock = clock
        self._signal = _signal_for(db, name)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dlq_name(self) -> str:
        """The physical name of this queue's dead-letter queue."""
        return f"{self._name}-dlq"

    @property
    def database(self) -> Database:
        return self._db

    # -- sending -------------------------------------------------------------------------
    def send(
        self, body: Mapping[str, Any], *, dedup_id: str | None = None, delay_s: int = 0
    ) -> str:
        """Queue a JSON job; returns its message id. ``dedup_id`` is ignored, as on the SQS
        standard queues the AWS adapter sends to (the workers are idempotent instead). A
        ``delay_s`` hides it that many (wall-clock) seconds, as SQS's ``DelaySeconds``: the
        row is committed now, so a delayed job survives a restart and comes due after it."""
        if not 0 <= delay_s <= MAX_DELAY_S:
            raise ValueError(f"delay_s must be 0 to {MAX_DELAY_S} seconds")
        message_id = str(uuid.uuid4())
        now = time.time()
        sent_at = self._clock.now() if self._clock is not None else now
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO jobs (queue, message_id, body, sent_at, visible_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (self._name, message_id, json.dumps(body), sent_at, now + delay_s),
                )
                self._db.after_commit(self._signal.notify)
        except sqlite3.Error as err:
            raise DependencyUnavailable(f"could not queue job on {self._name}") from err
        return message_id

    # -- receiving -----------------------------------------------------------------------
    def receive(
        self,
        max_messages: int = 1,
        *,
        visibility_timeout_s: float,
        max_receive_count: int | None = None,
        dlq: str | None = None,
        wait_s: float = 0.0,
    ) -> list[dict[str, Any]]:
        """Up to ``max_messages`` messages in SQS ``receive_message`` shape, waiting up to
        ``wait_s`` for one; with ``max_receive_count`` and ``dlq``, a message received that
        many times already is moved to ``dlq`` instead of being delivered."""
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        if (max_receive_count is None) != (dlq is None):
            raise ValueError("a redrive needs both max_receive_count and dlq")
        deadline = time.monotonic() + max(0.0, wait_s)
        while True:
            seen = self._signal.generation
            messages, next_visible_at = self._receive_now(
                max_messages, visibility_timeout_s, max_receive_count, dlq
            )
            remaining = deadline - time.monotonic()
            if messages or remaining <= 0:
                return messages
            pause = min(remaining, RECHECK_S)
            if next_visible_at is not None:
                pause = min(pause, max(0.0, next_visible_at - time.time()) + 0.001)
            self._signal.wait(seen, pause)

    def _receive_now(
        self,
        max_messages: int,
        visibility_timeout_s: float,
        max_receive_count: int | None,
        dlq: str | None,
    ) -> tuple[list[dict[str, Any]], float | None]:
        """One receive transaction: the delivered messages, and (if none) when the earliest
        in-flight message becomes visible again."""
        now = time.time()
        delivered: list[dict[str, Any]] = []
        moved = 0
        next_visible_at: float | None = None
        try:
            # an idle poll only reads: the write lock is for requests' writes and real receives
            row = self._db.query_one(
                "SELECT MIN(visible_at) FROM jobs WHERE queue = ?", (self._name,)
            )
            earliest = row[0] if row is not None else None
            if earliest is None or float(earliest) > now:
                return [], (float(earliest) if earliest is not None else None)
            with self._db.transaction() as conn:
                while len(delivered) < max_messages:
                    rows = conn.execute(
                        "SELECT seq, message_id, body, sent_at, receive_count, first_received_at"
                        " FROM jobs WHERE queue = ? AND visible_at <= ? ORDER BY seq LIMIT ?",
                        (self._name, now, max_messages - len(delivered)),
                    ).fetchall()
                    if not rows:
                        break
                    for row in rows:
                        count = int(row["receive_count"])
                        if max_receive_count is not None and count >= max_receive_count:
                            # SQS's redrive: moved as it is (id, body, receive count), visible
                            conn.execute(
                                "UPDATE jobs SET queue = ?, visible_at = ?, receipt = NULL"
                                " WHERE seq = ?",
                                (dlq, now, row["seq"]),
                            )
                            moved += 1
                            continue
                        receipt = uuid.uuid4().hex
                        first = row["first_received_at"] or now
                        conn.execute(
                            "UPDATE jobs SET receive_count = ?, first_received_at = ?,"
                            " visible_at = ?, receipt = ? WHERE seq = ?",
                            (count + 1, first, now + visibility_timeout_s, receipt, row["seq"]),
                        )
                        delivered.append(_message(row, receipt, count + 1, first))
                if not delivered:
                    nxt = conn.execute(
                        "SELECT MIN(visible_at) FROM jobs WHERE queue = ? AND visible_at > ?",
                        (self._name, now),
                    ).fetchone()[0]
                    next_visible_at = float(nxt) if nxt is not None else None
                if moved and dlq is not None:
                    self._db.after_commit(_signal_for(self._db, dlq).notify)
        except sqlite3.Error as err:
            raise DependencyUnavailable(f"could not receive from {self._name}") from err
        return delivered, next_visible_at

    def delete(self, receipts: Iterable[str]) -> int:
        """Acknowledge deliveries by receipt handle; a receipt of an earlier delivery of a
        message that has since been received again deletes nothing. Returns how many went."""
        handles = [(self._name, r) for r in receipts]
        if not handles:
            return 0
        try:
            with self._db.transaction() as conn:
                cur = conn.executemany("DELETE FROM jobs WHERE queue = ? AND receipt = ?", handles)
                return int(cur.rowcount)
        except sqlite3.Error as err:
            raise DependencyUnavailable(f"could not acknowledge jobs of {self._name}") from err

    def change_visibility(self, receipt: str, timeout_s: float) -> bool:
        """Hide an in-flight message for ``timeout_s`` more seconds from now (0: visible now),
        as SQS's ChangeMessageVisibility; False if the receipt is no longer current."""
        try:
            with self._db.transaction() as conn:
                cur = conn.execute(
                    "UPDATE jobs SET visible_at = ? WHERE queue = ? AND receipt = ?",
                    (time.time() + max(0.0, timeout_s), self._name, receipt),
                )
                changed = cur.rowcount > 0
                if changed and timeout_s <= 0:
                    self._db.after_commit(self._signal.notify)
                return changed
        except sqlite3.Error as err:
            raise DependencyUnavailable(f"could not change visibility on {self._name}") from err

    def release_inflight(self) -> int:
        """Make every in-flight message visible now; returns how many. For the local runtime
        at start, when the consumers that held them died with the previous process (SQS has
        no such call: there they wait out their visibility timeout). Receive counts stay, so
        a job that crashed its worker still reaches the DLQ. A delayed message not yet
        delivered (no receipt) keeps its delay."""
        now = time.time()
        try:
            with self._db.transaction() as conn:
                cur = conn.execute(
                    "UPDATE jobs SET visible_at = ?, receipt = NULL"
                    " WHERE queue = ? AND visible_at > ? AND receipt IS NOT NULL",
                    (now, self._name, now),
                )
                released = int(cur.rowcount)
                if released:
                    self._db.after_commit(self._signal.notify)
                return released
        except sqlite3.Error as err:
            raise DependencyUnavailable(f"could not release jobs of {self._name}") from err

    # -- inspection ----------------------------------------------------------------------
    def counts(self) -> QueueCounts:
        """Visible, in-flight and delayed messages (SQS's ApproximateNumberOfMessages,
        ...NotVisible and ...Delayed)."""
        now = time.time()
        try:
            row = self._db.query_one(
                "SELECT COALESCE(SUM(visible_at <= ?), 0),"
                " COALESCE(SUM(visible_at > ? AND receipt IS NOT NULL), 0),"
                " COALESCE(SUM(visible_at > ? AND receipt IS NULL), 0)"
                " FROM jobs WHERE queue = ?",
                (now, now, now, self._name),
            )
        except sqlite3.Error as err:
            raise DependencyUnavailable(f"could not count {self._name}") from err
        assert row is not None
        return QueueCounts(visible=int(row[0]), in_flight=int(row[1]), delayed=int(row[2]))

    def depth(self) -> int:
        """Every message not yet deleted (visible or in flight)."""
        return self.counts().total

    def ping(self) -> bool:
        """The deep health check's probe: the queue's table answers."""
        self.counts()
        return True


def _message(row: sqlite3.Row, receipt: str, count: int, first: float) -> dict[str, Any]:
    """A message as boto3's ``receive_message`` returns it (what the poller turns into the
    Lambda SQS event)."""
    body = str(row["body"])
    return {
        "MessageId": str(row["message_id"]),
        "ReceiptHandle": receipt,
        "Body": body,
        "MD5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "Attributes": {
            "ApproximateReceiveCount": str(count),
            "SentTimestamp": str(int(float(row["sent_at"]) * 1000)),
            "ApproximateFirstReceiveTimestamp": str(int(first * 1000)),
            "SenderId": "local",
        },
    }

"""The embedded database: one SQLite file in the data dir for every table and job queue.

Why these settings:
- **WAL** lets readers run while one writer commits, so fans reading threads never wait for
  an ingest; ``synchronous=NORMAL`` makes a commit durable against a crash of the process
  (``kill -9``, an out-of-memory kill): the WAL is written before ``commit`` returns. Only a
  power loss or an OS crash can take the last commits back; ``synchronous="FULL"``
  (``CREATOR_CHAT_SQLITE_SYNCHRONOUS=FULL``) closes that too, at ~5x the cost per commit.
- **One connection per thread** (SQLite connections are not for sharing across threads),
  opened on first use and closed with the database.
- **Writers queue on a lock in the process**, not in SQLite's busy handler: that handler
  sleeps in steps of up to 100 ms when the file is locked, which under 50 concurrent requests
  turns a 0.2 ms write into tens of milliseconds. ``BEGIN IMMEDIATE`` takes SQLite's write
  lock at the start of a transaction, so a transaction that read before writing can never
  fail with a lock upgrade error half-way. ``busy_timeout`` still covers another process
  (``sqlite3 … ".backup …"`` while the server runs).
- **Transactions nest as savepoints**: a store's write opens a transaction; called inside a
  unit of work (``with db.transaction():`` in a use case) it becomes a savepoint of the outer
  one, so a document's chunks and its ``done`` status commit together or not at all, while a
  best-effort write that fails inside (usage, trending) is undone alone.
  ``after_commit`` callbacks run once the outermost transaction has committed (the vector
  index refreshes its in-memory rows from what was committed).
- **Schema versions** live in ``PRAGMA user_version``; ``schema.MIGRATIONS`` moves an older
  file forward at open, and a file newer than this code is refused with a clear message.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from creator_chat.errors import DependencyUnavailable

DATABASE_FILE = "creator-chat.sqlite3"
Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]


class SchemaTooNew(RuntimeError):
    """The database was written by a newer creator-chat than this one."""


class Database:
    """A SQLite database with per-thread connections, nested transactions and migrations."""

    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: Synchronous = "NORMAL",
        busy_timeout_ms: int = 10_000,
        migrate: bool = True,
    ) -> None:
        from creator_chat.adapters.embedded.schema import MIGRATIONS

        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        self.commits = 0
        conn = self.connection()
        conn.execute("PRAGMA journal_mode=WAL")
        if migrate:
            self._migrate(MIGRATIONS)

    # -- connections ---------------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode: transactions are explicit)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise DependencyUnavailable("the embedded database is closed")
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=self._busy_timeout_ms / 1000,
            )
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
            self._local.depth = 0
            self._local.hooks = []
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection (the WAL is checkpointed by the last one)."""
        self._closed = True
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # -- transactions --------------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        return int(getattr(self._local, "depth", 0)) > 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; inside another one on this thread, a savepoint of that one: a
        nested block that fails is undone alone (the caller may carry on), one that succeeds
        commits with the outer transaction."""
        conn = self.connection()
        if self._local.depth > 0:
            self._local.depth += 1
            savepoint = f"sp{self._local.depth}"
            _execute(conn, f"SAVEPOINT {savepoint}")
            try:
                yield conn
                _execute(conn, f"RELEASE {savepoint}")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute(f"ROLLBACK TO {savepoint}")
                    conn.execute(f"RELEASE {savepoint}")
                raise
            finally:
                self._local.depth -= 1
            return
        with self._write_lock:
            _execute(conn, "BEGIN IMMEDIATE")
            self._local.depth = 1
            self._local.hooks = []
            try:
                yield conn
                _execute(conn, "COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._local.depth = 0
                hooks, self._local.hooks = self._local.hooks, []
            self.commits += 1
        for hook in hooks:  # only reached after a commit: a rollback drops them
            hook()

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once the current transaction commits (at once outside of one);
        a rolled-back transaction drops its hooks."""
        if self.in_transaction:
            self._local.hooks.append(hook)
        else:
            hook()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every statement inside sees the same committed state."""
        conn = self.connection()
        if self._local.depth > 0:
            yield conn
            return
        _execute(conn, "BEGIN")
        self._local.depth = 1
        try:
            yield conn
        finally:
            self._local.depth = 0
            with contextlib.suppress(sqlite3.Error):
                conn.execute("COMMIT")

    # -- statements ----------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return _execute(self.connection(), sql, params).fetchall()

    def query_one(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> sqlite3.Row | None:
        row: sqlite3.Row | None = _execute(self.connection(), sql, params).fetchone()
        return row

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        """One write statement in its own transaction (or in the caller's)."""
        with self.transaction() as conn:
            return _execute(conn, sql, params)

    # -- schema --------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        row = self.connection().execute("PRAGMA user_version").fetchone()
        return int(row[0])

    def _migrate(self, migrations: Sequence[str]) -> None:
        known = len(migrations)
        with self.transaction() as conn:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if current > known:
                raise SchemaTooNew(
                    f"{self.path} has schema version {current}, but this creator-chat knows "
                    f"versions up to {known}: it was written by a newer release. Upgrade "
                    "creator-chat, or start with another --data-dir."
                )
            for version in range(current + 1, known + 1):
                for statement in _statements(migrations[version - 1]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={version}")

    # -- housekeeping --------------------------------------------------------------------
    def purge_expired(self, now: float) -> dict[str, int]:
        """Delete what has expired (reads already treat it as absent); rows per table."""
        from creator_chat.adapters.embedded.schema import EXPIRING_TABLES, PURGED_WITH

        removed: dict[str, int] = {}
        for table, column in EXPIRING_TABLES:
            with self.transaction() as conn:
                for child, key, parent in PURGED_WITH:
                    if parent == table:
                        removed[child] = conn.execute(
                            f"DELETE FROM {child} WHERE {key} IN (SELECT {key} FROM {parent}"  # noqa: S608
                            f" WHERE {column} IS NOT NULL AND {column} <= ?)",
                            (int(now),),
                        ).rowcount
                cur = conn.execute(
                    f"DELETE FROM {table} WHERE {column} IS NOT NULL AND {column} <= ?",  # noqa: S608
                    (int(now),),
                )
                removed[table] = cur.rowcount
        return removed

    def checkpoint(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (``executescript`` would commit)."""
    out: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                out.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        out.append(buffer.strip())
    return out


def _execute(
    conn: sqlite3.Connection, sql: str, params: Sequence[Any] | dict[str, Any] = ()
) -> sqlite3.Cursor:
    """Run one statement; a locked or unavailable file is a dependency failure (503, retry)."""
    try:
        return conn.execute(sql, params)
    except sqlite3.OperationalError as err:
        message = str(err)
        if "locked" in message or "busy" in message or "disk I/O" in message:
            raise DependencyUnavailable(f"embedded database unavailable ({message})") from err
        raise

"""The embedded database itself: schema versions, units of work, expiry, one server per dir."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from creator_chat.adapters.embedded.database import DATABASE_FILE, Database, SchemaTooNew
from creator_chat.adapters.embedded.schema import MIGRATIONS
from creator_chat.local.runtime import DataDirInUse, lock_data_dir


def test_a_new_database_records_the_latest_schema_version(tmp_path: Path):
    db = Database(tmp_path / DATABASE_FILE)
    assert db.schema_version == len(MIGRATIONS)
    assert db.query_one("PRAGMA journal_mode")[0] == "wal"
    db.close()


def test_an_older_database_is_migrated_forward_at_open(tmp_path: Path):
    path = tmp_path / DATABASE_FILE
    sqlite3.connect(path).close()  # version 0: an empty file
    db = Database(path)
    assert db.schema_version == len(MIGRATIONS)
    assert db.query("SELECT * FROM creators") == []
    db.close()


def test_a_database_from_a_newer_release_is_refused_with_a_clear_message(tmp_path: Path):
    path = tmp_path / DATABASE_FILE
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer release"):
        Database(path)


def test_writes_inside_a_unit_of_work_commit_together_or_not_at_all(tmp_path: Path):
    db = Database(tmp_path / DATABASE_FILE)
    ran: list[str] = []
    with pytest.raises(RuntimeError), db.transaction():
        db.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
        with db.transaction():  # a store's own transaction joins the outer one
            db.execute("INSERT INTO meta (key, value) VALUES ('b', '2')")
        db.after_commit(lambda: ran.append("hook"))
        raise RuntimeError("crash between the two writes")
    assert db.query("SELECT key FROM meta") == []
    assert ran == []  # a rolled-back transaction drops its hooks
    with db.transaction():
        db.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
        db.after_commit(lambda: ran.append("hook"))
        assert ran == []  # not before the commit
    assert ran == ["hook"]
    assert [r[0] for r in db.query("SELECT key FROM meta")] == ["a"]
    db.close()


def test_a_commit_is_visible_to_another_connection_at_once(tmp_path: Path):
    db = Database(tmp_path / DATABASE_FILE)
    db.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
    other = sqlite3.connect(tmp_path / DATABASE_FILE)
    assert other.execute("SELECT value FROM meta WHERE key = 'k'").fetchone() == ("v",)
    other.close()
    db.close()


def test_concurrent_writers_from_many_threads_all_land(tmp_path: Path):
    db = Database(tmp_path / DATABASE_FILE)

    def write(n: int) -> None:
        for i in range(20):
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"{n}-{i}", "x"))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert db.query_one("SELECT COUNT(*) FROM meta")[0] == 16 * 20
    db.close()


def test_purge_deletes_only_what_has_expired(tmp_path: Path):
    db = Database(tmp_path / DATABASE_FILE)
    db.execute("INSERT INTO rate_limits (key, count, expires_at) VALUES ('old', 1, 100)")
    db.execute("INSERT INTO rate_limits (key, count, expires_at) VALUES ('new', 1, 300)")
    removed = db.purge_expired(200)
    assert removed["rate_limits"] == 1
    assert [r[0] for r in db.query("SELECT key FROM rate_limits")] == ["new"]
    db.close()


def test_a_second_server_on_the_same_data_dir_is_refused(tmp_path: Path):
    held = lock_data_dir(tmp_path)
    with pytest.raises(DataDirInUse, match="another creator-chat serve"):
        lock_data_dir(tmp_path)
    held.close()
    lock_data_dir(tmp_path).close()  # free again once the first one is gone


def test_purge_takes_a_threads_messages_and_ratings_with_it(tmp_path: Path):
    from creator_chat.adapters.embedded.threads import EmbeddedThreadStore
    from creator_chat.clock import FixedClock
    from creator_chat.domain.models import Feedback, Message, Thread

    db = Database(tmp_path / DATABASE_FILE)
    clock = FixedClock(1_000)
    threads = EmbeddedThreadStore(db, clock, idle_ttl_s=100)
    old = Thread("th_old", "fan", "cr_a", 1_000, 1_000, 1_100)
    new = Thread("th_new", "fan", "cr_a", 1_000, 1_000, 1_100)
    for t in (old, new):
        threads.create_thread(
            t, Message(f"{t.thread_id}-1", t.thread_id, "fan", "cr_a", "user", "q", 1_000)
        )
        threads.put_feedback(Feedback(f"{t.thread_id}-1", "fan", "cr_a", t.thread_id, "up"))
    clock.advance(60)
    threads.append_message(new, Message("th_new-2", "th_new", "fan", "cr_a", "user", "q2", 1_060))
    removed = db.purge_expired(1_120)  # the old thread expired at 1_100, the new one at 1_160
    assert removed["threads"] == 1 and removed["messages"] == 1 and removed["feedback"] == 1
    left = {r[0] for r in db.query("SELECT message_id FROM messages")}
    assert left == {"th_new-1", "th_new-2"}
    db.close()


def test_a_failed_nested_write_is_undone_alone_and_the_unit_of_work_still_commits(
    tmp_path: Path,
):
    db = Database(tmp_path / DATABASE_FILE)
    with db.transaction():
        db.execute("INSERT INTO meta (key, value) VALUES ('kept', '1')")
        with pytest.raises(sqlite3.IntegrityError), db.transaction():
            db.execute("INSERT INTO meta (key, value) VALUES ('half', '1')")
            db.execute("INSERT INTO meta (key, value) VALUES ('kept', 'duplicate')")
    assert [r[0] for r in db.query("SELECT key FROM meta ORDER BY key")] == ["kept"]
    db.close()

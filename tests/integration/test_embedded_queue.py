"""The embedded job queue beyond the shared contract (``tests/contracts/test_job_queue.py``):
durability across a restart and a crash, receipts, the long poll, transactions, the poller."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from creator_chat.adapters.embedded.database import Database
from creator_chat.adapters.embedded.queue import RECHECK_S, EmbeddedJobQueue, QueueCounts
from creator_chat.errors import DependencyUnavailable
from creator_chat.local.gateway import LocalFunction
from creator_chat.local.poller import EmbeddedSource, QueuePoller
from creator_chat.resources import Queue

NAME = "test-ingest-jobs"
VISIBILITY_S = 1
DECLARED = Queue(NAME, visibility_timeout_s=VISIBILITY_S, max_receive_count=3)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "creator-chat.sqlite3"


@pytest.fixture
def db(path: Path) -> Iterator[Database]:
    database = Database(path)
    yield database
    database.close()


@pytest.fixture
def queue(db: Database) -> EmbeddedJobQueue:
    return EmbeddedJobQueue(db, NAME)


def receive(q: EmbeddedJobQueue, *, wait_s: float = 0, n: int = 10) -> list[dict[str, Any]]:
    return q.receive(
        n, visibility_timeout_s=VISIBILITY_S, max_receive_count=3, dlq=q.dlq_name, wait_s=wait_s
    )


def test_a_sent_job_survives_closing_and_reopening_the_database(path: Path) -> None:
    first = Database(path)
    message_id = EmbeddedJobQueue(first, NAME).send({"job_id": "j1"})
    first.close()

    reopened = Database(path)
    try:
        (m,) = receive(EmbeddedJobQueue(reopened, NAME))
        assert (m["MessageId"], json.loads(m["Body"])) == (message_id, {"job_id": "j1"})
        assert EmbeddedJobQueue(reopened, "another-queue").depth() == 0  # queues are apart
    finally:
        reopened.close()


CRASHING_CONSUMER = """
import os, sys
from creator_chat.adapters.embedded.database import Database
from creator_chat.adapters.embedded.queue import EmbeddedJobQueue
q = EmbeddedJobQueue(Database(sys.argv[1]), sys.argv[2])
print(len(q.receive(10, visibility_timeout_s=float(sys.argv[3]))), flush=True)
os._exit(9)  # dies mid-batch: nothing deleted, nothing closed
"""


def test_the_in_flight_job_of_a_crashed_consumer_is_redelivered_after_its_timeout(
    path: Path, queue: EmbeddedJobQueue
) -> None:
    message_id = queue.send({"job_id": "j1"})

    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_CONSUMER, str(path), NAME, str(VISIBILITY_S)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    crashed_at = time.monotonic()

    assert (crashed.returncode, crashed.stdout.strip()) == (9, "1"), crashed.stderr
    assert queue.counts().in_flight == 1
    assert receive(queue) == []  # still hidden: the crashed consumer's timeout runs on
    (m,) = receive(queue, wait_s=VISIBILITY_S + 2)
    assert time.monotonic() - crashed_at >= VISIBILITY_S * 0.5
    assert m["MessageId"] == message_id
    assert m["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_restart_releases_in_flight_jobs_but_not_delayed_ones(path: Path) -> None:
    first = Database(path)
    queue = EmbeddedJobQueue(first, NAME)
    delayed = queue.send({"job_id": "later"}, delay_s=30)
    queue.send({"job_id": "now"})
    (taken,) = receive(queue)  # a consumer took it, then the process ended
    assert queue.counts() == QueueCounts(visible=0, in_flight=1, delayed=1)
    first.close()

    reopened = Database(path)
    try:
        queue = EmbeddedJobQueue(reopened, NAME)
        assert queue.release_inflight() == 1
        (again,) = receive(queue)
        assert again["MessageId"] == taken["MessageId"]
        assert delayed not in {m["MessageId"] for m in receive(queue)}  # still delayed
        assert queue.counts().delayed == 1
    finally:
        reopened.close()


def test_a_stale_receipt_does_not_delete_the_redelivered_message(queue: EmbeddedJobQueue) -> None:
    queue.send({"job_id": "j1"})
    (first,) = receive(queue)
    (again,) = receive(queue, wait_s=VISIBILITY_S + 2)  # the first consumer overran

    assert queue.delete([first["ReceiptHandle"]]) == 0
    assert queue.depth() == 1
    assert queue.delete([again["ReceiptHandle"]]) == 1
    assert queue.depth() == 0


def test_change_visibility_and_release_inflight(queue: EmbeddedJobQueue) -> None:
    queue.send({"job_id": "j1"})
    (m,) = receive(queue)
    assert queue.change_visibility(m["ReceiptHandle"], 0)
    (again,) = receive(queue)  # visible at once
    assert not queue.change_visibility(m["ReceiptHandle"], 0)  # that receipt is stale now

    assert queue.release_inflight() == 1  # what the runtime does at start
    (third,) = receive(queue)
    assert third["Attributes"]["ApproximateReceiveCount"] == "3"  # crashes still count
    assert third["ReceiptHandle"] not in (m["ReceiptHandle"], again["ReceiptHandle"])


def test_the_long_poll_returns_as_soon_as_a_job_is_sent(queue: EmbeddedJobQueue) -> None:
    threading.Timer(0.2, queue.send, args=({"job_id": "j1"},)).start()
    started = time.monotonic()

    (m,) = receive(queue, wait_s=5)

    assert time.monotonic() - started < 1.0
    assert json.loads(m["Body"]) == {"job_id": "j1"}


def test_the_long_poll_sees_a_job_another_process_wrote(
    path: Path, queue: EmbeddedJobQueue
) -> None:
    def foreign_insert() -> None:  # a plain connection: no in-process notification
        import sqlite3

        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute(
            "INSERT INTO jobs (queue, message_id, body, sent_at, visible_at)"
            " VALUES (?, 'from-cli', '{}', ?, ?)",
            (NAME, time.time(), time.time()),
        )
        conn.close()

    threading.Timer(0.1, foreign_insert).start()
    started = time.monotonic()

    (m,) = receive(queue, wait_s=5)

    assert m["MessageId"] == "from-cli"
    assert time.monotonic() - started < 0.1 + RECHECK_S + 0.5


def test_an_idle_long_poll_sleeps_instead_of_spinning(queue: EmbeddedJobQueue) -> None:
    cpu, started = time.process_time(), time.monotonic()

    assert receive(queue, wait_s=1.5) == []

    assert time.monotonic() - started >= 1.4
    assert time.process_time() - cpu < 0.3


def test_a_job_sent_in_a_rolled_back_transaction_is_not_queued(
    db: Database, queue: EmbeddedJobQueue
) -> None:
    with pytest.raises(RuntimeError), db.transaction():
        queue.send({"job_id": "lost"})
        raise RuntimeError("the document write failed")
    assert queue.depth() == 0

    with db.transaction():
        queue.send({"job_id": "kept"})
        reader = Database(db.path, migrate=False)  # another connection sees nothing yet
        assert EmbeddedJobQueue(reader, NAME).depth() == 0
        reader.close()
    (m,) = receive(queue)
    assert json.loads(m["Body"]) == {"job_id": "kept"}


def test_a_closed_database_is_a_dependency_failure(db: Database, queue: EmbeddedJobQueue) -> None:
    db.close()
    with pytest.raises(DependencyUnavailable):
        queue.send({"job_id": "j1"})


def test_concurrent_receivers_on_two_connections_get_each_job_once(path: Path) -> None:
    """Two ``Database`` objects on one file stand for two processes."""
    one, two = Database(path), Database(path)
    try:
        ids = {EmbeddedJobQueue(one, NAME).send({"n": i}) for i in range(200)}
        seen: list[str] = []
        lock = threading.Lock()

        def consume(db: Database) -> None:
            q = EmbeddedJobQueue(db, NAME)
            while batch := receive(q, n=7):
                with lock:
                    seen.extend(m["MessageId"] for m in batch)
                q.delete(m["ReceiptHandle"] for m in batch)

        threads = [threading.Thread(target=consume, args=(d,)) for d in (one, two) * 4]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)

        assert set(seen) == ids
        assert max(Counter(seen).values()) == 1
    finally:
        one.close()
        two.close()


def test_the_poller_runs_a_worker_from_the_embedded_queue(queue: EmbeddedJobQueue) -> None:
    """Background threads, as ``creator-chat serve`` runs them: a job that fails every time
    reaches the DLQ after the declared receives, the others are done once."""
    handled: Counter[int] = Counter()

    def worker(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            n = json.loads(record["body"])["n"]
            handled[n] += 1
            if n == 0:
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    for n in range(5):
        queue.send({"n": n})
    poller = QueuePoller(
        EmbeddedSource(queue, DECLARED),
        LocalFunction("worker", worker, 60, 1024),
        batch_size=10,
        concurrency=2,
        wait_s=1,
    )
    dlq = EmbeddedJobQueue(queue.database, queue.dlq_name)
    poller.start()
    try:
        deadline = time.monotonic() + 10
        while (queue.depth() or dlq.depth() != 1) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop_started = time.monotonic()
        poller.stop()
    assert not poller.running
    assert time.monotonic() - stop_started < 1.5  # an idle long poll ends within wait_s

    assert handled == {0: 3, 1: 1, 2: 1, 3: 1, 4: 1}
    (dead,) = dlq.receive(1, visibility_timeout_s=VISIBILITY_S)
    assert json.loads(dead["Body"]) == {"n": 0}

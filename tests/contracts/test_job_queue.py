"""The job queue contract: what the workers rely on, on SQS (moto) and the embedded queue.

Each family is driven through the poller's message source (``SqsSource``, ``EmbeddedSource``)
and fed through the ``JobQueue`` port (``stores.ingest_queue``), with the declared
``ingest-jobs`` queue at a 1-second visibility timeout. The AWS family's queues are shared by
the module's tests: every job carries this test's tag, a message of another test (left over
by one that failed) is deleted on sight, and each test deletes what it sent.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from creator_chat.adapters.embedded.queue import EmbeddedJobQueue
from creator_chat.container import Container
from creator_chat.local.gateway import LocalFunction
from creator_chat.local.poller import EmbeddedSource, MessageSource, QueuePoller, SqsSource
from creator_chat.resources import DECLARATION

QUEUE = DECLARATION.queue("ingest-jobs")
VISIBILITY_S = 1
MAX_RECEIVES = QUEUE.max_receive_count


class EmbeddedDlqSource:
    """The embedded DLQ read as SQS reads a DLQ: no redrive of its own."""

    def __init__(self, queue: EmbeddedJobQueue) -> None:
        self.queue = queue
        self.arn = f"arn:aws:sqs:us-east-1:000000000000:{queue.name}"

    def receive(self, max_messages: int, wait_s: float) -> list[dict[str, Any]]:
        return self.queue.receive(max_messages, visibility_timeout_s=VISIBILITY_S, wait_s=wait_s)

    def delete(self, messages: Sequence[dict[str, Any]]) -> None:
        self.queue.delete(m["ReceiptHandle"] for m in messages)


@dataclass
class Jobs:
    """This test's view of the family's ingest queue and its DLQ."""

    stores: Container
    source: MessageSource
    dlq: MessageSource
    tag: str

    def send(self, n: int) -> list[str]:
        """Queue ``n`` jobs through the JobQueue port; their message ids in send order."""
        return [self.stores.ingest_queue.send({"tag": self.tag, "n": i}) for i in range(n)]

    def mine(self, source: MessageSource, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """This test's messages; another test's leftovers are deleted (tests run in turn)."""
        ours = [m for m in messages if json.loads(m["Body"]).get("tag") == self.tag]
        others = [m for m in messages if m not in ours]
        if others:
            source.delete(others)
        return ours

    def receive(self, *, wait_s: float = 0, source: MessageSource | None = None) -> list[Any]:
        """One receive of up to 10 messages; only this test's."""
        source = source or self.source
        return self.mine(source, source.receive(10, wait_s))

    def receive_until(
        self, want: int, *, budget_s: float, source: MessageSource | None = None
    ) -> list[dict[str, Any]]:
        """Long-poll until ``want`` of this test's messages came (or ``budget_s`` passed)."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + budget_s
        while len(got) < want and time.monotonic() < deadline:
            got += self.receive(wait_s=1, source=source)
        return got


def receive_count(message: dict[str, Any]) -> int:
    return int(message["Attributes"]["ApproximateReceiveCount"])


def n_of(message: dict[str, Any]) -> int:
    return int(json.loads(message["Body"])["n"])


@pytest.fixture
def jobs(stores: Container, family: str) -> Iterator[Jobs]:
    if family == "aws":
        sqs = stores.aws.client("sqs")

        def url(logical: str) -> str:
            name = stores.settings.physical_name("queue", logical)
            return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])

        source: MessageSource = SqsSource(sqs, url(QUEUE.name))
        dlq: MessageSource = SqsSource(sqs, url(QUEUE.dlq_name))
    else:
        queue = stores.ingest_queue
        assert isinstance(queue, EmbeddedJobQueue)
        source = EmbeddedSource(queue, QUEUE, visibility_timeout_s=VISIBILITY_S)
        dlq = EmbeddedDlqSource(EmbeddedJobQueue(queue.database, queue.dlq_name))
    yield Jobs(stores, source, dlq, tag=uuid.uuid4().hex)


def test_sent_jobs_are_received_in_a_batch_in_send_order(jobs: Jobs) -> None:
    ids = jobs.send(3)

    batch = jobs.receive(wait_s=1)

    assert [m["MessageId"] for m in batch] == ids
    assert [n_of(m) for m in batch] == [0, 1, 2]
    assert all(receive_count(m) == 1 for m in batch)
    assert all(int(m["Attributes"]["SentTimestamp"]) > 0 for m in batch)
    jobs.source.delete(batch)


def test_a_deleted_job_never_returns(jobs: Jobs) -> None:
    jobs.send(2)
    first = jobs.receive(wait_s=1)
    assert len(first) == 2
    deleted, kept = first

    jobs.source.delete([deleted])
    back = jobs.receive_until(1, budget_s=VISIBILITY_S + 3)

    # both were hidden for the same timeout: the one not deleted is back, the other is gone
    assert [m["MessageId"] for m in back] == [kept["MessageId"]]
    jobs.source.delete(back)


def test_a_job_not_deleted_returns_after_the_visibility_timeout(jobs: Jobs) -> None:
    (message_id,) = jobs.send(1)
    (first,) = jobs.receive(wait_s=1)
    received_at = time.monotonic()

    assert jobs.receive() == []  # in flight: hidden from every consumer
    (again,) = jobs.receive_until(1, budget_s=VISIBILITY_S + 3)

    assert time.monotonic() - received_at >= VISIBILITY_S * 0.8
    assert again["MessageId"] == message_id
    assert receive_count(again) == 2
    assert again["ReceiptHandle"] != first["ReceiptHandle"]
    jobs.source.delete([again])


def test_after_max_receives_the_job_lands_in_the_dlq(jobs: Jobs) -> None:
    (message_id,) = jobs.send(1)
    counts = []
    for _ in range(MAX_RECEIVES):  # the worker fails it every time: never deleted
        (m,) = jobs.receive_until(1, budget_s=VISIBILITY_S + 3)
        counts.append(receive_count(m))
    assert counts == list(range(1, MAX_RECEIVES + 1))

    # the next receive after the last visibility timeout moves it instead of delivering it
    dead: list[dict[str, Any]] = []
    deadline = time.monotonic() + VISIBILITY_S + 3
    while not dead and time.monotonic() < deadline:
        assert jobs.receive(wait_s=1) == []
        dead = jobs.receive(source=jobs.dlq)

    assert [m["MessageId"] for m in dead] == [message_id]
    assert json.loads(dead[0]["Body"]) == {"tag": jobs.tag, "n": 0}
    jobs.dlq.delete(dead)
    assert jobs.receive() == []


def test_each_job_goes_to_one_receiver_per_delivery(jobs: Jobs) -> None:
    ids = jobs.send(20)
    # (message, delivery): a job is deleted as soon as it is received, but a receiver the
    # machine stalls for longer than the 1-second visibility timeout lets it be delivered
    # again (SQS's at-least-once); a delivery itself must never reach two receivers
    seen: list[tuple[str, int]] = []
    seen_lock = threading.Lock()
    deadline = time.monotonic() + 5

    def consume() -> None:
        while time.monotonic() < deadline:
            with seen_lock:
                if len({message for message, _ in seen}) >= len(ids):
                    return
            batch = jobs.receive(wait_s=0)
            with seen_lock:
                seen.extend((m["MessageId"], receive_count(m)) for m in batch)
            if batch:
                jobs.source.delete(batch)

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted({message for message, _ in seen}) == sorted(ids)
    assert max(Counter(seen).values()) == 1


def test_a_partial_batch_failure_brings_back_only_the_failed_record(jobs: Jobs) -> None:
    ids = jobs.send(3)
    failing = ids[1]

    def worker(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        failed = [r["messageId"] for r in event["Records"] if r["messageId"] == failing]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

    poller = QueuePoller(
        jobs.source, LocalFunction("contract-worker", worker, 60, 1024), batch_size=10, wait_s=1
    )
    assert poller.poll_once() >= 3
    assert poller.batches == 1

    back = jobs.receive_until(1, budget_s=VISIBILITY_S + 3)
    assert [m["MessageId"] for m in back] == [failing]
    assert receive_count(back[0]) == 2
    jobs.source.delete(back)
    assert jobs.receive(wait_s=1) == []  # the two it reported done were deleted


DELAY_S = 2


def test_a_delayed_job_is_delivered_only_once_its_delay_is_over(jobs: Jobs) -> None:
    queue = jobs.stores.ingest_queue
    delayed = queue.send({"tag": jobs.tag, "n": 1}, delay_s=DELAY_S)
    sent_at = time.monotonic()
    (now,) = jobs.send(1)

    first = jobs.receive(wait_s=1)
    assert [m["MessageId"] for m in first] == [now]  # the delayed one stays hidden
    jobs.source.delete(first)

    (late,) = jobs.receive_until(1, budget_s=DELAY_S + 4)
    assert late["MessageId"] == delayed
    assert time.monotonic() - sent_at >= DELAY_S * 0.8
    assert receive_count(late) == 1
    jobs.source.delete([late])


def test_a_delay_beyond_sqs_limit_is_refused(jobs: Jobs) -> None:
    with pytest.raises(ValueError, match="delay_s"):
        jobs.stores.ingest_queue.send({"tag": jobs.tag, "n": 0}, delay_s=901)
    assert jobs.receive() == []

"""Chat under failing dependencies: the fan's question is never lost.

The real chat use case (``container``) on the emulator, with a deterministic fake
embedder and a generator that fails on demand; the chat worker is the real ``SqsWorker``
around ``answer_queued``, fed by a ``QueuePoller``. Each test ends with a ledger: every
accepted question has exactly one assistant message, ``answered`` or ``failed`` with a
readable reason, and no job is left behind (or it is in the DLQ, failed, on purpose).
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from creator_chat.adapters.embedded.local_index import LocalVectorIndex
from creator_chat.breaker import BreakerState, CircuitBreaker
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.models import Identity, MessageStatus, SearchHit
from creator_chat.errors import DependencyUnavailable, DomainError
from creator_chat.resources import DECLARATION
from creator_chat.settings import Settings
from creator_chat.usecases.chat import BUSY_REASON, ChatResult, answer_queued, ask
from creator_chat.workers import SqsWorker

from tests.faults.conftest import (
    NOTES,
    QUESTIONS,
    FakeEmbedder,
    FakeGenerator,
    RecordingHandler,
    dlq_bodies,
    drain,
    fan,
    make_poller,
    queue_depth,
    seed_creator,
    throttled,
)
from tests.integration.redis_fixture import RedisServer

QUEUE = DECLARATION.queue("llm-jobs")
BATCH_SIZE = next(w.batch_size for w in DECLARATION.workers if w.queue == QUEUE.name)
HTTP_STATUS = {"answered": 200, "pending": 202}  # as the chat route maps a result


def month_of(clock: FixedClock) -> str:
    return datetime.fromtimestamp(clock.now(), UTC).strftime("%Y-%m")


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """Read through a call, so mypy does not narrow the state across assertions."""
    return breaker.state


class CountingAnswer:
    """The chat worker's record handler, counting how often the use case really ran."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self.runs: Counter[str] = Counter()
        self.finals: dict[str, list[bool]] = {}

    def __call__(self, job: dict[str, Any], final_attempt: bool) -> str:
        self.runs[job["message_id"]] += 1
        self.finals.setdefault(job["message_id"], []).append(final_attempt)
        return answer_queued(self._container, job, final_attempt=final_attempt)


def chat_worker(container: Container) -> tuple[RecordingHandler, CountingAnswer]:
    """Built as functions/chat/worker.py builds it, around a counting handle."""
    handle = CountingAnswer(container)
    worker = SqsWorker(
        container,
        queue=QUEUE.name,
        key="message_id",
        handle=handle,
        max_receive_count=QUEUE.max_receive_count,
    )
    return RecordingHandler(worker), handle


def chat_container(
    settings: Settings, clock: FixedClock, generator: FakeGenerator, **overrides: Any
) -> Container:
    """A container whose overrides are in place before any adapter is built."""
    container = Container(settings, clock=clock)
    container.overrides.update(embedder=FakeEmbedder(), generator=generator, **overrides)
    return container


def ledger(container: Container, results: Sequence[ChatResult]) -> Counter[MessageStatus]:
    """Each question's thread: the question, then exactly one assistant message replying to
    it; returns how the answers ended."""
    outcome: Counter[MessageStatus] = Counter()
    for result in results:
        messages = container.threads.list_messages(result.thread_id)
        questions = [m for m in messages if m.role == "user"]
        answers = [m for m in messages if m.role == "assistant"]
        assert [q.message_id for q in questions] == [result.question_id], messages
        assert [a.message_id for a in answers] == [result.message_id], messages
        answer = answers[0]
        assert answer.reply_to == result.question_id
        if answer.status is MessageStatus.ANSWERED:
            assert answer.content and answer.citations, answer
        elif answer.status is MessageStatus.FAILED:
            assert answer.failure_reason, answer
        outcome[answer.status] += 1
    return outcome


# ------------------------------------------------------------------------------ tests
def test_redis_stopped_mid_run_chat_still_answers_and_the_cache_breaker_opens(
    settings: Settings, clock: FixedClock, redis_server: RedisServer
) -> None:
    with_redis = settings.replace(redis_url=redis_server.url)
    generator = FakeGenerator()
    container = chat_container(with_redis, clock, generator)
    creator = seed_creator(container)
    deps = container
    question = QUESTIONS[0]

    first = ask(deps, fan(), creator.creator_id, question)
    again = ask(deps, fan(), creator.creator_id, question)
    assert (first.status, first.cached) == (MessageStatus.ANSWERED, False)
    assert (again.status, again.cached) == (MessageStatus.ANSWERED, True)  # served by Redis
    assert redis_server.client().keys("resp:*")

    redis_server.stop()
    after: list[ChatResult] = []
    for _ in range(2):
        after.append(ask(deps, fan(), creator.creator_id, question))  # nothing escapes
    breaker = container.cache_breaker
    assert state_of(breaker) is BreakerState.OPEN
    assert breaker.consecutive_failures >= breaker.failure_threshold
    for result in after:
        assert (result.status, result.cached) == (MessageStatus.ANSWERED, False)
        assert HTTP_STATUS[result.status.value] == 200
        assert NOTES[0] in result.answer
    assert generator.answered == 3  # the first, and each of the two after the crash
    assert ledger(container, [first, again, *after]) == {MessageStatus.ANSWERED: 4}


def test_generator_throttling_queues_every_question_and_all_are_answered_after_recovery(
    settings: Settings, clock: FixedClock, sqs: Any, queue_urls: dict[str, str]
) -> None:
    generator = FakeGenerator(error=throttled())
    container = chat_container(settings, clock, generator)
    creator = seed_creator(container)
    deps = container
    caller = fan("throttled")
    n = 10

    results = [ask(deps, caller, creator.creator_id, QUESTIONS[i % 4]) for i in range(n)]

    assert [r.status for r in results] == [MessageStatus.PENDING] * n
    assert {HTTP_STATUS[r.status.value] for r in results} == {202}
    breaker = container.generator_breaker
    assert state_of(breaker) is BreakerState.OPEN
    assert generator.calls == breaker.failure_threshold  # later ones went straight to the queue
    url = queue_urls[QUEUE.name]
    assert queue_depth(sqs, url) == n

    # recovery: the model answers again, and the breaker's reset timeout has passed
    generator.error = None
    clock.advance(breaker.reset_timeout_s + 1)
    worker, handle = chat_worker(container)
    poller = make_poller(sqs, url, "chat-worker", worker, batch_size=BATCH_SIZE)
    drain(poller, sqs, url)

    assert all(handle.runs[r.message_id] == 1 for r in results)
    assert all(inv.failed_ids == [] for inv in worker.invocations)
    assert dlq_bodies(sqs, queue_urls[QUEUE.dlq_name]) == []
    outcome = ledger(container, results)
    assert sum(outcome.values()) == n  # accepted = answered + failed, nothing pending
    assert outcome == {MessageStatus.ANSWERED: n}
    # usage counts each answered question once
    assert container.users.get_usage(caller.user_id, month_of(clock)).requests == n

    # and new questions are answered synchronously again (the half-open trial closes it)
    fresh = ask(deps, caller, creator.creator_id, QUESTIONS[1])
    assert fresh.status is MessageStatus.ANSWERED
    assert state_of(breaker) is BreakerState.CLOSED


def test_duplicate_delivery_of_an_llm_job_answers_once(
    settings: Settings, clock: FixedClock, sqs: Any, queue_urls: dict[str, str]
) -> None:
    generator = FakeGenerator()
    container = chat_container(settings, clock, generator)
    creator = seed_creator(container)
    deps = container
    caller = fan("dup")
    result = ask(deps, caller, creator.creator_id, QUESTIONS[2], mode="async")
    assert result.status is MessageStatus.PENDING
    url = queue_urls[QUEUE.name]
    job = {
        "message_id": result.message_id,
        "thread_id": result.thread_id,
        "user_id": caller.user_id,
        "creator_id": creator.creator_id,
        "tier": caller.tier.value,
    }
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(job))  # the same job, twice
    worker, handle = chat_worker(container)
    poller = make_poller(sqs, url, "chat-worker", worker, batch_size=BATCH_SIZE)

    drain(poller, sqs, url)

    assert len(worker.receive_counts("message_id", result.message_id)) == 2
    assert handle.runs[result.message_id] == 1
    assert generator.calls == 1
    assert all(inv.failed_ids == [] for inv in worker.invocations)
    assert dlq_bodies(sqs, queue_urls[QUEUE.dlq_name]) == []
    assert ledger(container, [result]) == {MessageStatus.ANSWERED: 1}
    assert container.users.get_usage(caller.user_id, month_of(clock)).requests == 1


def test_generator_never_recovering_ends_the_message_failed_and_the_job_in_the_dlq(
    settings: Settings, clock: FixedClock, sqs: Any, queue_urls: dict[str, str]
) -> None:
    generator = FakeGenerator(error=throttled())
    container = chat_container(settings, clock, generator)
    creator = seed_creator(container)
    deps = container
    result = ask(deps, fan("doomed"), creator.creator_id, QUESTIONS[3])
    assert result.status is MessageStatus.PENDING
    url, dlq_url = queue_urls[QUEUE.name], queue_urls[QUEUE.dlq_name]
    worker, handle = chat_worker(container)
    poller = make_poller(sqs, url, "chat-worker", worker, batch_size=BATCH_SIZE)

    drain(poller, sqs, url)

    assert worker.receive_counts("message_id", result.message_id) == [1, 2, 3]
    assert handle.finals[result.message_id] == [False, False, True]
    assert [b["message_id"] for b in dlq_bodies(sqs, dlq_url)] == [result.message_id]
    assert ledger(container, [result]) == {MessageStatus.FAILED: 1}
    failed = container.threads.get_message(result.thread_id, result.message_id)
    assert failed is not None and failed.failure_reason == BUSY_REASON
    assert failed.content == ""  # no half answer


class FlakyIndex(LocalVectorIndex):
    """The in-memory local index; every query fails while ``down`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.queries = 0

    def search(self, *args: Any, **kwargs: Any) -> list[SearchHit]:
        self.queries += 1
        if self.down:
            raise DependencyUnavailable("OpenSearch search failed: ConnectionTimeout")
        return super().search(*args, **kwargs)


def test_vector_index_outage_queues_the_question_and_it_is_answered_later(
    settings: Settings, clock: FixedClock, sqs: Any, queue_urls: dict[str, str]
) -> None:
    index = FlakyIndex()
    generator = FakeGenerator()
    container = chat_container(settings, clock, generator, index=index)
    creator = seed_creator(container)
    deps = container
    index.down = True
    breaker = container.generator_breaker
    outage = breaker.failure_threshold + 1

    results = [ask(deps, fan("no-index"), creator.creator_id, QUESTIONS[0]) for _ in range(outage)]
    result = results[0]

    # not a 503: the question and a pending answer are persisted and the job is queued
    assert [r.status for r in results] == [MessageStatus.PENDING] * outage
    assert HTTP_STATUS[result.status.value] == 202
    assert index.queries == outage and generator.calls == 0
    assert ledger(container, results) == {MessageStatus.PENDING: outage}
    url = queue_urls[QUEUE.name]
    assert queue_depth(sqs, url) == outage
    # the model did nothing wrong: its breaker stays closed, so once the index is back the
    # next question is answered at once instead of queued for the breaker's reset timeout
    assert state_of(breaker) is BreakerState.CLOSED

    index.down = False
    worker, _handle = chat_worker(container)
    poller = make_poller(sqs, url, "chat-worker", worker, batch_size=BATCH_SIZE)
    drain(poller, sqs, url)

    assert ledger(container, results) == {MessageStatus.ANSWERED: outage}
    answered = container.threads.get_message(result.thread_id, result.message_id)
    assert answered is not None and NOTES[0] in answered.content
    fresh = ask(deps, fan("no-index"), creator.creator_id, QUESTIONS[1])
    assert fresh.status is MessageStatus.ANSWERED


def test_non_transient_generator_error_in_the_worker_still_ends_failed(
    settings: Settings, clock: FixedClock, sqs: Any, queue_urls: dict[str, str]
) -> None:
    """A model error that is not throttling (Bedrock's ValidationException becomes a plain
    ``DomainError``) on every attempt: once the job is in the DLQ the message must say it
    failed, not stay ``pending`` for ever."""
    generator = FakeGenerator()
    container = chat_container(settings, clock, generator)
    creator = seed_creator(container)
    deps = container
    result = ask(deps, fan("invalid"), creator.creator_id, QUESTIONS[1], mode="async")
    generator.error = DomainError("bedrock generation failed: ValidationException")
    url, dlq_url = queue_urls[QUEUE.name], queue_urls[QUEUE.dlq_name]
    worker, _handle = chat_worker(container)
    poller = make_poller(sqs, url, "chat-worker", worker, batch_size=BATCH_SIZE)

    drain(poller, sqs, url)

    assert [b["message_id"] for b in dlq_bodies(sqs, dlq_url)] == [result.message_id]
    assert ledger(container, [result]) == {MessageStatus.FAILED: 1}


def test_non_transient_generator_error_in_a_sync_ask_leaves_no_unanswered_question(
    settings: Settings, clock: FixedClock
) -> None:
    """The request may fail, but the question it persisted must get an assistant message
    (``failed`` with a reason, or ``pending`` and queued), not dangle unanswered."""
    generator = FakeGenerator(error=DomainError("bedrock generation failed: ValidationException"))
    container = chat_container(settings, clock, generator)
    creator = seed_creator(container)
    deps = container
    caller: Identity = fan("sync-invalid")

    with contextlib.suppress(DomainError):  # a 500 is fine; an unanswered question is not
        ask(deps, caller, creator.creator_id, QUESTIONS[0])

    thread = container.threads.find_latest_thread(caller.user_id, creator.creator_id)
    assert thread is not None
    messages = container.threads.list_messages(thread.thread_id)
    questions = [m for m in messages if m.role == "user"]
    answers = [m for m in messages if m.role == "assistant"]
    assert len(questions) == 1
    assert [a.reply_to for a in answers] == [questions[0].message_id], (
        "the fan's question was persisted, then the request failed without an answer "
        "message: it shows in the thread for ever with no reply and no reason"
    )
    assert answers[0].status in (MessageStatus.FAILED, MessageStatus.PENDING)
    if answers[0].status is MessageStatus.FAILED:
        assert answers[0].failure_reason


@pytest.fixture(autouse=True)
def _no_leftover_jobs(sqs: Any, queue_urls: dict[str, str]) -> Any:
    yield
    # every test drains what it queued (the DLQ holds only what a test put there on purpose)
    assert queue_depth(sqs, queue_urls[QUEUE.name]) == 0

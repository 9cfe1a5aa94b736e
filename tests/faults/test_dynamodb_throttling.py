"""DynamoDB throttling (``ProvisionedThroughputExceededException``) during chat.

The fault is injected where DynamoDB raises it: in botocore, on the container's DynamoDB
client (a ``before-call`` hook answers the n-th call with a 400 and that error code, so the
adapters' own error translation runs). Each test throttles every DynamoDB call of a request
in turn — the first, the second, … up to the last one a clean request makes — once, for a
fresh fan, then checks:

- the fan's answer: ``200`` answered, ``202`` queued, or ``503`` with the JSON error body;
  never a 500;
- the ledger once the chat worker has drained the queue: every stored question has one
  assistant reply, answered or failed with a reason, and nothing is left pending.

Requests go through the local gateway (``LocalGateway.dispatch``) to the real chat app, as
``creator-chat serve`` routes them, with a test authorizer that trusts a header.

``KNOWN_GAPS`` lists, step by step, where the ledger does not balance today (see each
entry): the test holds the chat path to exactly those, so a fix shows up as a failure here
that asks for its entry to be deleted, and a new gap fails the test.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from creator_chat.api.chat_app import create_app as create_chat_app
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.models import MessageStatus
from creator_chat.local.gateway import GatewayResponse, LocalFunction, LocalGateway
from creator_chat.resources import DECLARATION
from creator_chat.settings import Settings
from creator_chat.usecases.chat import answer_queued
from creator_chat.workers import SqsWorker

from tests.faults.conftest import (
    QUESTIONS,
    FakeEmbedder,
    FakeGenerator,
    RecordingHandler,
    drain,
    make_poller,
    queue_depth,
    seed_creator,
)

QUEUE = DECLARATION.queue("llm-jobs")
BATCH_SIZE = next(w.batch_size for w in DECLARATION.workers if w.queue == QUEUE.name)
THROTTLED = "ProvisionedThroughputExceededException"
HOLD = Settings().prompt_token_budget + Settings().answer_max_tokens  # what an answer reserves

# (mode, step throttled) -> what goes wrong there today. Every entry would be a reported bug
# in usecases/chat.py or adapters/dynamodb.py (outside the HTTP edge).
EMPTY_THREAD = "a thread with no message (titled with the question) stays in the fan's list"
MISCOUNTED = "the thread's message_count is one more than the messages it holds"
UNANSWERED = "the question is stored with no reply: the TTL refresh after the write raised"
DOUBLE_REPLY = "the question has a stored answer and also a 'failed' reply"
STUCK_PENDING = "a pending reply whose job was never queued: pending for ever"
# None today: a new thread is stored with its first message (message first, then the
# thread), and a message write that fails takes back the count it had added.
KNOWN_GAPS: dict[tuple[str, str], set[str]] = {}


# ------------------------------------------------------------------ fault injection
def step_of(operation: str, request: dict[str, Any]) -> str:
    """A readable name for a DynamoDB call of the chat path, from its request."""
    table = str(request.get("TableName", "")).rsplit("-", 1)[-1]
    key = request.get("Key") or request.get("Item") or {}
    sk = str(key.get("sk", {}).get("S", ""))
    if table == "conversations" and operation == "PutItem":
        return "create thread" if sk == "META" else "store message"
    if table == "conversations" and operation == "UpdateItem":
        update = str(request.get("UpdateExpression", ""))
        return "refresh message ttls" if "ttl_refreshed_at" in update else "count message"
    if table == "users" and operation == "UpdateItem":
        update = str(request.get("UpdateExpression", ""))
        if update.startswith("SET #h"):
            return "reserve tokens"  # the monthly token budget's hold for this answer
        return "release tokens" if "requests" not in update else "count usage"
    return {
        ("creators", "GetItem"): "load creator",
        ("rate_limits", "UpdateItem"): "quota",
        ("trending", "PutItem"): "trending asker",
        ("trending", "UpdateItem"): "trending",
        ("users", "GetItem"): "load profile",
        ("users", "UpdateItem"): "count usage",
    }.get((table, operation), f"{table} {operation}")


@dataclass
class DynamoThrottle:
    """Answers the ``fail_at``-th DynamoDB call (1-based, counted from ``arm()``) with
    ``ProvisionedThroughputExceededException``, once; names every call ``"<step> #<k>"``."""

    steps: list[str] = field(default_factory=list)
    fail_at: int | None = None
    failed: str | None = None

    def install(self, container: Container) -> DynamoThrottle:
        client = container.aws.resource("dynamodb").meta.client
        client.meta.events.register("before-call.dynamodb", self._before_call)
        return self

    def arm(self, fail_at: int | None) -> None:
        self.steps, self.fail_at, self.failed = [], fail_at, None

    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        step = step_of(model.name, json.loads(params.get("body") or b"{}"))
        nth = sum(1 for s in self.steps if s.rsplit(" #", 1)[0] == step) + 1
        self.steps.append(f"{step} #{nth}")
        if self.fail_at != len(self.steps):
            return None
        self.failed = self.steps[-1]
        parsed = {
            "Error": {"Code": THROTTLED, "Message": "throughput for the table was exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return SimpleNamespace(status_code=400, headers={}, content=b""), parsed


# ---------------------------------------------------------------- the HTTP path
def trusting_authorizer(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Identity from ``Authorization: Bearer <user_id>`` (a free-tier fan)."""
    user_id = event["headers"]["authorization"].removeprefix("Bearer ")
    return {"isAuthorized": True, "context": {"user_id": user_id, "role": "fan", "tier": "free"}}


def gateway_for(container: Container) -> LocalGateway:
    chat = create_chat_app(lambda: container)
    return LocalGateway(
        list(DECLARATION.routes),
        {"chat": LocalFunction("chat", chat)},
        LocalFunction("authorizer", trusting_authorizer),
        max_concurrency=1,
    )


def post_chat(
    gw: LocalGateway, user_id: str, creator_id: str, body: dict[str, Any]
) -> GatewayResponse:
    return asyncio.run(
        gw.dispatch(
            method="POST",
            path=f"/v1/creators/{creator_id}/chat",
            query="",
            headers=[
                ("authorization", f"Bearer {user_id}"),
                ("content-type", "application/json"),
            ],
            body=json.dumps(body).encode(),
            source_ip="127.0.0.1",
        )
    )


def month_of(container: Container) -> str:
    return datetime.fromtimestamp(container.clock.now(), UTC).strftime("%Y-%m")


def check_response(response: GatewayResponse) -> dict[str, Any]:
    """200 answered, 202 queued, or 503 with the JSON error body: nothing else."""
    body: dict[str, Any] = json.loads(response.body)
    assert response.status in (200, 202, 503), (response.status, body)
    if response.status == 503:
        assert body["error"]["code"] == "dependency_unavailable", body
        assert body["error"]["message"] and body["error"]["request_id"]
    else:
        assert body["status"] == {200: "answered", 202: "pending"}[response.status], body
    return body


# ------------------------------------------------------------------------ ledger
@dataclass
class Ledger:
    questions: int = 0
    replies: Counter[str] = field(default_factory=Counter)  # status -> count
    gaps: set[str] = field(default_factory=set)


def ledger_of(container: Container, user_id: str) -> Ledger:
    """Every thread of the fan: questions, their replies, and what does not add up."""
    out = Ledger()
    for thread in container.threads.list_threads(user_id, limit=100):
        messages = container.threads.list_messages(thread.thread_id)
        if not messages:
            out.gaps.add(EMPTY_THREAD)
        if thread.message_count != len(messages):
            out.gaps.add(MISCOUNTED)
        replies: dict[str, list[Any]] = {}
        for m in (m for m in messages if m.role == "assistant"):
            replies.setdefault(m.reply_to or "", []).append(m)
            out.replies[m.status.value] += 1
            if m.status is MessageStatus.FAILED:
                assert m.failure_reason, m  # a reason the fan can read
            if m.status is MessageStatus.ANSWERED:
                assert m.content and m.citations, m
            if m.status is MessageStatus.PENDING:
                out.gaps.add(STUCK_PENDING)  # the queue was drained: nothing may wait
        for q in (m for m in messages if m.role == "user"):
            out.questions += 1
            if not replies.get(q.message_id):
                out.gaps.add(UNANSWERED)
            elif len(replies[q.message_id]) > 1:
                out.gaps.add(DOUBLE_REPLY)
    return out


# ------------------------------------------------------------------------- setup
@dataclass
class Rig:
    container: Container
    throttle: DynamoThrottle
    gateway: LocalGateway
    creator_id: str
    drain_chat_queue: Callable[[], None]


@pytest.fixture
def rig(
    settings: Settings, clock: FixedClock, sqs: Any, queue_urls: dict[str, str]
) -> Iterator[Rig]:
    # Every request must make the same DynamoDB calls for "the n-th call" to name the same
    # step each time: keep trending below its threshold (its one extra write, the question's
    # text once enough fans asked, would appear part-way through the run).
    settings = settings.replace(trending_min_askers=10**6)
    container = Container(settings, clock=clock)
    container.overrides.update(embedder=FakeEmbedder(), generator=FakeGenerator())
    creator = seed_creator(container)
    throttle = DynamoThrottle().install(container)
    gateway = gateway_for(container)
    url = queue_urls[QUEUE.name]
    worker = RecordingHandler(
        SqsWorker(
            container,
            queue=QUEUE.name,
            key="message_id",
            handle=lambda job, final: answer_queued(container, job, final_attempt=final),
            max_receive_count=QUEUE.max_receive_count,
        )
    )
    poller = make_poller(sqs, url, "chat-worker", worker, batch_size=BATCH_SIZE)

    def drain_chat_queue() -> None:
        if queue_depth(sqs, url):
            drain(poller, sqs, url)

    yield Rig(container, throttle, gateway, creator.creator_id, drain_chat_queue)
    gateway.close()
    assert queue_depth(sqs, url) == 0  # every queued answer was drained


def steps_of_a_clean_request(rig: Rig, body: dict[str, Any]) -> list[str]:
    rig.throttle.arm(None)
    user = f"fan-clean-{uuid.uuid4().hex[:6]}"
    check_response(post_chat(rig.gateway, user, rig.creator_id, body))
    steps = list(rig.throttle.steps)  # the request's own calls, not the worker's
    rig.drain_chat_queue()
    assert ledger_of(rig.container, user).gaps == set()
    return steps


# ------------------------------------------------------------------------- tests
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_throttling_at_any_dynamodb_call_of_a_chat_gives_a_clear_answer_and_loses_nothing(
    rig: Rig, mode: str
) -> None:
    body = {"message": QUESTIONS[0], "mode": mode}
    steps_of_a_clean_request(rig, body)  # the first one also reads the week's trending key
    steps = steps_of_a_clean_request(rig, body)
    assert steps[:7] == [
        "load creator #1",
        "quota #1",
        "reserve tokens #1",
        "store message #1",  # a new thread: its first message, then the thread itself
        "create thread #1",
        "trending asker #1",
        "trending #1",
    ]
    statuses: dict[str, int] = {}
    gaps: dict[tuple[str, str], set[str]] = {}
    for n, step in enumerate(steps, start=1):
        user = f"fan-{mode}-{n}-{uuid.uuid4().hex[:4]}"
        rig.throttle.arm(n)
        response = post_chat(rig.gateway, user, rig.creator_id, body)
        assert rig.throttle.failed == step, (n, rig.throttle.steps)
        answer = check_response(response)  # 200, 202 or a JSON 503: never a 500
        statuses[step] = response.status
        rig.throttle.arm(None)
        rig.drain_chat_queue()  # DynamoDB is back: queued answers are answered
        ledger = ledger_of(rig.container, user)
        if ledger.gaps:
            gaps[(mode, step)] = ledger.gaps
        assert ledger.questions <= 1, ledger
        # the budget's hold is settled or given back whatever failed — but where the
        # settlement itself failed: that hold waits for its TTL (then it is given back)
        held = rig.container.users.get_usage(user, month_of(rig.container)).reserved_tokens
        assert held == (0 if step != "count usage #1" else HOLD), (step, held)
        if response.status in (200, 202):
            # what the fan was told is what its thread holds (the queued one now answered)
            stored = rig.container.threads.get_message(answer["thread_id"], answer["message_id"])
            assert stored is not None and stored.status is MessageStatus.ANSWERED, stored
            assert ledger.gaps == set(), ledger

    # throttled before anything is stored: a clean 503, nothing half-written
    for step in (
        "load creator #1",
        "quota #1",
        "reserve tokens #1",
        "store message #1",
        "create thread #1",
    ):
        assert statuses[step] == 503
    # analytics never cost an answer
    assert statuses["trending asker #1"] == {"sync": 200, "async": 202}[mode]
    assert statuses["trending #1"] == {"sync": 200, "async": 202}[mode]
    # and the ledger balances everywhere except where it is known not to (reported bugs)
    assert gaps == {k: v for k, v in KNOWN_GAPS.items() if k[0] == mode}


def test_throttling_while_the_worker_answers_is_retried_and_answered_once(rig: Rig) -> None:
    body = {"message": QUESTIONS[1], "mode": "async"}
    rig.throttle.arm(None)
    clean_user = f"fan-worker-clean-{uuid.uuid4().hex[:4]}"
    check_response(post_chat(rig.gateway, clean_user, rig.creator_id, body))
    rig.throttle.arm(None)
    rig.drain_chat_queue()
    worker_steps = list(rig.throttle.steps)
    assert "count usage #1" in worker_steps, worker_steps
    for n, step in enumerate(worker_steps, start=1):
        user = f"fan-worker-{n}-{uuid.uuid4().hex[:4]}"
        rig.throttle.arm(None)
        answer = check_response(post_chat(rig.gateway, user, rig.creator_id, body))
        assert answer["status"] == "pending"
        rig.throttle.arm(n)  # the n-th call of the worker's first attempt fails
        rig.drain_chat_queue()  # the job comes back after the visibility timeout
        assert rig.throttle.failed == step, (n, rig.throttle.steps)
        ledger = ledger_of(rig.container, user)
        assert ledger.gaps == set(), (step, ledger)
        assert ledger.replies == {"answered": 1}, (step, ledger)
        usage = rig.container.users.get_usage(user, month_of(rig.container))
        # KNOWN GAP (reported): the answer is stored before its usage is counted; when the
        # count fails, the retry finds the answer done and the question is never counted
        # (and its budget hold waits for its TTL, then it is given back)
        assert usage.requests == (0 if step == "count usage #1" else 1), (step, usage)
        assert usage.reserved_tokens == (HOLD if step == "count usage #1" else 0), (step, usage)

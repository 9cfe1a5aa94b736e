"""Failure modes against the emulator: workers crash, dependencies fail, deliveries repeat.

Every module gets its own resources (a unique prefix), provisioned with a 1-second
visibility timeout so a failed SQS record comes back within a second or two. Workers are
driven by hand (``QueuePoller.poll_once()`` in a bounded loop, no background threads), and
each test ends with a ledger: every accepted job or question is accounted for.

Helpers here are test-only fakes: a deterministic bag-of-words embedder (fast, no model), a
generator that can be made to fail, a function recorder around worker handlers.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from creator_chat.adapters.embedded.local_index import tokenize
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.models import Chunk, Creator, Generation, Identity, Role, Tier
from creator_chat.errors import DependencyUnavailable
from creator_chat.local.gateway import LocalFunction
from creator_chat.local.poller import QueuePoller, SqsSource
from creator_chat.local.provision import provision
from creator_chat.settings import Settings

from tests.integration.redis_fixture import redis_server  # noqa: F401

VISIBILITY_S = 1
MAX_POLLS = 25  # a bound, not a timing: each empty long poll lasts about a second


@dataclass(frozen=True)
class Provisioned:
    settings: Settings
    queue_urls: dict[str, str]  # logical name (and "<name>-dlq") -> URL


@pytest.fixture
def provisioned(emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Provisioned:
    """Fresh tables and queues per test: every ledger starts from zero (and SQS allows one
    PurgeQueue a minute, so emptying shared queues is no option)."""
    s = Settings(
        storage="aws",
        resource_prefix=f"f{uuid.uuid4().hex[:8]}",
        jwt_secret="faults-secret",
        data_dir=tmp_path_factory.mktemp("faults-data"),
    )
    return Provisioned(s, provision(s, visibility_timeout_s=VISIBILITY_S))


@pytest.fixture
def settings(provisioned: Provisioned) -> Settings:
    return provisioned.settings


@pytest.fixture
def queue_urls(provisioned: Provisioned) -> dict[str, str]:
    return provisioned.queue_urls


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(1_800_000_000.0)


@pytest.fixture
def container(settings: Settings, clock: FixedClock) -> Iterator[Container]:
    yield Container(settings, clock=clock)


@pytest.fixture
def sqs(container: Container) -> Any:
    return container.aws.client("sqs")


# ------------------------------------------------------------------------------ fakes
class FakeEmbedder:
    """Hashed bag of words (the local index's tokenizer), unit length: shared words → cosine."""

    def __init__(self, dimension: int = 256) -> None:
        self._dimension = dimension
        self.calls = 0

    @property
    def model_id(self) -> str:
        return f"fake-bow-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        out: list[list[float]] = []
        for text in texts:
            vec = [0.0] * self._dimension
            for token in tokenize(text) or ["empty"]:
                digest = hashlib.blake2b(token.encode(), digest_size=4).digest()
                vec[int.from_bytes(digest, "big") % self._dimension] += 1.0
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            out.append([v / norm for v in vec])
        return out


@dataclass
class FakeGenerator:
    """Cites source 1 and quotes it; raises ``error`` (when set) instead of answering."""

    error: Exception | None = None
    calls: int = 0
    answered: int = 0

    @property
    def model_id(self) -> str:
        return "fake-generator"

    def generate(
        self,
        *,
        system: str,
        history: Sequence[Any],
        question: str,
        sources: Sequence[Chunk],
        max_tokens: int,
    ) -> Generation:
        self.calls += 1
        if self.error is not None:
            raise self.error
        self.answered += 1
        return Generation(
            f"From the notes: {sources[0].text} [1]",
            input_tokens=42,
            output_tokens=7,
            model_id=self.model_id,
            cited=[1],
        )


def throttled() -> DependencyUnavailable:
    return DependencyUnavailable("bedrock is unavailable: ThrottlingException")


@dataclass
class Invocation:
    event: dict[str, Any]
    result: Any = None
    error: BaseException | None = None

    @property
    def message_ids(self) -> list[str]:
        return [r["messageId"] for r in self.event["Records"]]

    @property
    def failed_ids(self) -> list[str]:
        """What the poller keeps: the reported failures, or every record if it raised."""
        if self.error is not None:
            return self.message_ids
        return [f["itemIdentifier"] for f in (self.result or {}).get("batchItemFailures", [])]


@dataclass
class RecordingHandler:
    """A worker handler wrapper that keeps every event and its outcome."""

    handler: Callable[[dict[str, Any], Any], Any]
    invocations: list[Invocation] = field(default_factory=list)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        inv = Invocation(event)
        self.invocations.append(inv)
        try:
            inv.result = self.handler(event, context)
        except BaseException as err:
            inv.error = err
            raise
        return inv.result

    def receive_counts(self, body_key: str, value: str) -> list[int]:
        """ApproximateReceiveCount of each delivery of the job whose body[key] == value."""
        return [
            int(r["attributes"]["ApproximateReceiveCount"])
            for inv in self.invocations
            for r in inv.event["Records"]
            if json.loads(r["body"]).get(body_key) == value
        ]


def make_poller(
    sqs: Any, queue_url: str, name: str, handler: RecordingHandler, *, batch_size: int
) -> QueuePoller:
    return QueuePoller(
        SqsSource(sqs, queue_url),
        LocalFunction(name, handler, 60, 1024),
        batch_size=batch_size,
        wait_s=VISIBILITY_S,
    )


def queue_depth(sqs: Any, url: str) -> int:
    """Visible + in-flight messages (delayed ones are never used here)."""
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def drain(poller: QueuePoller, sqs: Any, url: str, *, max_polls: int = MAX_POLLS) -> int:
    """Poll until the queue holds nothing (done, or moved to its DLQ); returns polls used."""
    for n in range(1, max_polls + 1):
        poller.poll_once()
        if queue_depth(sqs, url) == 0:
            return n
    raise AssertionError(f"queue {url} still holds {queue_depth(sqs, url)} after {max_polls} polls")


def dlq_bodies(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message body now in the DLQ (received once; visibility hides them meanwhile)."""
    bodies: list[dict[str, Any]] = []
    while True:
        out = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = out.get("Messages", [])
        if not messages:
            return bodies
        bodies.extend(json.loads(m["Body"]) for m in messages)


# --------------------------------------------------------------------------- seeding
# Each question shares most of its words with one note: cosine >= 0.6 under FakeEmbedder,
# well above the similarity floor, and under it for the other notes.
NOTES = (
    "Descale the espresso machine every month with citric acid.",
    "Backflush the group head with detergent for ten seconds.",
    "Steam the milk until the milk is hot: sixty degrees Celsius.",
    "Grind finer when the shot runs fast and sour.",
)
QUESTIONS = (
    "How often should I descale the espresso machine?",
    "How do I backflush the group head?",
    "How hot should I steam the milk?",
    "My shot runs fast and sour: grind finer?",
)


def seed_creator(container: Container, texts: Sequence[str] = NOTES) -> Creator:
    """A creator with a handful of handmade chunks in the container's index."""
    creator_id = f"cr_{uuid.uuid4().hex[:10]}"
    creator = Creator(creator_id=creator_id, slug=creator_id.replace("_", "-"), name="Faulty Bean")
    container.creators.create_creator(creator)
    document_id = "doc_notes"
    chunks = [
        Chunk(
            chunk_id=f"{creator_id}-{i}",
            creator_id=creator_id,
            document_id=document_id,
            text=text,
            title="Espresso notes",
            source_url="https://example.com/notes",
            kind="markdown",
            ordinal=i,
        )
        for i, text in enumerate(texts)
    ]
    vectors = container.embedder.embed([c.text for c in chunks])
    container.index.replace_document(creator_id, document_id, chunks, vectors)
    return creator


def fan(name: str = "fan") -> Identity:
    return Identity(user_id=f"{name}-{uuid.uuid4().hex[:8]}", role=Role.FAN, tier=Tier.FREE)


def admin() -> Identity:
    return Identity(user_id=f"admin-{uuid.uuid4().hex[:6]}", role=Role.ADMIN, tier=Tier.ENTERPRISE)

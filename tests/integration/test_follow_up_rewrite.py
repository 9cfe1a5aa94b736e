"""A follow-up with a generator that can rewrite questions (Bedrock): the rewrite is what
retrieval and the answer use, it is asked once per (earlier questions, follow-up) and then
cached, and a failing rewrite falls back to the deterministic one — the fan gets an answer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from creator_chat.container import Container
from creator_chat.domain.models import (
    Chunk,
    Creator,
    DocumentKind,
    Generation,
    Identity,
    Role,
    Tier,
)
from creator_chat.errors import DependencyUnavailable
from creator_chat.settings import Settings
from creator_chat.usecases import chat as chat_uc
from creator_chat.usecases import ingest as ingest_uc

from tests.faults.conftest import FakeEmbedder

ADMIN = Identity("admin", Role.ADMIN, Tier.ENTERPRISE)
FIRST = "How much sealant goes in a road tyre?"
FOLLOW_UP = "And how often do I need to top it up?"
REWRITTEN = "How often should I top up tubeless sealant?"


class RewritingGenerator:
    """Answers with its first source; rewrites follow-ups as told (or fails, when set)."""

    def __init__(self) -> None:
        self.rewrites: list[tuple[list[str], str]] = []
        self.questions: list[str] = []
        self.fail: Exception | None = None

    @property
    def model_id(self) -> str:
        return "rewriting-fake"

    def rewrite_question(self, *, earlier: Sequence[str], question: str) -> str:
        self.rewrites.append((list(earlier), question))
        if self.fail is not None:
            raise self.fail
        return REWRITTEN

    def generate(
        self, *, system: str, history: Any, question: str, sources: Sequence[Chunk], max_tokens: int
    ) -> Generation:
        self.questions.append(question)
        return Generation(f"{sources[0].text} [1]", model_id=self.model_id, cited=[1])


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Container, RewritingGenerator, str]]:
    c = Container(Settings(storage="embedded", data_dir=tmp_path, resource_prefix="rw"))
    gen = RewritingGenerator()
    c.overrides.update(embedder=FakeEmbedder(), generator=gen)
    c.creators.create_creator(Creator("cr_rw", "rw-bikes", "RW Bikes"))
    for title, text in [
        ("Sealant amount", "Use 30 millilitres of tubeless sealant in a road tyre."),
        ("Sealant top up", "Top up tubeless sealant every two to three months."),
        ("Chains", "Replace the chain at 0.5 percent wear."),
    ]:
        doc = ingest_uc.submit_document(
            c, ADMIN, "cr_rw", title=title, kind=DocumentKind.TEXT, content=text.encode()
        ).document
        job = {"job_id": doc.job_id, "creator_id": "cr_rw", "document_id": doc.document_id}
        assert ingest_uc.process_job(c, job, final_attempt=True) == "done"
    yield c, gen, "cr_rw"
    c.close()


def ask_follow_up(c: Container, user: str) -> chat_uc.ChatResult:
    fan = Identity(user, Role.FAN, Tier.ENTERPRISE)
    first = chat_uc.ask(c, fan, "cr_rw", FIRST)
    return chat_uc.ask(c, fan, "cr_rw", FOLLOW_UP, thread_id=first.thread_id)


def test_the_rewrite_is_what_retrieval_and_the_answer_use_and_it_is_cached(
    setup: tuple[Container, RewritingGenerator, str],
):
    c, gen, _ = setup
    answer = ask_follow_up(c, "fan-1")

    assert gen.rewrites == [([FIRST], FOLLOW_UP)]  # the first turn is not rewritten
    assert gen.questions[-1] == REWRITTEN
    assert "two to three months" in answer.answer

    ask_follow_up(c, "fan-2")  # the same follow-up of the same question: from the cache
    assert len(gen.rewrites) == 1 and gen.questions[-1] == REWRITTEN


def test_a_failing_rewrite_falls_back_to_the_deterministic_one(
    setup: tuple[Container, RewritingGenerator, str],
):
    c, gen, _ = setup
    gen.fail = DependencyUnavailable("bedrock is unavailable: ThrottlingException")

    answer = ask_follow_up(c, "fan-3")

    assert answer.status.value == "answered"
    assert FOLLOW_UP in gen.questions[-1] and FIRST in gen.questions[-1]

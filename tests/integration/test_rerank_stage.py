"""The rerank stage between retrieval and the prompt: the reranker's order is the order the
generator sees (from ``rerank_candidates`` gated hits, cut to ``top_k``), and a failing
reranker never costs an answer. With ``reranker="bedrock"`` the container builds the
Bedrock Rerank adapter (no call is made here)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from creator_chat.adapters.aws.bedrock_reranker import BedrockReranker
from creator_chat.container import Container
from creator_chat.domain.models import (
    Chunk,
    Creator,
    DocumentKind,
    Generation,
    Identity,
    Role,
    SearchHit,
    Tier,
)
from creator_chat.errors import DependencyUnavailable
from creator_chat.settings import Settings
from creator_chat.usecases import chat as chat_uc
from creator_chat.usecases import ingest as ingest_uc

from tests.faults.conftest import FakeEmbedder

ADMIN = Identity("admin", Role.ADMIN, Tier.ENTERPRISE)
FAN = Identity("fan-r", Role.FAN, Tier.ENTERPRISE)
NOTES = [f"Sealant note {i}: tubeless sealant dries in {i + 2} months." for i in range(8)]


class SeenGenerator:
    def __init__(self) -> None:
        self.sources: list[list[str]] = []

    @property
    def model_id(self) -> str:
        return "seen"

    def generate(
        self, *, system: str, history: Any, question: str, sources: Sequence[Chunk], max_tokens: int
    ) -> Generation:
        self.sources.append([c.text for c in sources])
        return Generation(f"{sources[0].text} [1]", model_id="seen", cited=[1])


class ReversingReranker:
    def __init__(self) -> None:
        self.calls: list[int] = []
        self.fail: Exception | None = None

    @property
    def model_id(self) -> str:
        return "reverse"

    def rerank(self, query: str, hits: Sequence[SearchHit], *, top_n: int) -> list[SearchHit]:
        self.calls.append(len(hits))
        if self.fail is not None:
            raise self.fail
        return list(reversed(hits))[:top_n]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Container, SeenGenerator, ReversingReranker]]:
    settings = Settings(
        storage="embedded", data_dir=tmp_path, resource_prefix="rr", top_k=3, rerank_candidates=6
    )
    c = Container(settings)
    gen, reranker = SeenGenerator(), ReversingReranker()
    c.overrides.update(embedder=FakeEmbedder(), generator=gen, reranker=reranker)
    c.creators.create_creator(Creator("cr_rr", "rr-bikes", "RR Bikes"))
    for i, text in enumerate(NOTES):
        doc = ingest_uc.submit_document(
            c, ADMIN, "cr_rr", title=f"Note {i}", kind=DocumentKind.TEXT, content=text.encode()
        ).document
        job = {"job_id": doc.job_id, "creator_id": "cr_rr", "document_id": doc.document_id}
        assert ingest_uc.process_job(c, job, final_attempt=True) == "done"
    yield c, gen, reranker
    c.close()


def test_the_generator_sees_the_rerankers_order_of_the_wider_candidate_set(
    rig: tuple[Container, SeenGenerator, ReversingReranker],
):
    c, gen, reranker = rig
    question = "How long until tubeless sealant dries?"
    vector = c.embedder.embed([question])[0]
    candidates = [h.chunk.text for h in c.index.search("cr_rr", vector, question, top_k=6)]

    chat_uc.ask(c, FAN, "cr_rr", question)

    assert reranker.calls[-1] == 6  # rerank_candidates, not top_k
    assert gen.sources[-1] == list(reversed(candidates))[:3]  # the reranker's order, cut


def test_a_failing_reranker_keeps_the_retrieval_order_and_the_answer(
    rig: tuple[Container, SeenGenerator, ReversingReranker],
):
    c, gen, reranker = rig
    reranker.fail = DependencyUnavailable("Bedrock rerank unavailable: ThrottlingException")

    result = chat_uc.ask(c, FAN, "cr_rr", "How long until tubeless sealant dries?")

    assert result.status.value == "answered"
    assert len(gen.sources[-1]) == 3


def test_reranker_bedrock_builds_the_bedrock_rerank_adapter(tmp_path: Path):
    c = Container(
        Settings(
            storage="embedded",
            data_dir=tmp_path,
            reranker="bedrock",
            rerank_model_id="cohere.rerank-v3-5:0",
            aws_region="us-west-2",
        )
    )
    reranker = c.reranker
    assert isinstance(reranker, BedrockReranker) and reranker.model_id == "cohere.rerank-v3-5:0"
    assert Container(Settings(storage="embedded", data_dir=tmp_path)).reranker is None

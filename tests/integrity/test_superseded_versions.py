"""Defect 1: a version of a document posted while the previous one is processing must be the
one that ends indexed. The old job never marks the document done and never leaves chunks —
whichever of the two jobs gets where first."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest
from creator_chat.domain.models import Chunk

from tests.integrity.conftest import Rig, new_creator

SOURCE = "https://videos.example/sealant-guide"
OLD_WORD = "zebrawood"  # only in version A
NEW_TEXT = "Version B says: top up the sealant every three months with 30 ml of fresh latex."


def version_a() -> str:
    paragraph = (
        f"The {OLD_WORD} method of tyre sealing uses a thick compound. "
        "Pour it through the valve, spin the wheel, and let it settle overnight. "
    )
    return "\n\n".join(f"## Part {i}\n\n{paragraph * 6}" for i in range(60))  # ~60 chunks


class Gate:
    """Holds a call that matches, until released; tells the test when one is held."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()

    def hold(self) -> None:
        self.reached.set()
        assert self.release.wait(30), "the test never released the gate"


class GatedEmbedder:
    """The rig's embedder, except that embedding text with ``word`` waits at ``gate``."""

    def __init__(self, inner: Any, word: str, gate: Gate) -> None:
        self._inner, self._word, self._gate = inner, word, gate

    @property
    def model_id(self) -> str:
        return str(self._inner.model_id)

    @property
    def dimension(self) -> int:
        return int(self._inner.dimension)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if any(self._word in t for t in texts):
            self._gate.hold()
        return list(self._inner.embed(texts))


class GatedIndex:
    """An index whose ``replace_document`` waits at ``gate`` for chunks containing ``word``."""

    def __init__(self, inner: Any, word: str, gate: Gate) -> None:
        self._inner, self._word, self._gate = inner, word, gate

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def replace_document(
        self, creator_id: str, document_id: str, chunks: Sequence[Chunk], vectors: Any
    ) -> None:
        if any(self._word in c.text for c in chunks):
            self._gate.hold()
        self._inner.replace_document(creator_id, document_id, chunks, vectors)


def post(rig: Rig, creator_id: str, token: str, content: str) -> Any:
    reply = rig.call(
        "POST",
        f"/v1/creators/{creator_id}/documents",
        token,
        {"title": "Sealant guide", "kind": "markdown", "content": content, "source_url": SOURCE},
    )
    assert reply.status in (200, 202), reply
    return reply


def in_background(rig: Rig, job: dict[str, Any]) -> tuple[threading.Thread, list[str]]:
    outcome: list[str] = []
    thread = threading.Thread(target=lambda: outcome.append(rig.run_job(job)), daemon=True)
    thread.start()
    return thread, outcome


def assert_only_version_b_is_served(rig: Rig, creator_id: str, token: str, doc_id: str) -> None:
    doc = rig.call("GET", f"/v1/creators/{creator_id}/documents/{doc_id}", token).body
    assert doc["status"] == "done", doc
    assert doc["size_bytes"] == len(NEW_TEXT.encode())
    assert doc["chunk_count"] == 1
    hits = rig.call(
        "POST",
        f"/v1/creators/{creator_id}/search",
        token,
        # every chunk of the document, not only those the assistant would answer from
        {"query": f"{OLD_WORD} method thick compound", "top_k": 50, "include_below_gate": True},
    ).body["results"]
    assert hits, "version B must be searchable"
    assert all(OLD_WORD not in h["text"] for h in hits), "version A is still indexed"
    assert {h["text"] for h in hits} == {NEW_TEXT}
    # and posting B again is, rightly now, a no-op
    assert post(rig, creator_id, token, NEW_TEXT).status == 200


def test_the_newer_version_wins_when_its_job_finishes_while_the_old_one_embeds(rig: Rig):
    creator_id, token = new_creator(rig)
    gate = Gate()
    rig.container.overrides["embedder"] = GatedEmbedder(
        rig.container.overrides["embedder"], OLD_WORD, gate
    )
    doc_id = post(rig, creator_id, token, version_a()).body["document"]["document_id"]
    (job_a,) = rig.take_jobs()
    thread, outcome = in_background(rig, job_a)
    assert gate.reached.wait(10)
    assert (
        rig.call("GET", f"/v1/creators/{creator_id}/documents/{doc_id}", token).body["status"]
        == "processing"
    )

    assert post(rig, creator_id, token, NEW_TEXT).status == 202
    assert rig.run_ingest() == ["done"]  # B, start to finish, while A is still embedding
    gate.release.set()
    thread.join(30)

    assert outcome == ["superseded"]
    assert_only_version_b_is_served(rig, creator_id, token, doc_id)


def test_the_old_job_finishing_after_the_new_one_started_does_not_mark_it_done(rig: Rig):
    creator_id, token = new_creator(rig)
    gate_a, gate_b = Gate(), Gate()
    inner = rig.container.overrides["embedder"]
    rig.container.overrides["embedder"] = GatedEmbedder(
        GatedEmbedder(inner, OLD_WORD, gate_a), "Version B", gate_b
    )
    doc_id = post(rig, creator_id, token, version_a()).body["document"]["document_id"]
    (job_a,) = rig.take_jobs()
    thread_a, outcome_a = in_background(rig, job_a)
    assert gate_a.reached.wait(10)
    post(rig, creator_id, token, NEW_TEXT)
    (job_b,) = rig.take_jobs()
    thread_b, outcome_b = in_background(rig, job_b)
    assert gate_b.reached.wait(10)  # B is processing too

    gate_a.release.set()  # A finishes first: it must not mark B's record done with A's chunks
    thread_a.join(30)
    assert outcome_a == ["superseded"]
    doc = rig.call("GET", f"/v1/creators/{creator_id}/documents/{doc_id}", token).body
    assert doc["status"] == "processing"
    gate_b.release.set()
    thread_b.join(30)

    assert outcome_b == ["done"]
    rig.run_ingest()
    assert_only_version_b_is_served(rig, creator_id, token, doc_id)


@pytest.mark.parametrize("family", ["aws"], indirect=True)
def test_an_old_write_that_lands_after_the_new_version_is_done_is_undone(rig: Rig):
    """Only where the index and the document record cannot share a transaction (DynamoDB and
    OpenSearch): the old job passed its last check, then the new version was posted and
    finished, then the old chunks landed. In the embedded database that interleaving cannot
    happen — the chunks and the status commit as one transaction."""
    creator_id, token = new_creator(rig)
    gate = Gate()
    # the index is built once per container (a cached property): wrap the one it built
    rig.container.__dict__["index"] = GatedIndex(rig.container.index, OLD_WORD, gate)
    doc_id = post(rig, creator_id, token, version_a()).body["document"]["document_id"]
    (job_a,) = rig.take_jobs()
    thread, outcome = in_background(rig, job_a)
    assert gate.reached.wait(10)  # A is about to write its chunks

    post(rig, creator_id, token, NEW_TEXT)
    assert rig.run_ingest() == ["done"]
    gate.release.set()  # A's chunks land over B's
    thread.join(30)

    assert outcome == ["superseded"]
    assert rig.run_ingest() == ["done"]  # B is indexed once more, A's chunks go
    assert_only_version_b_is_served(rig, creator_id, token, doc_id)

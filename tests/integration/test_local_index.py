"""LocalVectorIndex (in memory): tenancy, replace/delete, filters, hybrid scoring, threads.

Its durable form, the embedded index over the database, is tested in
``test_embedded_vector_index.py``."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from creator_chat.adapters.embedded.local_index import LocalVectorIndex, tokenize
from creator_chat.domain.models import Chunk
from creator_chat.errors import InvalidInput
from creator_chat.ports import VectorIndex

DIM = 16


def unit(seed: int) -> list[float]:
    vec = np.random.default_rng(seed).normal(size=DIM)
    return [float(x) for x in vec / np.linalg.norm(vec)]


def chunk(
    creator: str,
    cid: str,
    text: str,
    *,
    doc: str = "d1",
    video: str | None = None,
    start_s: float | None = None,
) -> Chunk:
    return Chunk(cid, creator, doc, text, title="T", video_id=video, start_s=start_s)


def at_cosine(vec: list[float], cosine: float, seed: int = 99) -> list[float]:
    """A unit vector whose cosine with the unit vector ``vec`` is ``cosine``."""
    base = np.array(vec)
    other = np.array(unit(seed)) - base * float(np.dot(unit(seed), base))
    other /= np.linalg.norm(other)
    return [float(x) for x in cosine * base + math.sqrt(1 - cosine**2) * other]


def test_identical_text_never_crosses_creators() -> None:
    index: VectorIndex = LocalVectorIndex()
    same_text, same_vec = "how I light my studio", unit(1)
    index.upsert("alice", [chunk("alice", "c1", same_text)], [same_vec])
    index.upsert("bob", [chunk("bob", "c1", same_text)], [same_vec])

    for creator in ("alice", "bob"):
        hits = index.search(creator, same_vec, same_text, top_k=10)
        assert [h.chunk.creator_id for h in hits] == [creator]
    assert index.search("carol", same_vec, same_text, top_k=10) == []
    assert index.count("carol") == 0


def test_upsert_rejects_a_chunk_of_another_creator() -> None:
    index = LocalVectorIndex()
    with pytest.raises(InvalidInput):
        index.upsert("alice", [chunk("bob", "c1", "x")], [unit(1)])


def test_upsert_replaces_an_existing_chunk_id() -> None:
    index = LocalVectorIndex()
    index.upsert("alice", [chunk("alice", "c1", "old words")], [unit(1)])
    index.upsert("alice", [chunk("alice", "c1", "new words")], [unit(2)])

    assert index.count("alice") == 1
    query = at_cosine(unit(2), 0.5)  # the new vector at cosine 0.5
    hit = index.search("alice", query, "new", top_k=5)[0]
    assert hit.chunk.text == "new words"
    assert hit.score == pytest.approx(0.8 * 0.5 + 0.2 * 1.0, abs=1e-5)  # the only keyword match
    # the old words left the keyword index: only the cosine remains
    assert index.search("alice", query, "old", top_k=5)[0].score == pytest.approx(0.5, abs=1e-5)
    assert index.search("alice", unit(2), "", top_k=1)[0].chunk.text == "new words"


def test_replace_document_swaps_its_chunks_and_keeps_others() -> None:
    index = LocalVectorIndex()
    index.upsert(
        "alice",
        [chunk("alice", "a", "old a", doc="d1"), chunk("alice", "b", "old b", doc="d1"),
         chunk("alice", "z", "other", doc="d2")],
        [unit(1), unit(2), unit(3)],
    )  # fmt: skip

    index.replace_document("alice", "d1", [chunk("alice", "b", "new b", doc="d1")], [unit(4)])

    assert (index.count("alice", "d1"), index.count("alice", "d2")) == (1, 1)
    assert index.search("alice", unit(4), "", top_k=1)[0].chunk.text == "new b"
    with pytest.raises(InvalidInput):
        index.replace_document("alice", "d1", [chunk("alice", "q", "x", doc="d2")], [unit(5)])


def test_delete_document_removes_only_that_document() -> None:
    index = LocalVectorIndex()
    index.upsert(
        "alice",
        [
            chunk("alice", "a", "x", doc="d1"),
            chunk("alice", "b", "y", doc="d1"),
            chunk("alice", "c", "z", doc="d2"),
        ],
        [unit(1), unit(2), unit(3)],
    )
    index.upsert("bob", [chunk("bob", "a", "x", doc="d1")], [unit(1)])

    assert index.delete_document("alice", "d1") == 2
    assert index.delete_document("alice", "d1") == 0
    assert (index.count("alice"), index.count("alice", "d2"), index.count("bob", "d1")) == (1, 1, 1)
    assert [h.chunk.chunk_id for h in index.search("alice", unit(1), "x", top_k=5)] == ["c"]


def test_video_filter_and_chunks_for_video_in_playback_order() -> None:
    index = LocalVectorIndex()
    index.upsert(
        "alice",
        [
            chunk("alice", "late", "mic", video="v1", start_s=60.0),
            chunk("alice", "early", "mic", video="v1", start_s=5.0),
            chunk("alice", "other", "mic", video="v2", start_s=0.0),
        ],
        [unit(1), unit(2), unit(3)],
    )

    hits = index.search("alice", unit(3), "mic", top_k=5, video_id="v1")
    assert {h.chunk.chunk_id for h in hits} == {"late", "early"}
    assert [c.chunk_id for c in index.chunks_for_video("alice", "v1", limit=5)] == ["early", "late"]
    assert [c.chunk_id for c in index.chunks_for_video("alice", "v1", limit=1)] == ["early"]
    assert index.chunks_for_video("bob", "v1", limit=5) == []
    assert index.search("alice", unit(3), "mic", top_k=5, video_id="nope") == []


def test_exact_keyword_match_outranks_unrelated_chunks_with_equal_vectors() -> None:
    index = LocalVectorIndex()
    texts = [
        "my favourite shotgun microphone is the rode ntg",
        "colour grading in resolve",
        "editing on a laptop",
        "thumbnails that get clicks",
    ]
    vec = unit(7)  # every chunk equally close: only the keyword part can separate them
    index.upsert("alice", [chunk("alice", f"c{i}", t) for i, t in enumerate(texts)], [vec] * 4)

    query = at_cosine(vec, 0.5)
    hits = index.search("alice", query, "which shotgun microphone?", top_k=4)
    assert hits[0].chunk.chunk_id == "c0"
    assert hits[0].score == pytest.approx(0.8 * 0.5 + 0.2 * 1.0, abs=1e-5)  # lifted
    assert [h.score for h in hits[1:]] == pytest.approx([0.5] * 3, abs=1e-5)  # their cosine
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.similarity == pytest.approx(0.5, abs=1e-5) for h in hits)  # raw cosine too


def test_keyword_evidence_lifts_but_never_lowers_below_the_cosine() -> None:
    # The FAQ failure of the plain 0.7 / 0.3 mix: the chunk that answers in other words lost
    # 30% of its score to any chunk sharing a generic word with the question.
    index = LocalVectorIndex()
    query = unit(3)
    answer = chunk("alice", "answer", "match statements cover that since 3.10", doc="d1")
    generic = chunk("alice", "generic", "a statement in python", doc="d2")
    index.upsert("alice", [answer, generic], [at_cosine(query, 0.6), at_cosine(query, 0.45)])

    hits = index.search("alice", query, "why is there no switch statement in python?", top_k=2)
    assert [h.chunk.chunk_id for h in hits] == ["answer", "generic"]
    assert hits[0].score == pytest.approx(0.6, abs=1e-5)  # no shared word: its cosine
    assert hits[1].score == pytest.approx(0.8 * 0.45 + 0.2 * 1.0, abs=1e-5)  # best keyword match


def test_tokenize_drops_negations_and_keeps_c_plus_plus() -> None:
    assert tokenize("Why isn\u2019t there a switch? Don't ask.") == ["switch", "ask"]
    assert tokenize("the creator's six o'clock tip") == ["creator", "six", "clock", "tip"]
    assert tokenize("C++ or C# or C?") == ["c++", "c#"]
    assert tokenize("Py_BuildValue() for E3 and K58, 1 of 2") == [
        "py_buildvalue", "e3", "k58", "1", "2"
    ]  # fmt: skip


def test_score_keeps_absolute_cosine_so_a_floor_is_meaningful() -> None:
    index = LocalVectorIndex()
    base = np.array(unit(1))
    orthogonal = np.array(unit(2)) - base * float(np.dot(unit(2), base))
    orthogonal /= np.linalg.norm(orthogonal)
    index.upsert("alice", [chunk("alice", "c1", "unrelated")], [orthogonal.tolist()])

    [hit] = index.search("alice", base.tolist(), "nothing matches", top_k=1)
    assert hit.score == pytest.approx(0.0, abs=1e-5)  # the best hit, but not relevant


def test_concurrent_upserts_and_searches() -> None:
    index = LocalVectorIndex()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            creator = f"creator-{n % 3}"
            for i in range(20):
                cid = f"t{n}-{i}"
                index.upsert(creator, [chunk(creator, cid, f"word{i}", doc=f"d{n}")], [unit(i)])
                hits = index.search(creator, unit(i), f"word{i}", top_k=3)
                assert all(h.chunk.creator_id == creator for h in hits)
            index.delete_document(creator, f"d{n}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sum(index.count(f"creator-{k}") for k in range(3)) == 0

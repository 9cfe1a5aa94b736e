"""Chunking: transcript windows, document sections, overlap, ids, nothing dropped."""

from __future__ import annotations

import itertools
import json
import re
from importlib.resources import files
from typing import Any

import pytest
from creator_chat.content import ParsedDocument, Segment, chunk_document, estimate_tokens, parse
from creator_chat.domain.models import Chunk, DocumentKind

K = DocumentKind


def chunks_of(parsed: ParsedDocument, document_id: str = "doc-a", **kwargs: Any) -> list[Chunk]:
    return chunk_document(
        parsed,
        creator_id="creator-1",
        document_id=document_id,
        title="Title",
        source_url="https://www.youtube.com/watch?v=abcdefghijk",
        video_id="abcdefghijk",
        **kwargs,
    )


def transcript(
    n: int, *, step: float = 4.0, sentence_every: int = 3, words: int = 6
) -> ParsedDocument:
    """``n`` cues of ``words`` distinct words, ``step`` seconds apart; every
    ``sentence_every``-th cue ends a sentence (0: never)."""
    segments = []
    for i in range(n):
        text = " ".join(f"w{i}x{j}" for j in range(words))
        if sentence_every and (i + 1) % sentence_every == 0:
            text += "."
        segments.append(Segment(text, start_s=i * step, end_s=i * step + step - 0.2))
    return ParsedDocument(K.VTT, segments)


def cue_ids(chunks: list[Chunk]) -> list[int]:
    """Indices of the cues (see ``transcript``) in the chunks' text, in order."""
    return [int(i) for c in chunks for i in re.findall(r"\bw(\d+)x0\b", c.text)]


# --------------------------------------------------------------------------- transcripts


def test_transcript_windows_within_bounds() -> None:
    parsed = transcript(120, step=4.0, sentence_every=3, words=5)
    chunks = chunks_of(parsed, window_s=(30, 90))
    assert len(chunks) > 5
    for c in chunks:
        assert c.start_s is not None and c.end_s is not None
        assert c.end_s - c.start_s <= 90
        assert estimate_tokens(c.text) <= 220
        assert c.text.endswith(".") or c is chunks[-1]  # closed at a sentence end
    for c in chunks[:-1]:
        assert c.end_s is not None and c.start_s is not None
        assert c.end_s - c.start_s >= 30


def test_transcript_window_closes_at_max_without_sentence_ends() -> None:
    parsed = transcript(100, step=5.0, sentence_every=0, words=3)
    chunks = chunks_of(parsed, window_s=(30, 60), overlap_tokens=0)
    spans = [(c.end_s or 0) - (c.start_s or 0) for c in chunks]
    assert all(span <= 60 for span in spans)
    assert all(span > 50 for span in spans[:-1])  # not closed early: ran up to the max


def test_transcript_token_budget_closes_window() -> None:
    parsed = transcript(60, step=3.0, sentence_every=0, words=20)
    chunks = chunks_of(parsed, max_tokens=100, overlap_tokens=20)
    assert all(estimate_tokens(c.text) <= 100 for c in chunks)
    assert all((c.end_s or 0) - (c.start_s or 0) < 30 for c in chunks)


def test_transcript_windows_overlap() -> None:
    parsed = transcript(60, step=4.0, sentence_every=2, words=6)
    chunks = chunks_of(parsed, overlap_tokens=40)
    assert len(chunks) >= 3
    for prev, nxt in itertools.pairwise(chunks):
        assert nxt.start_s is not None and prev.end_s is not None
        assert nxt.start_s < prev.end_s  # time ranges overlap
        carried = [i for i in cue_ids([nxt]) if i in cue_ids([prev])]
        assert carried and carried == cue_ids([prev])[-len(carried) :]  # tail of prev
        assert carried == cue_ids([nxt])[: len(carried)]  # head of next
        carried_text = " ".join(parsed.segments[i].text for i in carried)
        assert estimate_tokens(carried_text) <= 40 * 1.5


def test_transcript_overlap_prefers_sentence_start() -> None:
    parsed = transcript(60, step=4.0, sentence_every=2, words=6)
    for c in chunks_of(parsed, overlap_tokens=40)[1:]:
        # cue i starts a sentence when cue i-1 ended one (even i here)
        assert cue_ids([c])[0] % 2 == 0


def test_every_chunk_adds_a_new_cue_even_when_overlap_cannot_fit() -> None:
    def cue(i: int, words: int, start: float) -> Segment:
        text = " ".join(f"w{i}x{j}" for j in range(words)) + "."
        return Segment(text, start_s=start, end_s=start + 4)

    # Cue 2 is ~215 tokens: cue 1 carried over plus cue 2 would bust the budget, so the
    # carried cue is dropped rather than emitted again as a chunk of its own.
    parsed = ParsedDocument(K.VTT, [cue(0, 8, 0), cue(1, 8, 4), cue(2, 165, 8), cue(3, 8, 12)])
    chunks = chunks_of(parsed, overlap_tokens=40, window_s=(30, 90))
    assert [cue_ids([c]) for c in chunks] == [[0, 1], [2], [3]]


def test_transcript_without_overlap_does_not_repeat() -> None:
    parsed = transcript(60, step=4.0, sentence_every=2, words=6)
    chunks = chunks_of(parsed, overlap_tokens=0)
    assert cue_ids(chunks) == list(range(60))


def test_every_cue_appears_in_some_chunk_in_order() -> None:
    parsed = transcript(97, step=3.3, sentence_every=4, words=7)
    chunks = chunks_of(parsed)
    joined = "\n".join(c.text for c in chunks)
    assert all(s.text in joined for s in parsed.segments)
    seen = cue_ids(chunks)
    # In order, apart from the repeats at the seams.
    deduped = [t for i, t in enumerate(seen) if t not in seen[:i]]
    assert deduped == list(range(97))


def test_chunk_times_come_from_first_and_last_cue() -> None:
    parsed = transcript(30, step=4.0, sentence_every=3, words=5)
    for c in chunks_of(parsed):
        cues = cue_ids([c])
        assert cues == list(range(cues[0], cues[-1] + 1))
        assert c.start_s == parsed.segments[cues[0]].start_s
        assert c.end_s == parsed.segments[cues[-1]].end_s


def test_oversized_cue_is_split_with_interpolated_times() -> None:
    long_text = " ".join(f"word{i}" for i in range(500))
    parsed = ParsedDocument(K.SRT, [Segment(long_text, start_s=10.0, end_s=70.0)])
    chunks = chunks_of(parsed, overlap_tokens=0)
    assert len(chunks) >= 3
    assert all(estimate_tokens(c.text) <= 220 for c in chunks)
    assert " ".join(c.text for c in chunks) == long_text
    assert chunks[0].start_s == 10.0 and chunks[-1].end_s == 70.0
    starts = [c.start_s or 0 for c in chunks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_out_of_order_cues_are_sorted_by_time() -> None:
    parsed = ParsedDocument(
        K.VTT,
        [Segment("later.", 40.0, 42.0), Segment("earlier.", 1.0, 3.0)],
    )
    (chunk,) = chunks_of(parsed)
    assert chunk.text == "earlier. later."
    assert (chunk.start_s, chunk.end_s) == (1.0, 42.0)


def test_transcript_chunk_fields() -> None:
    chunks = chunks_of(transcript(30), document_id="doc-z")
    for i, c in enumerate(chunks):
        assert c.ordinal == i
        assert c.creator_id == "creator-1" and c.document_id == "doc-z"
        assert c.kind == "vtt" and c.video_id == "abcdefghijk" and c.title == "Title"
        assert c.page is None and c.heading == ""


# --------------------------------------------------------------------------- ids and empties


def test_chunk_ids_are_deterministic_and_distinct_per_document() -> None:
    parsed = transcript(80)
    first = chunks_of(parsed, document_id="doc-a")
    again = chunks_of(transcript(80), document_id="doc-a")
    other = chunks_of(parsed, document_id="doc-b")
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    assert first == again
    assert len({c.chunk_id for c in first}) == len(first)
    assert not {c.chunk_id for c in first} & {c.chunk_id for c in other}
    assert first[0].chunk_id == "doc-a:0000" and first[1].chunk_id == "doc-a:0001"


def test_no_empty_chunks() -> None:
    parsed = ParsedDocument(
        K.MARKDOWN,
        [Segment("   "), Segment("\n\n"), Segment("real text", heading="H"), Segment(" ")],
    )
    chunks = chunks_of(parsed)
    assert [(c.text, c.heading) for c in chunks] == [("real text", "H")]
    assert chunks_of(ParsedDocument(K.VTT, [Segment("  ", 0.0, 1.0)])) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_tokens": 0},
        {"overlap_tokens": 220},
        {"overlap_tokens": -1},
        {"window_s": (90, 30)},
        {"window_s": (0, 0)},
    ],
)
def test_invalid_parameters(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        chunks_of(transcript(5), **kwargs)


# --------------------------------------------------------------------------- documents


def sentences(prefix: str, n: int, words: int = 9) -> str:
    return " ".join(" ".join(f"{prefix}{i}w{j}" for j in range(words)) + "." for i in range(n))


def test_document_keeps_heading_and_page_and_never_mixes_sections() -> None:
    parsed = ParsedDocument(
        K.PDF,
        [
            Segment(sentences("a", 3), page=1),
            Segment(sentences("b", 2), page=2),
            Segment(sentences("c", 2), page=2),
        ],
    )
    chunks = chunks_of(parsed)
    assert [(c.page, c.text[:3]) for c in chunks] == [(1, "a0w"), (2, "b0w")]
    assert "c1w8." in chunks[1].text and "\n\n" in chunks[1].text  # paragraphs kept apart
    assert all(c.start_s is None and c.end_s is None and c.kind == "pdf" for c in chunks)

    md = ParsedDocument(
        K.MARKDOWN,
        [
            Segment("Setup text.", heading="Guide > Setup"),
            Segment("Wiring text.", heading="Guide > Setup > Wiring"),
            Segment("More wiring.", heading="Guide > Setup > Wiring"),
        ],
    )
    assert [(c.heading, c.text) for c in chunks_of(md)] == [
        ("Guide > Setup", "Setup text."),
        ("Guide > Setup > Wiring", "Wiring text.\n\nMore wiring."),
    ]


def test_long_section_split_to_budget_with_overlap() -> None:
    parsed = ParsedDocument(K.TEXT, [Segment(sentences("s", 40, words=10), heading="")])
    chunks = chunks_of(parsed, max_tokens=100, overlap_tokens=30)
    assert len(chunks) >= 6
    assert all(estimate_tokens(c.text) <= 100 for c in chunks)
    for prev, nxt in itertools.pairwise(chunks):
        first_sentence = nxt.text.split(". ")[0] + "."
        assert first_sentence in prev.text  # overlap of whole sentences
    for i in range(40):
        assert any(f"s{i}w9." in c.text for c in chunks)


def test_sentence_longer_than_budget_is_split_by_words() -> None:
    text = " ".join(f"x{i}" for i in range(500))
    chunks = chunks_of(ParsedDocument(K.TEXT, [Segment(text)]), max_tokens=50, overlap_tokens=0)
    assert all(estimate_tokens(c.text) <= 50 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == text.split()


def test_code_block_kept_intact_or_refenced_when_oversized() -> None:
    small = "```python\nx = 1\n\ny = 2\n```"
    (chunk,) = chunks_of(ParsedDocument(K.MARKDOWN, [Segment(small, heading="Code")]))
    assert chunk.text == small

    lines = [f"print({i}, 'a b c d e f')" for i in range(120)]
    big = "```python\n" + "\n".join(lines) + "\n```"
    chunks = chunks_of(ParsedDocument(K.MARKDOWN, [Segment(big, heading="Code")]), overlap_tokens=0)
    assert len(chunks) >= 3
    for c in chunks:
        assert c.text.startswith("```python\n") and c.text.endswith("\n```")
        assert estimate_tokens(c.text) <= 220
    body = [ln for c in chunks for ln in c.text.split("\n") if not ln.startswith("```")]
    assert body == lines


# --------------------------------------------------------------------------- demo corpus


def _demo() -> tuple[Any, dict[str, Any], dict[str, Any]]:
    demo = files("creator_chat") / "demo"
    manifest = json.loads((demo / "manifest.json").read_text())
    questions = json.loads((demo / "questions.json").read_text())
    return demo, manifest, questions


def _demo_chunks() -> dict[str, list[Chunk]]:
    demo, manifest, _ = _demo()
    out: dict[str, list[Chunk]] = {}
    for i, d in enumerate(manifest["documents"]):
        parsed = parse(DocumentKind(d["kind"]), (demo / d["file"]).read_bytes())
        out[d["file"]] = chunk_document(
            parsed,
            creator_id="demo",
            document_id=f"demo-doc-{i}",
            title=d["title"],
            source_url=d["source_url"],
            video_id=d["video_id"],
        )
    return out


def test_demo_corpus_chunks_cleanly() -> None:
    demo, manifest, _ = _demo()
    all_chunks = _demo_chunks()
    ids = [c.chunk_id for cs in all_chunks.values() for c in cs]
    assert len(ids) == len(set(ids))
    for d in manifest["documents"]:
        chunks = all_chunks[d["file"]]
        assert len(chunks) >= 3
        parsed = parse(DocumentKind(d["kind"]), (demo / d["file"]).read_bytes())
        joined = "\n".join(c.text for c in chunks)
        for seg in parsed.segments:  # nothing dropped
            assert seg.text in joined, (d["file"], seg.text)
        for c in chunks:
            assert c.text.strip() and estimate_tokens(c.text) <= 220
            assert c.title == d["title"] and c.video_id == d["video_id"]
            if parsed.is_transcript:
                assert c.start_s is not None and c.end_s is not None
                assert 0 < c.end_s - c.start_s <= 90
            else:
                assert c.heading  # every manual chunk sits under a heading


def test_demo_questions_point_at_one_chunk_with_the_answer() -> None:
    _, manifest, questions = _demo()
    files_ = {d["file"] for d in manifest["documents"]}
    all_chunks = _demo_chunks()
    assert len(questions["questions"]) >= 12 and len(questions["off_topic"]) == 5
    for q in questions["questions"]:
        assert q["file"] in files_
        holders = [
            c for c in all_chunks[q["file"]] if all(a in c.text for a in q["answer_contains"])
        ]
        assert holders, q["id"]
        if "start_s" in q:
            # A chunk holding the answer starts at or a little before the cited second.
            assert any((c.start_s or 0) <= q["start_s"] <= (c.end_s or 0) for c in holders)
            assert any(q["start_s"] - (c.start_s or 0) <= 60 for c in holders), q["id"]
        else:
            assert any(c.heading == q["section"] for c in holders), q["id"]
        others = [c for f, cs in all_chunks.items() if f != q["file"] for c in cs]
        for answer in q["answer_contains"]:  # the answer lives in exactly one file
            assert not any(answer in c.text for c in others), (q["id"], answer)
    for q in questions["off_topic"]:
        assert q["question"].endswith("?")

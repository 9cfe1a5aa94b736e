"""The retrieval helpers chat and /search share: follow-ups, the gate's exact terms, the
citation second and citation numbering."""

from __future__ import annotations

import pytest
from creator_chat.content.chunking import chunk_document
from creator_chat.content.parsers import parse
from creator_chat.domain.models import Chunk, DocumentKind, SearchHit
from creator_chat.retrieval import (
    about_video,
    leaned_on,
    looks_dependent,
    passes_gate,
    prefer_video,
    rare_terms,
    standalone_question,
    supporting_second,
    without_labels,
)

VTT = """WEBVTT

00:00:00.000 --> 00:00:07.000
In this video we replace worn disc brake pads.

00:00:56.000 --> 00:01:05.000
Oil on the rotor is the number one cause of squealing brakes.

00:01:05.000 --> 00:01:14.000
Degrease the rotor with isopropyl alcohol and a clean cloth.

00:01:41.000 --> 00:01:50.000
Never touch the rotor with your fingers.
"""


def transcript_chunk(vtt: str = VTT, source_url: str = "https://youtu.be/b") -> Chunk:
    """The transcript as one chunk (its cues kept, as ingest keeps them)."""
    (chunk,) = chunk_document(
        parse(DocumentKind.VTT, vtt.encode()),
        creator_id="cr_x",
        document_id="doc_x",
        title="Brakes",
        source_url=source_url,
        window_s=(300, 600),
    )
    return chunk


@pytest.mark.parametrize(
    ("question", "dependent"),
    [
        ("And how often do I need to top it up?", True),
        ("What about gravel tyres?", True),
        ("How much do I put in?", True),
        ("How much sealant goes in a road tyre?", False),
        ("When should I replace my chain?", False),
    ],
)
def test_a_follow_up_is_told_from_a_self_contained_question(question: str, dependent: bool):
    assert looks_dependent(question) is dependent


def test_a_follow_up_stands_for_itself_with_the_earlier_question_as_context():
    earlier = ["How much sealant goes in a road tyre?"]
    rewritten = standalone_question("And how often do I top it up?", earlier)
    assert "sealant" in rewritten and "top it up" in rewritten
    assert standalone_question("When should I replace my chain?", earlier) == (
        "When should I replace my chain?"
    )
    assert standalone_question("And how often?", []) == "And how often?"


def test_rare_terms_are_codes_and_acronyms_not_quantities():
    assert rare_terms("What is part XK-4471 for, and error E3 on the PTFE tape?") == [
        "xk-4471",
        "e3",
        "ptfe",
    ]
    assert rare_terms("Is 30ml enough for a 28mm tyre at 70psi?") == []


def test_the_gate_passes_a_chunk_holding_an_exact_rare_term_whatever_its_cosine():
    chunk = Chunk("c1", "cr_x", "d1", "The XK-4471 is the thru-axle adapter.", "Manual")
    far = SearchHit(chunk, score=0.2, similarity=0.05)
    assert passes_gate(far, "What is XK-4471 used for?", 0.35)
    assert not passes_gate(far, "What is XK-4472 used for?", 0.35)
    assert passes_gate(SearchHit(chunk, 0.9, 0.6), "thru axle adapter", 0.35)


def test_a_citation_opens_at_the_cue_of_the_supporting_sentence():
    chunk = transcript_chunk()
    assert chunk.start_s == 0.0 and chunk.cue_starts == (0.0, 56.0, 65.0, 101.0)
    answer = "Degrease the rotor with isopropyl alcohol and a clean cloth. [1]"
    assert supporting_second(chunk, answer, 1, "What do I degrease the rotor with?") == 65.0
    # a paraphrase finds its sentence too
    paraphrase = "Keep your fingers off the rotor [1]."
    assert supporting_second(chunk, paraphrase, 1, "Can I touch the rotor?") == 101.0
    # of two sentences cited, the one bearing on the question
    both = (
        "Oil on the rotor is the number one cause of squealing brakes. [1] Degrease the rotor "
        "with isopropyl alcohol and a clean cloth. [1]"
    )
    assert supporting_second(chunk, both, 1, "Why are my brakes squealing?") == 56.0


def test_the_gate_passes_a_chunk_saying_every_word_the_question_is_about():
    chunk = Chunk("c2", "cr_x", "d2", "Here's a trick I call the split shot: two cups.", "Tips")
    far = SearchHit(chunk, score=0.3, similarity=0.27)
    assert passes_gate(far, "What is the split shot trick?", 0.35)
    assert not passes_gate(far, "What is the split pea soup trick?", 0.35)
    assert not passes_gate(far, "What is a trick?", 0.35)  # one word is not enough


def test_a_rewrite_s_context_is_not_asked_for_word_by_word():
    """The gate's "every word" rule reads the fan's words, not the title a rewrite adds."""
    chunk = Chunk(
        "c3",
        "cr_x",
        "d3",
        "Check the quick link is fully seated after installing a new chain.",
        "Chains",
    )
    far = SearchHit(chunk, score=0.25, similarity=0.25)
    asked = "What should I check after installing it?"
    assert passes_gate(far, asked, 0.35)
    assert passes_gate(far, about_video(asked, "Chain wear explained"), 0.35)
    assert not passes_gate(far, about_video("What should I clean?", "Chain wear explained"), 0.35)


def test_the_same_words_asked_again_are_not_their_own_context():
    earlier = ["When should I replace my chain?", "When is it worn out?"]
    rewritten = standalone_question("When is it worn out?", earlier)
    assert rewritten == "When is it worn out? (context: When should I replace my chain?)"
    assert standalone_question("When is it worn out?", ["When is it  worn out"]) == (
        "When is it worn out?"
    )


def test_a_rewrite_s_labels_are_no_words_of_the_question():
    in_video = about_video("When is it worn out?", "Chain wear explained")
    assert without_labels(in_video) == "When is it worn out? (Chain wear explained)"
    follow_up = standalone_question("And how often?", ["How much sealant goes in?"])
    assert without_labels(follow_up) == "And how often? (How much sealant goes in?)"


def _hit(chunk_id: str, video_id: str, similarity: float) -> SearchHit:
    chunk = Chunk(chunk_id=chunk_id, creator_id="cr_x", document_id=video_id, text=chunk_id,
                  title=video_id, video_id=video_id)  # fmt: skip
    return SearchHit(chunk, score=similarity, similarity=similarity)


def test_the_watched_video_answers_alone_when_it_is_about_as_close_as_any() -> None:
    elsewhere = [_hit("stones", "sharpen", 0.62), _hit("grit", "finish", 0.55)]
    watched = [_hit("grit", "finish", 0.55), _hit("raise", "finish", 0.41)]
    ids = [h.chunk.chunk_id for h in prefer_video(elsewhere, watched, 5)]
    assert ids == ["grit", "raise"]  # 0.55 is within 0.1 of 0.62: the video alone
    # far under the best elsewhere, it only comes first
    weak = [_hit("intro", "finish", 0.36)]
    ids = [h.chunk.chunk_id for h in prefer_video(elsewhere, weak, 5)]
    assert ids == ["intro", "stones", "grit"]
    # nothing in the video passed the gate: the rest as they are
    assert [h.chunk.chunk_id for h in prefer_video(elsewhere, [], 5)] == ["stones", "grit"]


def test_a_follow_up_leans_on_the_latest_earlier_question_with_a_topic() -> None:
    earlier = ["How do I raise the grain?", "ok", "How do I flatten a stone?"]
    assert leaned_on("How long does that take?", earlier) == "How do I flatten a stone?"
    assert leaned_on("How long does that take?", earlier[:2]) == "How do I raise the grain?"
    assert leaned_on("How do I cut dovetails by hand?", earlier) is None  # self-contained
    assert leaned_on("How long does that take?", []) is None

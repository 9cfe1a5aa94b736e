"""Streamed answers: citations checked as the text arrives (CitationStream), the local
generator's sentence pieces, and Bedrock's ConverseStream read through the paced stub."""

from __future__ import annotations

import pytest
from creator_chat.adapters.aws.bedrock_generator import BedrockConverseGenerator
from creator_chat.adapters.embedded.local_generator import sentence_pieces
from creator_chat.adapters.llm_common import parse_citations
from creator_chat.domain.models import Chunk
from creator_chat.errors import DependencyUnavailable
from creator_chat.local.bedrock_stub import PacedConverseStub
from creator_chat.prompting import NOT_FOUND_ANSWER
from creator_chat.streaming import CitationStream

from tests.unit.test_retrieval import transcript_chunk

ANSWERS = [
    "Use 30 ml per tyre. [2] Top it up every 3 months. [1]",
    "Degrease the rotor [3] with alcohol [9]. Then bed in the pads [1, 3].",
    "  The year was [2024] and part [12 is odd. [1]  ",
    "No markers at all, just text.",
    "Markers [1][1] twice [2], [7] and a bracket [ alone.",
    "Line one [4]\n[5] line two.",
]


def streamed(text: str, pieces: list[str], sources: int = 4) -> tuple[str, dict[int, int]]:
    stream = CitationStream(sources)
    out = [stream.feed(p) for p in pieces]
    out.append(stream.finish())
    assert "".join(out) == stream.text  # what is shown is what is stored
    return stream.text, stream.order


@pytest.mark.parametrize("text", ANSWERS)
def test_any_split_gives_the_same_answer_as_the_whole(text: str) -> None:
    whole = streamed(text, [text])
    assert streamed(text, list(text)) == whole  # character by character
    for cut in range(len(text)):
        assert streamed(text, [text[:cut], text[cut:]]) == whole


DOCUMENTS = [Chunk(f"c{n}", "cr_x", f"d{n}", f"Passage {n}.", f"Doc {n}") for n in range(1, 5)]


@pytest.mark.parametrize("text", [a for a in ANSWERS if "," not in a])
def test_it_agrees_with_the_sync_path(text: str) -> None:
    from creator_chat.domain.models import Generation
    from creator_chat.usecases.chat import make_citations

    checked, cited = parse_citations(text.strip(), 4)
    generation = Generation(checked, cited=cited)
    citations = make_citations(generation, DOCUMENTS)
    shown, order = streamed(text, list(text))
    assert shown == generation.text
    assert [c.n for c in citations] == sorted(order.values())


def test_markers_are_renumbered_in_order_of_appearance_and_unknown_ones_dropped() -> None:
    text, order = streamed("", ["Pads first [3]. Rotor [9] next [1]. Pads again [3]."])
    assert text == "Pads first [1]. Rotor next [2]. Pads again [1]."
    assert order == {3: 1, 1: 2}


def test_a_group_marker_is_renumbered_too() -> None:
    text, order = streamed("", ["Both [4, 2]. Then [2]."])
    assert text == "Both [1, 2]. Then [2]."
    assert order == {4: 1, 2: 2}


def test_an_empty_reply_becomes_the_not_found_answer() -> None:
    assert streamed("", ["  ", "\n"])[0] == NOT_FOUND_ANSWER
    assert streamed("", ["[9]"], sources=2)[0] == NOT_FOUND_ANSWER


def test_what_cannot_be_decided_yet_is_held_back() -> None:
    stream = CitationStream(3)
    assert stream.feed("Cold milk [") == "Cold milk"
    assert stream.feed("2") == ""
    assert stream.feed("] first. ") == " [1] first."
    assert stream.finish() == ""
    assert stream.text == "Cold milk [1] first."


def test_sentence_pieces_join_to_the_text() -> None:
    text = "Happy to help! Start cold. [1] The target is 60. [2] Hand flat [3]. End"
    pieces = sentence_pieces(text)
    assert "".join(pieces) == text
    assert pieces[1] == "Start cold. [1] "
    assert len(pieces) == 5


SOURCES = [
    Chunk(
        chunk_id=f"c{i}",
        document_id="d1",
        creator_id="cr_x",
        title="Milk",
        text=text,
        source_url="https://example.com/v",
    )
    for i, text in enumerate(
        ["Steam the milk to 60 degrees. It gets sweeter.", "Start with cold milk. Always."]
    )
]


def _generate(stub: PacedConverseStub) -> tuple[list[str], object]:
    gen = BedrockConverseGenerator(stub, "stub")
    deltas: list[str] = []
    result = gen.generate_stream(
        system="s",
        history=[],
        question="How hot?",
        sources=SOURCES,
        max_tokens=100,
        on_delta=deltas.append,
    )
    return deltas, result


def test_converse_stream_deltas_are_the_reply() -> None:
    stub = PacedConverseStub(sleep=lambda _s: None)
    deltas, result = _generate(stub)
    assert len(deltas) > 5
    assert "".join(deltas) == result.text  # type: ignore[attr-defined]
    assert "Steam the milk to 60 degrees. [1]" in result.text  # type: ignore[attr-defined]
    assert result.output_tokens > 0 and result.cited == [1, 2]  # type: ignore[attr-defined]
    assert stub.calls[0]["modelId"] == "stub"


def test_the_stub_keeps_a_models_pace() -> None:
    slept: list[float] = []
    _generate(PacedConverseStub(first_token_s=0.4, tokens_per_s=30, sleep=slept.append))
    assert slept[0] == 0.4
    assert all(s == pytest.approx(1 / 30) for s in slept[1:])


def test_throttling_before_and_during_the_stream_is_a_dependency_failure() -> None:
    with pytest.raises(DependencyUnavailable):
        _generate(PacedConverseStub(throttle=True, sleep=lambda _s: None))
    deltas: list[str] = []
    gen = BedrockConverseGenerator(PacedConverseStub(fail_after=3, sleep=lambda _s: None), "m")
    with pytest.raises(DependencyUnavailable):
        gen.generate_stream(
            system="s",
            history=[],
            question="q",
            sources=SOURCES,
            max_tokens=10,
            on_delta=deltas.append,
        )
    assert len(deltas) == 3


VTT = """WEBVTT

00:00:02.000 --> 00:00:06.000
Today we replace worn disc brake pads.

00:00:06.000 --> 00:00:09.000
Pads are worn under one millimetre.

00:00:40.000 --> 00:00:48.000
Degrease the rotor with isopropyl alcohol.

00:01:30.000 --> 00:01:38.000
Never touch the rotor with your fingers.
"""


def brake_video() -> Chunk:
    return transcript_chunk(VTT, source_url="https://www.youtube.com/watch?v=brakes01")


MANUAL = Chunk("m1", "cr_x", "doc_m", "Torque the bolts to 6 Nm.", "Manual")

ANSWER = (
    "Today we replace worn disc brake pads. [1] Pads are worn under one millimetre. [1] "
    "Degrease the rotor with isopropyl alcohol. [1] Torque the bolts to 6 Nm. [2] "
    "Never touch the rotor with your fingers. [1]"
)


def test_claims_said_apart_in_one_video_get_a_citation_each_at_their_own_second() -> None:
    stream = CitationStream([brake_video(), MANUAL])
    pieces = [stream.feed(ANSWER[i : i + 7]) for i in range(0, len(ANSWER), 7)]
    pieces.append(stream.finish())
    assert "".join(pieces) == stream.text
    assert stream.text == (
        "Today we replace worn disc brake pads. [1] Pads are worn under one millimetre. [1] "
        "Degrease the rotor with isopropyl alcohol. [2] Torque the bolts to 6 Nm. [3] "
        "Never touch the rotor with your fingers. [4]"
    )
    # the first two are said 4 s apart: one citation, at the first; the others at their own
    assert stream.entries == [(1, 2.0), (1, 40.0), (2, None), (1, 90.0)]
    assert stream.order == {1: 1, 2: 3}
    # given only the count, a source is one citation, as before
    counted = CitationStream(2)
    counted.feed(ANSWER)
    counted.finish()
    assert [n for n, _ in counted.entries] == [1, 2]


def test_the_sync_path_numbers_citations_as_the_stream_does() -> None:
    from creator_chat.domain.models import Generation
    from creator_chat.usecases.chat import make_citations

    sources = [brake_video(), MANUAL]
    generation = Generation(ANSWER, cited=[1, 2])
    citations = make_citations(generation, sources, "How do I replace brake pads?")
    stream = CitationStream(sources)
    stream.feed(ANSWER)
    stream.finish()
    assert generation.text == stream.text
    assert [(c.n, c.start_s, c.document_id) for c in citations] == [
        (1, 2.0, "doc_x"),
        (2, 40.0, "doc_x"),
        (3, None, "doc_m"),
        (4, 90.0, "doc_x"),
    ]
    assert citations[1].url.endswith("t=40s")
    # the hover text starts where the link opens, not at the passage's first words
    assert citations[0].snippet.startswith("Today we replace worn disc brake pads.")
    assert citations[1].snippet.startswith("… Degrease the rotor with isopropyl alcohol.")
    assert citations[2].snippet == "Torque the bolts to 6 Nm."

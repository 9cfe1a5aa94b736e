from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence

import pytest
from creator_chat.adapters.embedded.local_generator import (
    MAX_QUOTED,
    MODEL_ID,
    NOT_FOUND_ANSWER,
    LocalExtractiveGenerator,
    split_sentences,
    terms,
)
from creator_chat.domain.models import Chunk, Creator, Generation
from creator_chat.ports import Generator
from creator_chat.prompting import build_system_prompt

SYSTEM = build_system_prompt(Creator(creator_id="c1", slug="jane", name="Jane Doe"), None)
FRAMING = "Here is what I found in Jane Doe's content: "
MARKED = re.compile(r"(.+?) \[(\d+)\](?: |$)")


def chunk(n: int, text: str, title: str = "A video") -> Chunk:
    return Chunk(chunk_id=f"ch{n}", creator_id="c1", document_id=f"d{n}", text=text, title=title)


THUMBNAILS = chunk(
    1,
    "Welcome back to the channel. Use bold text and faces with strong emotion in your "
    "thumbnails. Keep the thumbnail text under four words so it reads on a phone.",
    "Thumbnail masterclass",
)
LIGHTING = chunk(
    2,
    "For lighting I put two softboxes at 45 degrees to my face.\n"
    "A cheap ring light works for beginners too. The key light should be brighter than "
    "the fill light.",
    "My lighting setup",
)
AUDIO = chunk(
    3,
    "My favourite microphone is the Shure SM7B. For a budget option, the Rode PodMic "
    "sounds surprisingly close. Always record audio at 48 kHz.",
    "Audio gear",
)
SOURCES = [THUMBNAILS, LIGHTING, AUDIO]


def normalise(text: str) -> str:
    return " ".join(text.split())


def answer(question: str, sources: list[Chunk] = SOURCES, max_tokens: int = 400) -> Generation:
    return LocalExtractiveGenerator().generate(
        system=SYSTEM, history=[], question=question, sources=sources, max_tokens=max_tokens
    )


def quoted(gen: Generation) -> list[tuple[str, int]]:
    """(sentence, source number) pairs of an answer."""
    assert gen.text.startswith(FRAMING), gen.text
    body = gen.text[len(FRAMING) :]
    pairs = [(m.group(1), int(m.group(2))) for m in MARKED.finditer(body)]
    assert " ".join(f"{s} [{n}]" for s, n in pairs) == body  # nothing but quotes + markers
    return pairs


def test_implements_the_generator_port() -> None:
    gen: Generator = LocalExtractiveGenerator()
    assert gen.model_id == MODEL_ID == "local-extractive-v1"


@pytest.mark.parametrize(
    "question",
    [
        "How should I light my face?",
        "Which microphone do you use?",
        "How many words should thumbnail text have?",
        "What sample rate do you record audio at?",
        "Is a ring light ok for beginners?",
    ],
)
def test_every_answer_sentence_is_quoted_from_the_source_its_marker_names(question: str) -> None:
    gen = answer(question)
    pairs = quoted(gen)
    assert 1 <= len(pairs) <= 3
    for sentence, n in pairs:
        assert 1 <= n <= len(SOURCES)
        assert normalise(sentence) in normalise(SOURCES[n - 1].text), (sentence, n)
    assert gen.cited == sorted({n for _, n in pairs})
    assert gen.model_id == MODEL_ID


def test_picks_the_right_source_among_distractors() -> None:
    gen = answer("What microphone do you recommend for a podcast?")
    pairs = quoted(gen)
    assert gen.cited == [3]
    assert "Shure SM7B" in pairs[0][0]

    gen = answer("How many softboxes, and at what angle?")
    assert gen.cited == [2]
    assert "45 degrees" in quoted(gen)[0][0]


def test_marker_follows_the_source_order_given() -> None:
    gen = answer("Which microphone do you use?", sources=[AUDIO, THUMBNAILS])
    assert gen.cited == [1]
    assert all(n == 1 for _, n in quoted(gen))


@pytest.mark.parametrize(
    "question",
    [
        "What's a good pizza recipe?",
        "Who won the football world cup?",
        "How do I do my taxes?",
        "what is it?",  # only stop words
        "",
    ],
)
def test_unrelated_question_is_not_found_without_citations(question: str) -> None:
    gen = answer(question)
    assert gen.text == NOT_FOUND_ANSWER
    assert gen.cited == []


@pytest.mark.parametrize(
    "question",
    [
        # "beginners" is in the sources, but the question is about something else entirely.
        "What is the best pizza dough recipe for beginners?",
        # "channel" only appears in a greeting; it is filler in every creator's content.
        "How do I grow my channel?",
    ],
)
def test_a_single_generic_overlap_is_not_evidence(question: str) -> None:
    gen = answer(question)
    assert gen.text == NOT_FOUND_ANSWER
    assert gen.cited == []


def test_no_sources_is_not_found() -> None:
    gen = answer("Which microphone do you use?", sources=[])
    assert gen.text == NOT_FOUND_ANSWER
    assert gen.cited == []
    assert gen.output_tokens > 0
    assert gen.input_tokens > 0


def test_is_deterministic() -> None:
    first = answer("Is a ring light ok for beginners and what about the key light?")
    for _ in range(5):
        again = answer("Is a ring light ok for beginners and what about the key light?")
        assert again == first


def test_no_near_duplicates() -> None:
    repeated = chunk(1, "Use two softboxes at 45 degrees for soft light on your face.")
    same_again = chunk(2, "Use two softboxes at 45 degrees for soft light on your face!")
    gen = answer("How many softboxes for face light?", sources=[repeated, same_again])
    pairs = quoted(gen)
    assert len(pairs) == 1
    assert gen.cited == [1]  # ties go to the higher-ranked source


def test_stemming_matches_word_forms() -> None:
    assert terms("Lighting lights light") == ["light", "light", "light"]
    assert terms("editing edits edited") == ["edit", "edit", "edit"]
    gen = answer("tips for lighting?")
    assert gen.cited == [2]


def test_token_counts_are_word_based_estimates() -> None:
    gen = answer("Which microphone do you use?")
    assert gen.output_tokens == math.ceil(len(gen.text.split()) * 1.3)
    assert gen.input_tokens > gen.output_tokens


def test_respects_max_tokens_for_extra_sentences() -> None:
    gen = answer("Is a ring light ok for beginners and what about the key light?", max_tokens=20)
    assert len(quoted(gen)) == 1


def test_sentence_splitting_keeps_abbreviations_and_cuts_unpunctuated_captions() -> None:
    text = "## Gear\nI use e.g. the Sony A7 daily. Dr. Lee agrees!\n- Use a sturdy tripod\n"
    assert split_sentences(text) == [
        "I use e.g. the Sony A7 daily.",
        "Dr. Lee agrees!",
        "Use a sturdy tripod",
    ]
    captions = " ".join(["so today i want to show you how i set up my key light"] * 10)
    pieces = split_sentences(captions)
    assert len(pieces) > 1
    assert all(len(p.split()) <= 40 and p in captions for p in pieces)


def test_a_long_sentence_that_ends_is_never_cut_into_pieces() -> None:
    long = (
        "It then turns the bytecode for modules written in Python into C code (array "
        "initializers that can be turned into code objects using the marshal module) and "
        "creates a custom-made config file that only contains those built-in modules which "
        "are actually used in the program, so the binary stays small."
    )
    assert 40 < len(long.split()) <= 80
    assert split_sentences(f"Freeze works in three steps. {long} Then it links.") == [
        "Freeze works in three steps.",
        long,
        "Then it links.",
    ]
    # a run of captions with one full stop at its end is still cut into windows
    run_on = " ".join(["and then we move the light a bit closer to the face"] * 9) + "."
    assert len(split_sentences(run_on)) > 1


def test_answers_from_unpunctuated_captions_quote_a_window_of_them() -> None:
    captions = chunk(
        1,
        "okay so the first thing you want to do is open the audio settings and then set the "
        "sample rate to forty eight kilohertz because that matches video and after that we "
        "are going to talk about color grading in resolve with a simple look up table and "
        "finally export everything in high bitrate h264 so youtube does not crush it",
    )
    gen = answer("What sample rate should the audio settings use?", sources=[captions])
    pairs = quoted(gen)
    assert "sample rate to forty eight kilohertz" in pairs[0][0]
    assert all(normalise(s) in normalise(captions.text) for s, _ in pairs)


def test_falls_back_to_a_generic_owner_without_a_built_system_prompt() -> None:
    gen = LocalExtractiveGenerator().generate(
        system="be nice", history=[], question="microphone?", sources=[AUDIO], max_tokens=100
    )
    assert gen.text.startswith("Here is what I found in the creator's content: ")
    assert gen.cited == [1]


# ------------------------------------------------------------------ Markdown and tables
MAINTENANCE = chunk(
    1,
    "| Task | How often |\n"
    "| ---- | --------- |\n"
    "| Backflush with water | Daily, on a machine in daily use |\n"
    "| Backflush with detergent | Weekly |\n"
    "| Replace the water filter cartridge | Every 2 months |\n"
    "\n"
    "Use soft, low-mineral water. The steam boiler must be descaled by a service centre.",
    "Machine guide",
)
ERROR_CODES = Chunk(
    chunk_id="ch2",
    creator_id="c1",
    document_id="d2",
    text="| Code | Meaning | What to do |\n"
    "| ---- | ------- | ---------- |\n"
    "| E1 | Water tank empty | Refill the tank. |\n"
    "| E3 | Steam boiler over temperature | Switch off, let it cool for 30 minutes. |\n",
    title="Machine guide",
    heading="Machine guide > Error codes",  # a section's sentences hold its heading's terms
)


def test_table_rows_become_sentences_of_their_own_cells() -> None:
    assert split_sentences(MAINTENANCE.text)[:3] == [
        "Backflush with water: Daily, on a machine in daily use",
        "Backflush with detergent: Weekly",
        "Replace the water filter cartridge: Every 2 months",
    ]
    assert split_sentences(ERROR_CODES.text) == [
        "E1: Water tank empty; what to do: Refill the tank.",
        "E3: Steam boiler over temperature; what to do: Switch off, let it cool for 30 minutes.",
    ]
    # without outer pipes too
    assert split_sentences("Task | How often\n--- | ---\nDescale the boiler | Yearly\n") == [
        "Descale the boiler: Yearly"
    ]


@pytest.mark.parametrize("semantic", [False, True])
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How often should I backflush with detergent?", "Backflush with detergent: Weekly"),
        ("What does error E3 mean?", "E3: Steam boiler over temperature"),
    ],
)
def test_table_rows_are_never_quoted_with_pipes(
    question: str, expected: str, semantic: bool
) -> None:
    generator = LocalExtractiveGenerator(embedder=ConceptEmbedder() if semantic else None)
    gen = generator.generate(
        system=SYSTEM,
        history=[],
        question=question,
        sources=[MAINTENANCE, ERROR_CODES],
        max_tokens=400,
    )
    assert "|" not in gen.text and "---" not in gen.text
    assert expected in gen.text
    quoted(gen)


def test_markdown_markup_and_code_fences_are_not_quoted() -> None:
    text = (
        "Hold **BREW** for 3 seconds to enter programming mode; the display shows `PRG`.\n\n"
        "```text\n1. Switch the machine off with the rocker switch.\n```\n"
    )
    assert split_sentences(text) == [
        "Hold BREW for 3 seconds to enter programming mode; the display shows PRG.",
        "Switch the machine off with the rocker switch.",
    ]


# ------------------------------------------------------------------ neighbour sentences
def test_a_lead_in_brings_the_sentence_it_announces() -> None:
    text = chunk(
        1,
        "Pull a little longer if it is sour. Here's a trick I call the split shot. Put two "
        "cups on the scale and swap them at the halfway point. Taste both halves.",
    )
    gen = answer("What is the split shot trick?", sources=[text])
    assert [s for s, _ in quoted(gen)] == [
        "Here's a trick I call the split shot.",
        "Put two cups on the scale and swap them at the halfway point.",
    ]


def test_a_sentence_that_leans_back_brings_the_one_before() -> None:
    text = chunk(
        1,
        "Welcome back. 18 grams in, 36 grams out, in 27 to 32 seconds. That's my default "
        "for a medium roast. For a light roast I go longer.",
    )
    gen = answer("What is your default for a medium roast?", sources=[text])
    sentences = [s for s, _ in quoted(gen)]
    assert sentences[:2] == [
        "18 grams in, 36 grams out, in 27 to 32 seconds.",
        "That's my default for a medium roast.",
    ]


def test_neighbours_never_cross_a_spoken_section_title() -> None:
    text = chunk(
        1,
        "The burrs are aligned well. Static. That was my biggest problem with the grinder "
        "out of the box.",
    )
    gen = answer("Was static a problem with the grinder?", sources=[text])
    assert [s for s, _ in quoted(gen)] == [
        "That was my biggest problem with the grinder out of the box."
    ]


# ------------------------------------------------------------------ semantic scoring
class ConceptEmbedder:
    """A tiny deterministic stand-in for a sentence model: a text's vector counts the
    concepts its words name, plus (at half weight) its other content terms hashed into
    buckets, so texts sharing no concept are alike only as far as they share words."""

    CONCEPTS = {
        "sharpness": "blurry blur sharp sharper steady shutter shake",
        "photo": "photos photo camera pictures",
        "art": "print prints art abstract gallery wall frame",
        "temperature": "temperature hot degrees celsius warm",
        "milk": "milk dairy latte steamed",
        "coffee": "coffee espresso brew",
        "cold": "cold fridge chilled",
        "maintenance": "backflush detergent descale filter cartridge clean",
        "error": "error code e1 e3 meaning mean",
    }
    BUCKETS = 64

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self._index = {
            word: i for i, words in enumerate(self.CONCEPTS.values()) for word in words.split()
        }

    @property
    def model_id(self) -> str:
        return "concepts"

    @property
    def dimension(self) -> int:
        return len(self.CONCEPTS) + self.BUCKETS + 1

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        out = []
        for text in texts:
            vector = [0.0] * (self.dimension - 1) + [0.01]
            words = re.findall(r"[a-z0-9]+", text.lower())
            for word in words:
                if word in self._index:
                    vector[self._index[word]] += 1.0
            for term in terms(" ".join(w for w in words if w not in self._index)):
                vector[len(self.CONCEPTS) + zlib.crc32(term.encode()) % self.BUCKETS] += 0.5
            norm = math.sqrt(sum(x * x for x in vector))
            out.append([x / norm for x in vector])
        return out


class BrokenEmbedder(ConceptEmbedder):
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise RuntimeError("model unavailable")


PHOTO_ART = chunk(1, "I print my blurry photos as abstract art for the gallery wall.", "Studio")
PHOTO_TIP = chunk(2, "Use a faster shutter speed and hold the camera steady.", "Camera basics")


def semantic_answer(
    question: str, sources: list[Chunk], embedder: ConceptEmbedder | None = None
) -> Generation:
    return LocalExtractiveGenerator(embedder=embedder or ConceptEmbedder()).generate(
        system=SYSTEM, history=[], question=question, sources=sources, max_tokens=400
    )


def test_meaning_beats_a_lexical_distractor() -> None:
    question = "How do I stop my photos looking blurry?"
    # on words alone, the sentence sharing "photos" and "blurry" wins
    assert answer(question, sources=[PHOTO_ART, PHOTO_TIP]).cited == [1]
    gen = semantic_answer(question, [PHOTO_ART, PHOTO_TIP])
    assert quoted(gen) == [("Use a faster shutter speed and hold the camera steady.", 2)]
    assert gen.cited == [2]


def test_question_and_sentences_are_embedded_in_one_call() -> None:
    embedder = ConceptEmbedder()
    duplicate = chunk(3, PHOTO_TIP.text, "Camera basics again")
    semantic_answer(
        "How do I stop my photos looking blurry?", [PHOTO_ART, PHOTO_TIP, duplicate], embedder
    )
    assert embedder.calls == [
        [
            "How do I stop my photos looking blurry?",
            "I print my blurry photos as abstract art for the gallery wall.",
            "Use a faster shutter speed and hold the camera steady.",
        ]
    ]


def test_prefers_a_sentence_stating_the_quantity_asked_for() -> None:
    text = chunk(
        1,
        "Steamed milk gets sweeter as it gets warm. Steamed milk is ready at 60 degrees Celsius.",
    )
    gen = semantic_answer("What temperature should steamed milk reach?", [text])
    assert quoted(gen)[0] == ("Steamed milk is ready at 60 degrees Celsius.", 1)


@pytest.mark.parametrize(
    "question",
    [
        # shares a rare word ("cold") with a sentence, but means something else
        "How do I make cold brew coffee at home?",
        "What's a good pizza dough recipe?",
        "Who won the football world cup?",
    ],
)
def test_weak_evidence_is_not_found(question: str) -> None:
    milk = chunk(
        1,
        "Start with cold milk straight from the fridge. Stretch the milk for five seconds.",
        "Milk steaming",
    )
    gen = semantic_answer(question, [milk, PHOTO_ART, PHOTO_TIP])
    assert gen.text == NOT_FOUND_ANSWER
    assert gen.cited == []


class UnrelatedEmbedder(ConceptEmbedder):
    """Finds every text unrelated to every other."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0 if i == j else 0.0 for j in range(len(texts))] for i in range(len(texts))]


def test_shared_words_are_not_evidence_when_the_meaning_is_unrelated() -> None:
    assert answer("Which microphone do you use?").cited == [3]  # on words alone
    gen = semantic_answer("Which microphone do you use?", SOURCES, UnrelatedEmbedder())
    assert gen.text == NOT_FOUND_ANSWER
    assert gen.cited == []


def test_an_embedder_failure_falls_back_to_words() -> None:
    gen = semantic_answer("Which microphone do you use?", SOURCES, BrokenEmbedder())
    assert gen.cited == [3]
    assert "Shure SM7B" in quoted(gen)[0][0]


@pytest.mark.parametrize(
    "question",
    [
        "How should I light my face?",
        "Which microphone do you use?",
        "How many words should thumbnail text have?",
        "Is a ring light ok for beginners?",
    ],
)
def test_semantic_answers_quote_their_sources_too(question: str) -> None:
    gen = semantic_answer(question, SOURCES)
    pairs = quoted(gen)
    assert 1 <= len(pairs) <= MAX_QUOTED
    for sentence, n in pairs:
        assert normalise(sentence) in normalise(SOURCES[n - 1].text), (sentence, n)
    assert gen.cited == sorted({n for _, n in pairs})


# ------------------------------------------------------------------ an answer's shape
class LikenessEmbedder(ConceptEmbedder):
    """Gives each sentence the cosine with the question it is told (0 for others), each
    in a direction of its own: sentences are alike only through the question."""

    def __init__(self, likeness: dict[str, float]) -> None:
        super().__init__()
        self.likeness = likeness

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        size = len(texts) + 1
        out = [[1.0] + [0.0] * size]  # the question
        for i, text in enumerate(texts[1:], start=1):
            cosine = self.likeness.get(text, 0.0)
            vector = [cosine] + [0.0] * size
            vector[i + 1] = math.sqrt(1 - cosine**2)
            out.append(vector)
        return out


def test_the_answer_leads_with_the_sentence_that_answers() -> None:
    degassing = "A fresh light roast is still degassing."
    rest = "Rest a light roast two weeks before you dial it in."
    embedder = LikenessEmbedder({degassing: 0.8, rest: 0.9})
    gen = semantic_answer(
        "Should I rest a light roast?", [chunk(1, f"{degassing} {rest}")], embedder
    )
    assert [s for s, _ in quoted(gen)] == [rest, degassing]


def test_a_sentence_continuing_the_lead_keeps_the_passage_in_text_order() -> None:
    text = chunk(
        1,
        "The fix for static is a spritz of water on the beans. One spray is enough. "
        "With that, the static on the grinder was gone.",
    )
    gen = answer("How do I fix static on the grinder?", sources=[text])
    sentences = [s for s, _ in quoted(gen)]
    assert sentences == sorted(sentences, key=text.text.index)


def test_an_introduction_is_not_quoted_as_an_answer() -> None:
    brakes = chunk(
        1,
        "In this video we replace worn disc brake pads and bed in the new pads. "
        "New pads must be bedded in with ten hard stops from 25 km/h.",
        "Road bike brakes",
    )
    gen = answer("How do I bed in new disc brake pads?", sources=[brakes])
    assert [s for s, _ in quoted(gen)] == [
        "New pads must be bedded in with ten hard stops from 25 km/h."
    ]


def test_a_question_about_what_a_video_covers_is_answered_from_its_introduction_on() -> None:
    # "How do I dial in a new bag?" is what the whole video is about: its introduction is
    # the closest sentence, and no other sentence comes near it. The answer is what the
    # introduction announces, in the video's order, not a stray line elsewhere that
    # happens to mention beans.
    greeting = "Hey, welcome back to the channel."
    intro = "Today we are dialing in a new bag of beans with my five shot routine."
    lead_in = "First, the numbers I start from."
    numbers = "Eighteen grams in, thirty six grams out, in about thirty seconds."
    ratio = "That is a one to two ratio for a medium roast."
    shot_one = "Shot one is the reference shot."
    shot_two = "Shot two changes the grind and only the grind."
    after = "Next, write down the yield, the time and the taste."
    stray = "Give the bellows two pumps after the beans stop."
    embedder = LikenessEmbedder({intro: 0.75, stray: 0.55, numbers: 0.2})
    script = [greeting, intro, lead_in, numbers, ratio, shot_one, shot_two, after]
    video = chunk(1, " ".join(script))
    review = chunk(2, f"The grinder holds very little. {stray}", "Grinder review")
    question = "How do I dial in a new bag of beans?"
    gen = semantic_answer(question, [video, review], embedder)
    # five sentences at most, and the last cut is not a lead-in announcing nothing
    assert quoted(gen) == [(intro, 1), (lead_in, 1), (numbers, 1), (ratio, 1), (shot_one, 1)]
    # a tight budget still quotes the introduction
    tight = LocalExtractiveGenerator(embedder=embedder).generate(
        system=SYSTEM, history=[], question=question, sources=[video, review], max_tokens=30
    )
    assert quoted(tight) == [(intro, 1)]
    # asked how to do it, the video's procedure answers even when a sentence comes close
    specific = LikenessEmbedder({intro: 0.75, stray: 0.55, numbers: 0.72})
    gen = semantic_answer(question, [video, review], specific)
    assert quoted(gen)[0] == (intro, 1)
    # asked something else, a sentence that answers on its own still leads, the
    # introduction out of the answer
    for other in ("What numbers do you start a new bag with?", "How much coffee goes in?"):
        gen = semantic_answer(other, [video, review], specific)
        assert (numbers, 1) in quoted(gen)[:2]  # after its lead-in, when that leads
        assert (intro, 1) not in quoted(gen)


def test_a_sign_off_is_never_quoted_as_an_answer() -> None:
    outro = "If this helped, hit subscribe, and next week we're cutting dovetails by hand."
    step = "Saw the tails first with a fine dovetail saw."
    embedder = LikenessEmbedder({outro: 0.8, step: 0.6})
    video = chunk(1, f"{step} Chop the waste from both faces. {outro}")
    gen = semantic_answer("How do I cut dovetails by hand?", [video], embedder)
    assert quoted(gen)[0] == (step, 1)
    assert (outro, 1) not in quoted(gen)


def test_an_overview_reads_on_into_the_next_chunk_of_the_same_video() -> None:
    intro = "In this video we replace worn disc brake pads on a road bike."
    worn = "Pads are worn when the friction material is under one millimetre thick."
    wheel = "Remove the wheel and pull the retaining pin out of the caliper."
    slide = "Slide the old pads out together with the spring."
    pistons = "Push the pistons back with a plastic tyre lever, never a screwdriver."
    later = "Fit the new pads with the spring between them and refit the pin."

    def part(ordinal: int, text: str) -> Chunk:
        return Chunk(
            chunk_id=f"b{ordinal}", creator_id="c1", document_id="brakes", text=text,
            title="Replacing disc brake pads", ordinal=ordinal,
        )  # fmt: skip

    # sources in ranked order, not reading order; the chunks overlap by one sentence
    first, second = part(0, f"{intro} {worn} {wheel}"), part(1, f"{wheel} {slide} {pistons}")
    other = chunk(3, "Degrease the rotor before you ride.", "Rotor care")
    embedder = LikenessEmbedder({intro: 0.8, later: 0.5})
    question = "How do I replace worn disc brake pads?"
    gen = semantic_answer(question, [part(3, later), first, other, second], embedder)
    assert quoted(gen) == [(intro, 2), (worn, 2), (wheel, 2), (slide, 4), (pistons, 4)]


def test_a_code_the_question_names_makes_the_sentence_holding_it_evidence() -> None:
    # the manual's table says "F2: ...", never "error": the words alone cover a third of
    # "What does error F2 mean?", and the row's meaning is far from the question's
    row = "F2: Water level low; refill the trough TR-6 to the MAX line."
    table = chunk(
        1,
        f"F1: Motor stalled; free the wheel and restart. {row} "
        "F3: Motor overheated; let it cool for 30 minutes.",
        "Troubleshooting",
    )
    other = chunk(2, "Keep light, even pressure on the WS-10 while you grind.", "Operation")
    embedder = LikenessEmbedder({row: 0.2})
    for question in ("What does error F2 mean?", "What does error code F2 mean?"):
        assert quoted(semantic_answer(question, [other, table], embedder)) == [(row, 2)]
    # a code said in every sentence (the product's name) is no evidence by itself
    product = chunk(
        1,
        "The WS-10 weighs 12 kilos. The WS-10 runs at 120 RPM. The WS-10 ships with a jig.",
        "Specs",
    )
    gen = semantic_answer("Is the WS-10 quiet?", [product], LikenessEmbedder({}))
    assert gen.cited == []


def test_a_question_the_video_repeats_is_quoted_with_its_answer_or_not_at_all() -> None:
    echo = "A couple of you asked why your edge chipped on white oak."
    answer_ = "Usually the bevel is too low for hardwood."
    steps = "Hone a 30 degree micro bevel on the 8000 stone."
    embedder = LikenessEmbedder({echo: 0.8, answer_: 0.4, steps: 0.56})
    video = chunk(1, f"Grind the primary bevel at 25 degrees. {echo} {answer_}")
    gen = semantic_answer("Why did my edge chip?", [video], embedder)
    assert quoted(gen)[:2] == [(echo, 1), (answer_, 1)]
    # the answer past the end of the passage: after a better lead, the echo is no point of
    # its own (as the lead itself, it still points to where the video answers)
    embedder = LikenessEmbedder({echo: 0.8, steps: 0.9})
    cut = chunk(2, f"Grind the primary bevel at 25 degrees. {echo}")
    gen = semantic_answer("Why did my edge chip?", [chunk(1, steps, "Micro bevel"), cut], embedder)
    assert (echo, 2) not in quoted(gen)


def test_a_cross_reference_does_not_lead_the_answer() -> None:
    # "See also <the question>" repeats the question's words, so it is the closest match,
    # and answers nothing: the answer opens with what answers, the pointer may follow
    pointer = "See also How do I bed in new disc brake pads?."
    steps = "Bed in new pads with ten hard stops from 25 km/h."
    embedder = LikenessEmbedder({pointer: 0.95, steps: 0.7})
    faq = chunk(1, f"Pads squeal when they are glazed. {pointer}", "Brake FAQ")
    manual = chunk(2, steps, "Brake manual")
    question = "How do I bed in new disc brake pads?"
    gen = semantic_answer(question, [faq, manual], embedder)
    assert quoted(gen)[0] == (steps, 2)
    assert (pointer, 1) in quoted(gen)
    # when it is the only evidence, the pointer is still the honest answer
    alone = semantic_answer(question, [chunk(1, pointer, "Brake FAQ")], embedder)
    assert quoted(alone) == [(pointer, 1)]


def test_a_point_stating_no_quantity_is_dropped_when_one_is_asked_for() -> None:
    target = "Steam the milk to 60 to 65 degrees Celsius."
    glossy = "Steamed milk should look glossy like wet paint."
    embedder = LikenessEmbedder({target: 0.8, glossy: 0.75})
    milk = chunk(1, f"{target}\n\n{glossy}", "Milk steaming")
    gen = semantic_answer("What temperature should steamed milk reach?", [milk], embedder)
    assert [s for s, _ in quoted(gen)] == [target]
    # asked for no quantity, the same sentence bears on the question
    gen = semantic_answer("How should steamed milk look?", [milk], embedder)
    assert glossy in [s for s, _ in quoted(gen)]


def test_a_plain_title_line_is_never_glued_into_a_sentence() -> None:
    page = (
        "Brake pads wear faster in the rain.\n"
        "Bedding in new pads\n"
        "Ride to 25 km/h and brake hard, ten times in a row.\n"
        "Preinfusion is 4\n"
        "seconds at 3 bar by default."
    )
    assert split_sentences(page) == [
        "Brake pads wear faster in the rain.",
        "Ride to 25 km/h and brake hard, ten times in a row.",
        "Preinfusion is 4 seconds at 3 bar by default.",
    ]
    gen = answer("How do I bed in new pads?", sources=[chunk(1, page, "Brake manual")])
    assert "Bedding in new pads" not in gen.text
    assert "Ride to 25 km/h and brake hard, ten times in a row." in gen.text


def persona_system(persona: str) -> str:
    creator = Creator(creator_id="c1", slug="jane", name="Jane Doe", persona=persona)
    return build_system_prompt(creator, None)


@pytest.mark.parametrize(
    ("persona", "opener"),
    [
        (
            "Jane, a warm and encouraging coach. Precise with numbers.",
            "Happy to help! Here's what Jane Doe's content says: ",
        ),
        (
            "A precise, practical engineer; warm with beginners.",
            "Here's the short answer from Jane Doe's content: ",
        ),
        (
            "Playful and upbeat, lots of jokes.",
            "Great question! Straight from Jane Doe's content: ",
        ),
        ("A former cafe trainer.", FRAMING),  # no tone named: neutral
        ("", FRAMING),
    ],
)
def test_the_opener_takes_the_tone_the_persona_names(persona: str, opener: str) -> None:
    gen = LocalExtractiveGenerator().generate(
        system=persona_system(persona),
        history=[],
        question="Which microphone do you use?",
        sources=SOURCES,
        max_tokens=400,
    )
    assert gen.text.startswith(opener), gen.text
    body = gen.text[len(opener) :]
    assert "Shure SM7B" in body
    # the opener states nothing of substance: all the rest is quotes with their markers
    pairs = [(m.group(1), int(m.group(2))) for m in MARKED.finditer(body)]
    assert " ".join(f"{s} [{n}]" for s, n in pairs) == body
    refused = LocalExtractiveGenerator().generate(
        system=persona_system(persona),
        history=[],
        question="pizza?",
        sources=SOURCES,
        max_tokens=400,
    )
    assert refused.text == NOT_FOUND_ANSWER  # no opener on a refusal

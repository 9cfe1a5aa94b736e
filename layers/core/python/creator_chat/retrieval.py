"""What retrieval shares between chat and the creator's search preview: the question a
follow-up stands for, the answerability gate, the video a fan is watching, and the second a
citation points at.

- **Standalone question.** "And how often do I top it up?" means nothing to an index; after
  "How much sealant goes in a road tyre?" it means "how often do I top up road-tyre sealant".
  :func:`standalone_question` rewrites a follow-up deterministically from the previous turns
  (the earlier question as its context), and leaves a self-contained question alone; a
  question leaning on the watched video gets that video's title as context.
- **The gate** (:func:`passes_gate`): a hit is evidence when its cosine clears the floor, or
  when it holds an exact rare term of the question — a part number ("XK-4471"), an error code
  ("E3"), an acronym ("PTFE") — which an embedding blurs but a fan means literally, or every
  word the question is about (at least two: "the split shot trick").
- **Video context** (:func:`about_video`, :func:`prefer_video`): with ``video_id`` set, the
  question is also searched in that video with the video's title as context; that video's
  hits that pass the gate answer alone when they are about as close as any other, else they
  come first, then the rest. A follow-up without ``video_id`` is read the same way in the
  video its earlier question was answered from.
- **Citation second** (:func:`supporting_second`): a transcript chunk keeps the start of
  each cue it holds; a citation links to the cue where the supporting sentence starts.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from creator_chat.domain.models import Chunk, SearchHit

# --------------------------------------------------------------------- standalone question
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
_STOP = frozenset(
    """
    a an the and or but so also then too of in on at to for from with by about as is are
    was were be been being do does did doing have has had i me my we our you your he she it
    its they them their this that these those there here what which who whom whose when
    where why how much many often long can could should would will shall may might must
    need needs get got go goes going make made put use used any some more most less very
    just really please tell know want like one ones thing things way ok okay yes no not if
    than new old good best right while ways
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
# words that lean on something said before
_ANAPHORA = frozenset(
    [
        "it",
        "its",
        "it's",
        "that",
        "this",
        "these",
        "those",
        "they",
        "them",
        "their",
        "there",
        "one",
        "ones",
        "he",
        "she",
        "him",
        "her",
        "such",
        "same",
        "other",
        "another",
    ]
)
_CONNECTIVES = (
    "and ",
    "but ",
    "or ",
    "so ",
    "also ",
    "then ",
    "what about",
    "how about",
    "what if",
    "and what",
    "same for",
    "why not",
    "is that",
    "does that",
    "do they",
    "is it",
    "can i also",
)
MIN_SELF_CONTAINED_TERMS = 2
# how a rewrite adds context to a question: "<question> (context: <earlier question>)"
CONTEXT_LABEL = " (context: "
_VIDEO_LABEL = "the video "


def content_terms(text: str) -> list[str]:
    return [w for w in (m.group(0).lower() for m in _WORD.finditer(text)) if w not in _STOP]


def looks_dependent(question: str) -> bool:
    """A follow-up that needs an earlier turn to be understood."""
    lowered = " ".join(question.lower().split())
    if lowered.startswith(_CONNECTIVES):
        return True
    words = {m.group(0).lower() for m in _WORD.finditer(lowered)}
    if words & _ANAPHORA:
        return True
    return len(content_terms(question)) < MIN_SELF_CONTAINED_TERMS


def standalone_question(question: str, previous_questions: Sequence[str]) -> str:
    """The question a follow-up stands for: the latest earlier question that carries a topic,
    then this one ("How much sealant goes in a road tyre? And how often do I top it up?").
    A self-contained question, or the first of a thread, is returned as it is; an earlier
    asking of the same words is no context (it leaned on the same thing)."""
    earlier = leaned_on(question, previous_questions)
    if earlier is None:
        return question
    return f"{question.strip()}{CONTEXT_LABEL}{earlier.strip()})"


def leaned_on(question: str, previous_questions: Sequence[str]) -> str | None:
    """The earlier question a follow-up leans on (the latest that carries a topic and is not
    the same words); None for a self-contained question or the first of a thread."""
    if not previous_questions or not looks_dependent(question):
        return None
    same = _normalised(question)
    for earlier in reversed(previous_questions):
        if content_terms(earlier) and _normalised(earlier) != same:
            return earlier
    return None


def about_video(question: str, video_title: str) -> str:
    """A question asked while watching a video, with that video's title as its context
    ("How much do I put in? (context: the video Tubeless sealant for road tyres)")."""
    if not video_title:
        return question
    return f"{question.strip()}{CONTEXT_LABEL}{_VIDEO_LABEL}{video_title.strip()})"


def own_words(query: str) -> str:
    """The fan's own words of a rewritten question, its added context left out."""
    head, _, _ = query.partition(CONTEXT_LABEL)
    return head


def without_labels(query: str) -> str:
    """A rewritten question's words, context included, without the labels the rewrite adds
    ("context:", "the video"): those are no words of what is asked."""
    return query.replace(CONTEXT_LABEL + _VIDEO_LABEL, " (").replace(CONTEXT_LABEL, " (")


def _normalised(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


# ------------------------------------------------------------------------------- gate
_CODE = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\b")
_ACRONYM = re.compile(r"(?<![\w-])[A-Z]{2,6}s?(?![\w-])")
# a figure with its unit ("30ml", "2nd", "5mm") is a quantity, not a code
_QUANTITY = re.compile(
    r"^\d+(?:[.,]\d+)?(?:st|nd|rd|th|s|m|h|ms|ml|l|g|kg|mg|mm|cm|km|c|f|k|x|v|w|bar|psi|in|"
    r"ft|lb|lbs|oz|min|mins|sec|secs|hr|hrs|pm|am|p|gb|mb|tb|fps|hz|khz|mhz)$",
    re.IGNORECASE,
)


MIN_ALL_TERMS = 2  # "all the question's words are there" counts from two words on


def rare_terms(query: str) -> list[str]:
    """The exact terms of a query that a fan means literally: codes mixing letters and digits
    ("XK-4471", "E3", "K58") and acronyms ("PTFE") — not quantities ("30ml")."""
    out: list[str] = []
    for match in _CODE.finditer(query):
        term = match.group(0)
        if not _QUANTITY.match(term) and term.lower() not in out:
            out.append(term.lower())
    for match in _ACRONYM.finditer(query):
        term = match.group(0).rstrip("s") if match.group(0).endswith("s") else match.group(0)
        if term not in ("I", "A") and len(term) >= 2 and term.lower() not in out:
            out.append(term.lower())
    return out


def holds_term(text: str, term: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", text, re.IGNORECASE) is not None


@dataclass(frozen=True)
class QueryTerms:
    """What the gate looks for in a passage, worked out once per query."""

    rare: tuple[str, ...]  # exact codes and acronyms ("xk-4471", "e3")
    about: frozenset[str]  # every word the question is about


def query_terms(query: str) -> QueryTerms:
    """Rare terms from the whole query (a follow-up's context may name the code); the words
    it is about from the fan's own words only (a title in the context is not asked for)."""
    return QueryTerms(tuple(rare_terms(query)), frozenset(content_terms(own_words(query))))


def passes_gate(hit: SearchHit, query: str, floor: float, terms: QueryTerms | None = None) -> bool:
    """Evidence for the query: semantically close enough, or holding one of its exact rare
    terms, or every word it is about. (A hybrid score gets its keyword share from any single
    shared word, so it cannot tell "related" from "shares a word".)"""
    if hit.similarity >= floor:
        return True
    wanted = query_terms(query) if terms is None else terms
    searchable = f"{hit.chunk.title}\n{hit.chunk.heading}\n{hit.chunk.text}"
    if any(holds_term(searchable, t) for t in wanted.rare):
        return True
    # every word the question is about, said in the passage ("the split shot trick"): an
    # embedding may miss a coined name, the words do not
    return len(wanted.about) >= MIN_ALL_TERMS and all(
        holds_term(searchable, t) for t in wanted.about
    )


def gate(hits: Sequence[SearchHit], query: str, floor: float) -> list[SearchHit]:
    terms = query_terms(query)
    return [h for h in hits if passes_gate(h, query, floor, terms)]


#: The watched video answers alone when its best hit's cosine is at most this far under the
#: best hit anywhere (see :func:`prefer_video`).
VIDEO_FOCUS_MARGIN = 0.1


def prefer_video(
    hits: Sequence[SearchHit], video_hits: Sequence[SearchHit], top_k: int
) -> list[SearchHit]:
    """The watched video's hits first (best first), then the others; each chunk once. When
    the video holds an answer about as close as any other (its best cosine within
    ``VIDEO_FOCUS_MARGIN`` of the best anywhere), only its hits: a fan asking "What grit did
    you finish with?" on the finishing video means that video's grit, not the sharpening
    video's stones."""
    if video_hits and (
        not hits
        or max(h.similarity for h in video_hits)
        >= max(h.similarity for h in hits) - VIDEO_FOCUS_MARGIN
    ):
        return list(video_hits[:top_k])
    seen: set[str] = set()
    out: list[SearchHit] = []
    for hit in [*video_hits, *hits]:
        if hit.chunk.chunk_id not in seen:
            seen.add(hit.chunk.chunk_id)
            out.append(hit)
    return out[:top_k]


# ------------------------------------------------------------------- citation seconds
_SENTENCE = re.compile(r"(?:[^.!?]|[.,](?=\d))+(?:[.!?]+|$)")  # "0.5 percent" is one sentence
_MARKER = re.compile(r"\s*\[(\d+)\]")


def _words(text: str) -> list[str]:
    return [m.group(0).lower() for m in _WORD.finditer(text)]


def _claims_citing(answer: str, n: int) -> list[str]:
    """The answer's passages that carry the marker ``[n]`` (markers follow what they
    support: "… the rotor. [2] Next …"), cut into sentences, without markers."""
    out: list[str] = []
    for match in re.finditer(r"(.*?)((?:\s*\[\d+\])+)", answer, re.DOTALL):
        markers = {int(x) for x in re.findall(r"\d+", match.group(2))}
        if n not in markers:
            continue
        # the passage's own sentences (a lead-in such as "Here is what I found: " splits off)
        for sentence in re.split(r"(?<=[.!?:])\s+", match.group(1).strip()):
            if sentence.strip():
                out.append(sentence.strip())
    return out


def supporting_offset(chunk_text: str, claim: str) -> int | None:
    """Where in ``chunk_text`` the sentence that best supports ``claim`` starts."""
    claim_norm = " ".join(claim.split()).lower()
    text_norm_map: list[int] = []  # index in the normalised text -> index in chunk_text
    pieces: list[str] = []
    prev_space = False
    for i, ch in enumerate(chunk_text):
        if ch.isspace():
            if prev_space or not pieces:
                continue
            pieces.append(" ")
            text_norm_map.append(i)
            prev_space = True
        else:
            pieces.append(ch.lower())
            text_norm_map.append(i)
            prev_space = False
    normalised = "".join(pieces)
    # a quote (the extractive answer quotes): where its opening words are
    for length in (len(claim_norm), 60, 30):
        probe = claim_norm[:length].strip()
        if len(probe) >= 12:
            at = normalised.find(probe)
            if at >= 0:
                return text_norm_map[at]
    # a paraphrase: the chunk sentence sharing most of the claim's words
    wanted = set(_words(claim)) - _STOP
    if not wanted:
        return None
    best: tuple[float, int] | None = None
    for match in _SENTENCE.finditer(chunk_text):
        words = set(_words(match.group(0))) - _STOP
        if not words:
            continue
        overlap = len(wanted & words) / len(wanted)
        if overlap > 0 and (best is None or overlap > best[0]):
            start = match.start() + (len(match.group(0)) - len(match.group(0).lstrip()))
            best = (overlap, start)
    return best[1] if best else None


def second_at(chunk: Chunk, offset: int) -> float | None:
    """The start of the cue holding character ``offset`` of the chunk's text."""
    if not chunk.cue_offsets or not chunk.cue_starts:
        return chunk.start_s
    i = bisect.bisect_right(chunk.cue_offsets, offset) - 1
    return float(chunk.cue_starts[max(0, i)])


#: Claims citing one transcript passage share a citation when the sentences supporting them
#: start at most this far apart; further apart, each gets a citation of its own, opening the
#: video at its own second (the ±5 s a fan can call "where it is said").
CLAIM_GAP_S = 5.0
_MARKERS_IN = re.compile(r"\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\]")


def claim_before(text: str) -> str:
    """The claim a citation marker at the end of ``text`` stands for: its last sentence,
    markers left out ("… the rotor. [2] Degrease it with alcohol. " → "Degrease it with
    alcohol.")."""
    bare = _MARKERS_IN.sub("", text).rstrip()
    pieces = [p for p in re.split(r"(?<=[.!?])\s+", bare) if p.strip()]
    return pieces[-1].strip() if pieces else ""


def claim_second(chunk: Chunk, claim: str) -> float | None:
    """The second where the sentence of ``chunk`` that supports ``claim`` starts: None for a
    passage without cue timings (a document, a page) or a claim it does not support."""
    if chunk.start_s is None or not chunk.cue_offsets or not chunk.cue_starts:
        return None
    offset = supporting_offset(chunk.text, claim) if claim.strip() else None
    return None if offset is None else second_at(chunk, offset)


def supporting_second(chunk: Chunk, answer: str, n: int, question: str = "") -> float | None:
    """The second a citation ``[n]`` of ``answer`` to ``chunk`` should open the video at: the
    start of the cue where the supporting sentence starts — of the sentences the answer
    cites there, the one that bears most on the question (the earliest of equals) — else
    the chunk's start."""
    if chunk.start_s is None:
        return None
    wanted = set(content_terms(question))
    # a question word the chunk says in every sentence ("pads" in a pads video) tells its
    # sentences apart less than one it says once ("bed"): weigh each by its rarity here
    said_in = [set(content_terms(m.group(0))) for m in _SENTENCE.finditer(chunk.text)]
    weight = {t: 1.0 / max(1, sum(t in terms for terms in said_in)) for t in wanted}
    best: tuple[float, int] | None = None
    for claim in _claims_citing(answer, n):
        offset = supporting_offset(chunk.text, claim)
        if offset is None:
            continue
        sentence = _SENTENCE.match(chunk.text, offset)
        said = set(content_terms(sentence.group(0) if sentence else claim))
        score = sum(weight[t] for t in wanted & said)
        if best is None or score > best[0] or (score == best[0] and offset < best[1]):
            best = (score, offset)
    return second_at(chunk, best[1]) if best else chunk.start_s

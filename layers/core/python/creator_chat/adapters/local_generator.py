"""The embedded default Generator: an honest extractive answerer (no network, no model).

It never writes content of its own. It splits the numbered sources into sentences, scores
each one against the question and replies with the best-supported 1-3 of them, quoted
(whitespace-normalised) with ``[n]`` markers, ``n`` being the 1-based source number. When
nothing in the sources shares meaningful content words with the question, it says so with
the fixed :data:`NOT_FOUND_ANSWER`.

Scoring (per sentence):

* terms: lower-cased, accent-folded words minus an English stop list (which also holds
  question words, generic verbs and filler such as "best", "tips", "put", "thing", and
  "video"/"channel", which every creator's content is about), lightly stemmed (regular
  suffixes only: "lighting" and "lights" meet at "light", irregular "lit" does not);
* weight: BM25 over all sentences of the given sources (IDF across the sources, so a term
  every source repeats counts little and a question term found nowhere counts a lot),
  with a light length normalisation;
* support: the share of the question's IDF mass the sentence covers; below
  :data:`MIN_COVERAGE` the sentence is not evidence;
* a small multiplicative bonus for the rank of the source it comes from.

The reply takes the best sentence, then up to two more that score at least half as well,
are not near-duplicates of one already taken and (for the third) add a question term.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from creator_chat.domain.models import Chunk, Generation
from creator_chat.prompting import (
    NOT_FOUND_ANSWER,
    build_user_turn,
    creator_name_from_system,
    estimate_tokens,
)

__all__ = ["MODEL_ID", "NOT_FOUND_ANSWER", "LocalExtractiveGenerator"]

MODEL_ID = "local-extractive-v1"

#: A sentence must cover at least this share of the question's IDF mass.
MIN_COVERAGE = 0.3
#: Up to this much extra score for the top-ranked source, decreasing linearly by rank.
RANK_BONUS = 0.1
#: Later sentences must score at least this fraction of the best one.
RELATIVE_FLOOR = 0.5
#: Two sentences whose term sets overlap this much (Jaccard) are near-duplicates.
DUPLICATE_JACCARD = 0.6
MAX_SENTENCES = 3
#: Unpunctuated text (auto captions) is cut into windows of about this many words.
MAX_SENTENCE_WORDS = 40
_WINDOW_WORDS = 25
_MIN_SENTENCE_WORDS = 3

_BM25_K1 = 1.2
_BM25_B = 0.5


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS = _wordset(
    """
    a about above after again against all almost also am an and any anyone anything are
    aren around as at be became because been before being below between both but by can
    cannot could couldn did didn do does doesn doing don done down during each either else
    enough etc even ever every few for from further get gets getting got had hadn has hasn
    have haven having he her here hers herself him himself his how however i if in into is
    isn it its itself just least less let lets like likely made make makes making many may
    me might mine more most much must my myself need needs neither never no nor not now of
    off often on once one only or other others otherwise our ours ourselves out over own
    per please quite rather really said same say says shall she should shouldn since so
    some something sometimes still such than that the their theirs them themselves then
    there these they thing things this those though through thus to too toward towards
    under until up upon us use used uses using very via want wants was wasn way ways we
    well were weren what whatever when whenever where whether which while who whom whose
    why will with within without won would wouldn yes yet you your yours yourself
    yourselves ok okay hey hi hello thanks thank
    best better good great tip tips advice recommend recommended recommendation know
    tell explain anybody everyone everything someone kind lot lots actually basically
    gonna wanna yeah um uh
    video videos vid vids channel channels
    put puts go goes going gone went take takes took taken give gives gave come comes came
    look looks looking see seen saw show shows try tries tried trying find found help helps
    able sure maybe probably pretty stuff
    """
)

_ABBREVIATIONS = _wordset("e.g i.e etc vs mr mrs ms dr prof approx fig inc ltd jr sr ca cf al")

_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_MARKER_RE = re.compile(r"\[\d{1,3}\]")
_WS_RE = re.compile(r"\s+")
# A candidate sentence end: terminal punctuation, optional closing quotes/brackets, space.
_END_RE = re.compile("[.!?\u2026]+[\"'\u201d\u2019)\\]]*(?=\\s)")
_CLAUSE_RE = re.compile(r"(?<=[,;:])\s+")
_HEADING_RE = re.compile(r"#{1,6}\s")
_LIST_ITEM_RE = re.compile(r"(?:[-*•]|\d{1,2}[.)])\s+")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("\u2019", "'")


_S_SINGULARS = _wordset("lens news series species canvas chaos bias atlas alias gas bus")


def _stem(word: str) -> str:
    """A light, deterministic suffix stripper (the same rules on both sides of the match).

    Plural ``-s``/``-es``/``-ies``, then ``-ing``/``-ed`` (undoubling "cutting"), then a final
    ``-e`` and ``-y`` -> ``-i``: "lights"/"lighting" -> "light", "movies"/"movie" -> "movi".
    """
    if len(word) <= 3 or word.isdigit() or word in _S_SINGULARS:
        return word
    if word.endswith("ies"):
        word = word[:-1]
    elif word.endswith(("sses", "xes", "ches", "shes", "zzes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if word[-1] == word[-2] and word[-1] not in "lsz" and len(word) >= 4:
                word = word[:-1]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if word.endswith("y") and len(word) > 3:
        word = word[:-1] + "i"
    return word


def terms(text: str) -> list[str]:
    """Content terms of ``text``: folded, stop words removed, stemmed."""
    out: list[str] = []
    for word in _WORD_RE.findall(_fold(text)):
        bare = word[:-2] if word.endswith("'s") else word
        bare = bare.replace("'", "")
        if not bare or bare in _STOPWORDS or (len(bare) < 2 and not bare.isdigit()):
            continue
        out.append(_stem(bare))
    return out


def _split_long(sentence: str) -> list[str]:
    """Cut an overlong (unpunctuated) sentence at clause marks, else into word windows."""
    if len(sentence.split()) <= MAX_SENTENCE_WORDS:
        return [sentence]
    pieces: list[str] = []
    current: list[str] = []
    for clause in _CLAUSE_RE.split(sentence):
        if current and len(" ".join([*current, clause]).split()) > MAX_SENTENCE_WORDS:
            pieces.append(" ".join(current))
            current = []
        current.append(clause)
    if current:
        pieces.append(" ".join(current))
    out: list[str] = []
    for piece in pieces:
        words = piece.split()
        if len(words) <= MAX_SENTENCE_WORDS:
            out.append(piece)
            continue
        for start in range(0, len(words), _WINDOW_WORDS):
            window = words[start : start + _WINDOW_WORDS]
            if out and start and len(window) < _MIN_SENTENCE_WORDS:
                out[-1] = f"{out[-1]} {' '.join(window)}"
            else:
                out.append(" ".join(window))
    return out


def _paragraphs(text: str) -> list[str]:
    """Blocks of text between blank lines and list items; Markdown headings are dropped."""
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or _HEADING_RE.match(stripped):
            blocks.append([])
            continue
        list_item = _LIST_ITEM_RE.match(stripped)
        if list_item:
            blocks.append([stripped[list_item.end() :]])
            continue
        blocks[-1].append(stripped)
    return [" ".join(block) for block in blocks if block]


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, whitespace-normalised, each a (normalised) substring of it."""
    out: list[str] = []
    for paragraph in _paragraphs(text):
        flat = _WS_RE.sub(" ", paragraph).strip()
        start = 0
        for match in _END_RE.finditer(flat):
            end = match.end()
            before = flat[start : match.start()].split()
            last_word = before[-1].lower().rstrip(".") if before else ""
            if match.group().startswith(".") and (
                last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha())
            ):
                continue  # "e.g. the", "Dr. Smith", "J. Doe"
            following = flat[end:].lstrip()
            if following and following[0].islower():
                continue  # "5 p.m. and", "approx. ten": stay conservative
            out.extend(_split_long(flat[start:end].strip()))
            start = end
        rest = flat[start:].strip()
        if rest:
            out.extend(_split_long(rest))
    return [s for s in out if len(s.split()) >= _MIN_SENTENCE_WORDS]


@dataclass(frozen=True)
class _Candidate:
    source_n: int  # 1-based source number
    position: int  # order within the sources, for deterministic ties
    text: str
    terms: frozenset[str]
    score: float
    coverage: float


def _score_sentences(question_terms: Sequence[str], sources: Sequence[Chunk]) -> list[_Candidate]:
    sentences: list[tuple[int, str, list[str]]] = []
    for n, chunk in enumerate(sources, start=1):
        for sentence in split_sentences(chunk.text):
            clean = _WS_RE.sub(" ", _MARKER_RE.sub("", sentence)).strip()
            sentence_terms = terms(clean)
            if sentence_terms:
                sentences.append((n, clean, sentence_terms))
    if not sentences:
        return []

    total = len(sentences)
    df: Counter[str] = Counter()
    for _, _, sentence_terms in sentences:
        df.update(set(sentence_terms))
    avg_len = sum(len(t) for _, _, t in sentences) / total
    q_weights = {
        t: math.log(1.0 + (total - df[t] + 0.5) / (df[t] + 0.5)) for t in set(question_terms)
    }
    q_mass = sum(q_weights.values())

    candidates: list[_Candidate] = []
    for position, (n, text, sentence_terms) in enumerate(sentences):
        tf = Counter(sentence_terms)
        norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * len(sentence_terms) / avg_len)
        score = 0.0
        covered = 0.0
        for term, weight in q_weights.items():
            if tf[term]:
                score += weight * tf[term] * (_BM25_K1 + 1) / (tf[term] + norm)
                covered += weight
        if score <= 0:
            continue
        score *= 1 + RANK_BONUS * (len(sources) - n + 1) / len(sources)
        candidates.append(
            _Candidate(n, position, text, frozenset(sentence_terms), score, covered / q_mass)
        )
    candidates.sort(key=lambda c: (-c.score, c.position))
    return candidates


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _select(
    candidates: Sequence[_Candidate], question_terms: frozenset[str], max_tokens: int
) -> list[_Candidate]:
    supported = [c for c in candidates if c.coverage >= MIN_COVERAGE]
    if not supported:
        return []
    best = supported[0]
    chosen = [best]
    covered = best.terms & question_terms
    budget = max_tokens - estimate_tokens(best.text) - 20
    for cand in supported[1:]:
        if len(chosen) == MAX_SENTENCES or cand.score < RELATIVE_FLOOR * best.score:
            break
        if any(_jaccard(cand.terms, c.terms) >= DUPLICATE_JACCARD for c in chosen):
            continue
        if any(cand.text in c.text or c.text in cand.text for c in chosen):
            continue
        adds = (cand.terms & question_terms) - covered
        if len(chosen) == 2 and not adds:
            continue
        cost = estimate_tokens(cand.text) + 2
        if cost > budget:
            continue
        chosen.append(cand)
        covered |= adds
        budget -= cost
    return chosen


class LocalExtractiveGenerator:
    """Quotes the best-supported sentences of the numbered sources; never invents."""

    @property
    def model_id(self) -> str:
        return MODEL_ID

    def generate(
        self,
        *,
        system: str,
        history: Sequence[Mapping[str, str]],
        question: str,
        sources: Sequence[Chunk],
        max_tokens: int,
    ) -> Generation:
        input_tokens = estimate_tokens(system) + estimate_tokens(build_user_turn(question, sources))
        input_tokens += sum(estimate_tokens(turn.get("content", "")) for turn in history)

        question_terms = terms(question)
        chosen: list[_Candidate] = []
        if question_terms and sources:
            candidates = _score_sentences(question_terms, sources)
            chosen = _select(candidates, frozenset(question_terms), max_tokens)
        if not chosen:
            return Generation(
                text=NOT_FOUND_ANSWER,
                input_tokens=input_tokens,
                output_tokens=estimate_tokens(NOT_FOUND_ANSWER),
                model_id=MODEL_ID,
                cited=[],
            )

        name = creator_name_from_system(system)
        owner = f"{name}'s" if name else "the creator's"
        body = " ".join(f"{c.text} [{c.source_n}]" for c in chosen)
        text = f"Here is what I found in {owner} content: {body}"
        return Generation(
            text=text,
            input_tokens=input_tokens,
            output_tokens=estimate_tokens(text),
            model_id=MODEL_ID,
            cited=sorted({c.source_n for c in chosen}),
        )

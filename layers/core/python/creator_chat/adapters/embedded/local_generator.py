"""The embedded default Generator: an honest extractive answerer (no network, no LLM).

It never writes content of its own. It splits the numbered sources into sentences, scores
each one against the question and replies with a few of them, quoted (whitespace-normalised)
with ``[n]`` markers, ``n`` being the 1-based source number. When the sources hold no good
evidence for the question it says so with the fixed :data:`NOT_FOUND_ANSWER`.

Sentences. Prose is cut at sentence ends (abbreviations and initials kept whole), list
items and paragraphs; unpunctuated auto captions into windows of words. Markdown is read,
not quoted: headings, and plain title lines (a PDF's "Bedding in new pads": short,
unpunctuated, between a finished sentence and a capital), are never glued to the sentence
after them; each opens a section whose sentences hold its terms (as a heading's) and are no
neighbours of the section before. Code-fence markers and rules are dropped, ``**bold**``,
``*emphasis*`` and ```code``` lose their markup, and each table row becomes one sentence
made of its own cells, ``"<first cell>: <second cell>; <header>: <cell>"`` (``"Backflush
with detergent: Weekly"``), so an answer never quotes pipes. A fragment too short to quote
("Static.") is read as a spoken section title: the sentences on either side of it are not
neighbours.

Lexical evidence (always):

* terms: lower-cased, accent-folded words minus an English stop list (which also holds
  question words, generic verbs and filler such as "best", "tips", "put", "thing", and
  "video"/"channel", which every creator's content is about), lightly stemmed (regular
  suffixes only: "lighting" and "lights" meet at "light", irregular "lit" does not);
* each sentence also holds the terms of its source's title and heading, once: "Kestrel K58"
  in a question then matches every sentence of the K58 review alike and weighs little
  there, so the words that tell those sentences apart decide;
* BM25 over the distinct sentences of the given sources (IDF across them, so a term every
  sentence repeats counts little and a question term found nowhere counts a lot);
* coverage: the share of the question's IDF mass a sentence holds.

Semantic evidence, when built with an ``embedder`` (the container passes the cached one
retrieval uses, so a sentence seen before is not embedded again): the question and every
distinct sentence are embedded in ONE batch call; each sentence gets its cosine to the
question and its *passage* cosine, that of the sum of its own and its neighbours' unit
vectors (no extra embedding). An answer often follows the sentence that names its topic
("Here's a trick I call the split shot." / "Put two cups on the scale, ..."); the passage
holds both. Should the embedder fail, the answer is scored lexically.

Scoring, per sentence (x up to :data:`RANK_BONUS` more for better-ranked sources):

* lexical only: BM25; evidence when the coverage is at least :data:`MIN_COVERAGE`;
* with an embedder: :data:`SEMANTIC_WEIGHT` x cosine + :data:`PASSAGE_WEIGHT` x passage
  cosine + :data:`LEXICAL_WEIGHT` x BM25 / best BM25, plus :data:`NUMBER_BONUS` when the
  question asks for a quantity (how much / how long / what temperature ...) and the
  sentence states one (in the unit asked for, for temperatures and durations). A sentence
  is evidence when its cosine or passage cosine reaches :data:`STRONG_SIMILARITY`, or
  :data:`MIN_SIMILARITY` with a coverage of :data:`MIN_TERM_COVERAGE`, or
  :data:`QUANTITY_SIMILARITY` when it states in digits the quantity asked for (the
  answer's type matches): a loose topical likeness is not enough, nor is a shared rare
  word, which keeps off-topic questions NOT_FOUND. A figure that is part of a name the
  question says ("K58", "E3") is no quantity. Once one sentence is evidence, a sentence
  holding that coverage may join it whatever its cosine (the embedding misses "How do I
  fix static?" / "The fix is RDT: ...").

Selection: the best-scoring evidence first (the lead; an introduction, "In this video we
...", "Today is all about milk", "This is the Kestrel K58, ...", leads only when nothing
else is evidence, and is otherwise quoted only as a neighbour: it names the topic of every
question and answers none; a cross-reference, "See also ...", "See <a title or an
address> ...", does not lead either, when something else is evidence: it points to where
the answer is, often in the question's own words, and states none; it may follow as a
point), then, best first, more sentences scoring at
least :data:`RELATIVE_FLOOR` (lexical) or :data:`SEMANTIC_RELATIVE_FLOOR` of it, skipping
near-duplicates (shared terms, or meaning: :data:`REDUNDANT_SIMILARITY`) of one taken. Up to
:data:`MAX_POINTS` separate points; a sentence next to one already taken extends that
passage instead of making a point; :data:`MAX_QUOTED` sentences in all. A sentence that
leans on the one before it ("Then ...", "That's ...", "Replace it ...") brings it along; a
lead-in (ends with a colon, or at most :data:`LEAD_IN_WORDS` words and no figure) brings
the next one. Neighbours come from the same source. When the question asks for a quantity
and the lead states it, a point stating none does not bear on the question and is left out
("What temperature ...?" / "The steam boiler runs at 1.4 bar").

The answer: an opener, then the quotes. The opener is fixed text with the creator's name,
in the tone the persona of the system prompt names first (warm, precise, playful ...;
neutral without one): no words of substance. Then the lead with the neighbour it needs —
the answer opens with what answers, and a lead that continues the sentences before it
("With that, the static was gone.") keeps that passage from its start — then what
continues it, then the other quotes source by source (in the order the sources were first
chosen), each source's in reading order.
"""

from __future__ import annotations

import logging
import math
import operator
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from creator_chat.domain.models import Chunk, Generation
from creator_chat.ports import Embedder
from creator_chat.prompting import (
    NOT_FOUND_ANSWER,
    build_user_turn,
    creator_name_from_system,
    estimate_tokens,
    persona_from_system,
)
from creator_chat.retrieval import (
    holds_term,
    looks_dependent,
    own_words,
    rare_terms,
    standalone_question,
    without_labels,
)

__all__ = ["MODEL_ID", "NOT_FOUND_ANSWER", "LocalExtractiveGenerator", "split_sentences", "terms"]

_log = logging.getLogger(__name__)

MODEL_ID = "local-extractive-v1"

# -- Lexical mode (no embedder): the values of the lexical-only generator.
#: A sentence must cover at least this share of the question's IDF mass.
MIN_COVERAGE = 0.3
#: Later sentences must score at least this fraction of the best one.
RELATIVE_FLOOR = 0.5

# -- Semantic mode (with an embedder). Chosen on the bundled demo corpus with
# bench/generator_quality.py (16 answerable and 5 off-topic questions, then on the
# generator's own retrieval top 5, all-MiniLM-L6-v2; the bench now asks through the chat),
# each from the middle of the range where that bench held 15/16 answers with their facts
# and 5/5 off-topic NOT_FOUND; weights move freely (each of the three
# weights alone from 0.3 to 0.7) without changing it. On that set the best cosine of an
# off-topic question is 0.26-0.51 (0.51: "cold brew", a coffee topic the creator never
# covers), while the answerable questions that pass on meaning alone reach 0.60-0.70.
#: Weight of the sentence's own cosine with the question.
SEMANTIC_WEIGHT = 0.5
#: Weight of its passage's cosine (the sentence with its neighbours).
PASSAGE_WEIGHT = 0.5
#: Weight of its BM25 score over the best sentence's (0.2-0.4 hold the bench result).
LEXICAL_WEIGHT = 0.25
#: Added when the question asks for a quantity and the sentence states one (0.1-0.4 hold).
NUMBER_BONUS = 0.25
#: A code of the question ("F2", "BX-220": letters and digits) held by at most this many of
#: the sources' sentences is specific to them: each of those sentences is evidence, and
#: scores ``CODE_BONUS`` more (a code said everywhere, such as the product's name, is not;
#: nor is an acronym such as "HTML", a topic word more than a name).
#: The bonus decides what leads; the other points' floor is taken from the lead's score
#: without it.
SPECIFIC_CODE_SENTENCES = 2
CODE_BONUS = 0.25
#: A cosine (sentence or passage) at least this high is evidence on its own. The narrow
#: spot of the set: 0.52-0.55 hold it; 0.50 lets "cold brew" (0.51) through, 0.58 loses
#: answers whose best match is 0.60.
STRONG_SIMILARITY = 0.55
#: A sentence stating the kind of quantity the question asks for in digits (in the unit
#: asked for, for temperatures and durations) is evidence from this cosine on: the answer's
#: type matches. (0.45: the off-topic questions' quantity sentences stay below it.)
QUANTITY_SIMILARITY = 0.45
#: Below this cosine a sentence is no evidence (0.30-0.35 hold; 0.25 lets "cold brew" in).
MIN_SIMILARITY = 0.3
#: ... and from it up to STRONG_SIMILARITY, the sentence must also hold this share of the
#: question's IDF mass (0.30-0.40 hold the bench result).
MIN_TERM_COVERAGE = 0.35
#: Later sentences must score at least this fraction of the best one (0.60-0.70 hold).
SEMANTIC_RELATIVE_FLOOR = 0.65
#: A sentence this close in meaning to one already quoted says the same thing again.
REDUNDANT_SIMILARITY = 0.8
#: At most this many distinct sentences are embedded per answer (the best-ranked sources'
#: first); any further ones are scored on words only.
MAX_EMBEDDED_SENTENCES = 200

# -- Both modes.
#: Up to this much extra score for the top-ranked source, decreasing linearly by rank.
RANK_BONUS = 0.1
#: Two sentences whose term sets overlap this much (Jaccard) are near-duplicates.
DUPLICATE_JACCARD = 0.6
#: An introduction answers as an overview when no other sentence's cosine with the question
#: reaches this share of its own (see ``_asks_for_overview``).
OVERVIEW_MARGIN = 0.85
#: Separate points: sentences chosen on their own merit (each with the neighbour it needs).
MAX_POINTS = 3
#: Sentences quoted in all.
MAX_QUOTED = 5
#: A sentence of at most this many words that states no figure leads in to the next one
#: (10-12 hold the bench result; 8 misses "Practice tip: you don't need coffee to ...").
LEAD_IN_WORDS = 10
#: Unpunctuated text (auto captions) is cut into windows of about this many words.
MAX_SENTENCE_WORDS = 40
# ... unless it ends at a sentence end: a long real sentence is quoted whole up to this many
# words (past it, a run of captions with one full stop is still cut)
MAX_FINISHED_SENTENCE_WORDS = 80
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
_FENCE_RE = re.compile(r"`{3,}|~{3,}")
_RULE_RE = re.compile(r"(?:[-*_=]\s*){3,}")
_TABLE_SEPARATOR_RE = re.compile(r"\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?")
_CELL_SPLIT_RE = re.compile(r"(?<!\\)\|")
_BOLD_RE = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_EMPHASIS_RE = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*]+?)(?<=[^\s*])\*(?![\w*])")
_CODE_RE = re.compile(r"`+([^`]+?)`+")
#: A line of at most this many words, without end punctuation, between a finished sentence
#: (or the start) and a line opening with a capital is a title ("Bedding in new pads").
HEADING_WORDS = 8
_UNFINISHED_END_RE = re.compile("[.!?\u2026:;,\\-\u2013\u2014\"'\u201d\u2019)\\]]$")
_FINISHED_END_RE = re.compile("[.!?\u2026:][\"'\u201d\u2019)\\]]*$")

# A sentence leans on the one before it when it opens with a connective or has a pronoun
# among its first words ("Then rinse ...", "That's my default ...", "Replace it every ...").
_CONNECTIVE_RE = re.compile(
    r"(?:then|so|also|otherwise|instead|with that|after that)\b", re.IGNORECASE
)
_PRONOUNS = _wordset("it it's its they they're them their this that that's these those")
_PRONOUN_WINDOW = 3

# A sentence that introduces the video or names its subject ("In this video we replace
# ...", "Today is all about milk", "This is the Kestrel K58, ...") is close in meaning to
# every question on that subject and answers none: it is quoted only as a neighbour, when
# nothing else is evidence, or to open an overview when the question asks for what the
# video covers as a whole (``_asks_for_overview``).
_GREETING = r"(?:hey|hi|hello|welcome)\b"
_INTRO_RE = re.compile(
    _GREETING + r"|today(?:'s)?\b|in today's\b"
    r"|in this (?:video|episode|tutorial|guide|post|review|lesson)\b",
    re.IGNORECASE,
)
_NAMES_SUBJECT_RE = re.compile(r"(?:This|Here) is (?:the|my|our) [A-Z0-9]")
_GREETING_RE = re.compile(_GREETING, re.IGNORECASE)
# A sign-off ("That's it for tubeless, see you in the next one.", "If this helped, hit
# subscribe, and next week we're cutting dovetails") names a subject and answers nothing,
# like an introduction; unlike one, it opens no overview.
_OUTRO_RE = re.compile(
    r".*\b(?:thanks for watching|thank you for watching|see you (?:next|in the next)"
    r"|hit subscribe|don't forget to subscribe|bye for now)\b"
    r"|(?:that's|that is) (?:it|all) for\b|if this helped\b",
    re.IGNORECASE,
)
# A question asking how to do something (not how much, how long ...): a procedure, which a
# video that announces it answers from its start.
_ASKS_HOW_TO_RE = re.compile(
    r"(?:how (?:do|can|should|would) (?:i|you|we|one)|how to|what's the best way to"
    r"|what is the best way to|walk me through|show me how)\b",
    re.IGNORECASE,
)
_ANNOUNCES_RE = re.compile(r"(?:first|next|now|then|here's|here is|let's)\b", re.IGNORECASE)
# A sentence that poses or reports a question ("A few of you asked why your drawer side
# split.", "Why does it squeal?") repeats the fan's words and answers nothing: it leads in
# to the sentence after it, and is never quoted without it.
_ECHO_RE = re.compile(
    r".*\b(?:asked|asking|ask me|wonder|wondered|wondering)\b[^.!?]*"
    r"\b(?:why|how|what|whether|if|when|where|which|who)\b",
    re.IGNORECASE,
)
# A cross-reference ("See also Why must 'self' be used ...?", "See How can I create a
# stand-alone binary ...? for a list of tools", "See https://...") points to where the
# answer is and states none: it often repeats the question's own words, so it scores as
# the best match while answering nothing. It leads only when nothing else is evidence;
# unlike an introduction it may still follow as a point (it tells the fan where to read on).
_REFERS_RE = re.compile(r"\(?[Ss]ee (?:also\b|(?=[A-Z\"'\u201c\u2018]|https?://|www\.))")

# The opener: neutral, or in the tone the creator's persona names (the first tone word it
# says wins). Fixed text that states nothing of substance.
_NEUTRAL_OPENER = "Here is what I found in {owner} content:"
_TONE_OPENERS: tuple[tuple[frozenset[str], str], ...] = (
    (
        _wordset("warm friendly kind encouraging supportive patient gentle caring welcoming"),
        "Happy to help! Here's what {owner} content says:",
    ),
    (
        _wordset(
            "precise practical direct concise technical pragmatic straightforward methodical "
            "analytical thorough"
        ),
        "Here's the short answer from {owner} content:",
    ),
    (
        _wordset(
            "fun playful energetic enthusiastic upbeat casual witty humorous cheerful lively "
            "excited"
        ),
        "Great question! Straight from {owner} content:",
    ),
)

# Quantities: what a question asks for, what a sentence states.
_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty "
    "forty fifty sixty seventy eighty ninety hundred thousand half quarter tenth once twice"
)
_FIGURE_RE = re.compile(rf"\d|\b(?:{'|'.join(_NUMBER_WORDS.split())})\b", re.IGNORECASE)
_TEMPERATURE_UNIT_RE = re.compile(r"°|\b(?:degrees?|celsius|fahrenheit)\b", re.IGNORECASE)
_DURATION_UNIT_RE = re.compile(
    r"\d\s?s\b|\b(?:secs?|seconds?|mins?|minutes?|hours?|hrs?|days?|weeks?|months?|years?)\b",
    re.IGNORECASE,
)
_ASKS_TEMPERATURE_RE = re.compile(r"\b(?:temperature|how (?:hot|cold|warm))\b", re.IGNORECASE)
_ASKS_DURATION_RE = re.compile(
    r"\b(?:how long|how soon|how many (?:seconds|minutes|hours|days|weeks|months|years))\b",
    re.IGNORECASE,
)
_ASKS_QUANTITY_RE = re.compile(
    r"\bhow (?:much|many|often|far|fast|big|heavy|high|low|old|thick)\b"
    r"|\b(?:dose|yield|ratio|amount|weight|size|setting|pressure|percentage)\b",
    re.IGNORECASE,
)


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


# ------------------------------------------------------------------------ sentences
def _split_long(sentence: str, *, finished: bool = False) -> list[str]:
    """Cut an overlong (unpunctuated) sentence at clause marks, else into word windows. A
    ``finished`` one (it ends at a sentence end) is whole up to
    :data:`MAX_FINISHED_SENTENCE_WORDS`: cutting a real sentence quotes its pieces as if they
    were sentences ("module) and creates a custom-made config file ...")."""
    limit = MAX_FINISHED_SENTENCE_WORDS if finished else MAX_SENTENCE_WORDS
    if len(sentence.split()) <= limit:
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


def _unmark(text: str) -> str:
    """Inline Markdown without its markup: ``**bold**``, ``*emphasis*``, ```code```."""
    if "*" in text:
        text = _EMPHASIS_RE.sub(r"\1", _BOLD_RE.sub(r"\1", text))
    return _CODE_RE.sub(r"\1", text) if "`" in text else text


def _cells(line: str) -> list[str]:
    row = line.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    return [_unmark(cell.strip().replace("\\|", "|")) for cell in _CELL_SPLIT_RE.split(row)]


def _table_rows(lines: Sequence[str]) -> list[str]:
    """Each body row of a Markdown table as one sentence made of its own cells:
    ``"<first>: <second>; <header 3>: <third>; ..."``."""
    header: list[str] = []
    body = list(lines)
    if len(body) >= 2 and _TABLE_SEPARATOR_RE.fullmatch(body[1].strip()):
        header, body = _cells(body[0]), body[2:]
    out: list[str] = []
    for line in body:
        if _TABLE_SEPARATOR_RE.fullmatch(line.strip()):
            continue
        filled = [(i, cell) for i, cell in enumerate(_cells(line)) if cell]
        if not filled:
            continue
        (_, key), rest = filled[0], filled[1:]
        values: list[str] = []
        for k, (i, cell) in enumerate(rest):
            label = header[i] if k and i < len(header) else ""
            values.append(f"{label[:1].lower()}{label[1:]}: {cell}" if label else cell)
        if not values:
            out.append(key)
            continue
        out.append(f"{key}: " + "; ".join([*(v.rstrip(".;, ") for v in values[:-1]), values[-1]]))
    return out


def _is_table_line(lines: Sequence[str], i: int) -> bool:
    line = lines[i].strip()
    if "|" not in line:
        return False
    if line.startswith("|") and line.count("|") >= 2:
        return True
    # A table without outer pipes: its separator row, or a row next to it.
    nearby = [lines[j].strip() for j in (i - 1, i, i + 1) if 0 <= j < len(lines)]
    return any("|" in n and _TABLE_SEPARATOR_RE.fullmatch(n) for n in nearby)


def _is_title_line(lines: Sequence[str], i: int) -> bool:
    """A plain-text title (a PDF's or a plain document's heading line): short, unpunctuated,
    after a finished sentence or at the start, before a line that opens a sentence. Glued
    to the next line it would make a sentence of "Bedding in new pads Ride to ..."."""
    line = lines[i].strip()
    if not line or len(line.split()) > HEADING_WORDS or _UNFINISHED_END_RE.search(line):
        return False
    if not (line[0].isupper() or line[0].isdigit()):
        return False
    before = lines[i - 1].strip() if i > 0 else ""
    after = lines[i + 1].strip() if i + 1 < len(lines) else ""
    if before and not _FINISHED_END_RE.search(before):
        return False
    return bool(after) and (after[0].isupper() or after[0].isdigit())


def _blocks(text: str) -> list[tuple[str, bool, str]]:
    """``(text, standalone, title)`` blocks: paragraphs and list items to cut into sentences,
    and table rows and code lines (``standalone``), one sentence each. Headings (Markdown
    ones and plain title lines) are not quoted: each opens a section, whose blocks carry it
    as their ``title`` (``""`` before any). Code-fence markers and rules are dropped."""
    lines = text.splitlines()
    title = ""
    blocks: list[tuple[list[str], bool, str]] = [([], False, title)]
    in_fence = False
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if _FENCE_RE.match(stripped):
            in_fence = not in_fence
            blocks.append(([], False, title))
        elif in_fence:
            if stripped:
                item = _LIST_ITEM_RE.match(stripped)
                blocks.append(([stripped[item.end() :] if item else stripped], True, title))
        elif _is_table_line(lines, i):
            end = i
            while end < len(lines) and _is_table_line(lines, end):
                end += 1
            blocks.extend(([row], True, title) for row in _table_rows(lines[i:end]))
            blocks.append(([], False, title))
            i = end
            continue
        elif _HEADING_RE.match(stripped) or _is_title_line(lines, i):
            title = _unmark(stripped.lstrip("#").strip())
            blocks.append(([], False, title))
        elif not stripped or _RULE_RE.fullmatch(stripped):
            blocks.append(([], False, title))
        else:
            item = _LIST_ITEM_RE.match(stripped)
            if item:
                blocks.append(([stripped[item.end() :]], False, title))
            else:
                blocks[-1][0].append(stripped)
        i += 1
    return [
        (" ".join(part) if standalone else _unmark(" ".join(part)), standalone, section)
        for part, standalone, section in blocks
        if part
    ]


def _pieces(text: str) -> list[tuple[str, bool, str]]:
    """``(sentence, standalone, section title)`` in reading order, fragments too short to
    quote included; a section's first piece follows an empty one (a break)."""
    out: list[tuple[str, bool, str]] = []
    previous_title = ""
    for block, standalone, title in _blocks(text):
        if title != previous_title:
            out.append(("", False, title))  # neighbours never cross into another section
            previous_title = title
        flat = _WS_RE.sub(" ", block).strip()
        if standalone:
            out.extend((piece, True, title) for piece in _split_long(flat))
            continue
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
            sentence = flat[start:end].strip()
            out.extend((piece, False, title) for piece in _split_long(sentence, finished=True))
            start = end
        rest = flat[start:].strip()
        if rest:
            out.extend((piece, False, title) for piece in _split_long(rest))
    return out


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, whitespace-normalised, in reading order.

    Each is a (normalised) substring of ``text`` once Markdown markup is removed, except a
    table row, which reads ``"<first cell>: <second cell>; <header>: <cell>"``.
    """
    return [s for s, _, _ in _pieces(text) if len(s.split()) >= _MIN_SENTENCE_WORDS]


# -------------------------------------------------------------------------- scoring
@dataclass(frozen=True)
class _Sentence:
    source_n: int  # 1-based source number
    index: int  # position among its source's sentences
    position: int  # position among all sentences, for deterministic ties
    text: str
    terms: tuple[str, ...]
    #: Terms of its source's title and heading, and of the section title before it in the
    #: text: what every sentence there is about.
    context: frozenset[str]
    #: A fragment too short to quote ("Static.", "Grind range.") stands right before it.
    after_break: bool
    #: A table row or code line: it neither leans on nor leads in to its neighbours.
    standalone: bool

    @property
    def term_set(self) -> frozenset[str]:
        return frozenset(self.terms)


@dataclass(frozen=True)
class _Candidate:
    sentence: _Sentence
    score: float
    #: Evidence that the sources answer the question; the first sentence chosen must be.
    supported: bool
    #: May be quoted once some sentence is evidence.
    eligible: bool
    #: The part of ``score`` it owes to holding a specific code of the question.
    code_bonus: float = 0.0


def _source_sentences(sources: Sequence[Chunk]) -> list[list[_Sentence]]:
    out: list[list[_Sentence]] = []
    position = 0
    for n, chunk in enumerate(sources, start=1):
        context = frozenset(terms(f"{chunk.title} {chunk.heading}"))
        sections: dict[str, frozenset[str]] = {"": context}
        sentences: list[_Sentence] = []
        after_break = False
        for piece, standalone, title in _pieces(chunk.text):
            if title not in sections:
                sections[title] = context | frozenset(terms(title))
            text = _WS_RE.sub(" ", _MARKER_RE.sub("", piece)).strip()
            if len(text.split()) < _MIN_SENTENCE_WORDS:
                after_break = True
                continue
            sentences.append(
                _Sentence(
                    source_n=n,
                    index=len(sentences),
                    position=position,
                    text=text,
                    terms=tuple(terms(text)),
                    context=sections[title],
                    after_break=after_break,
                    standalone=standalone,
                )
            )
            after_break = False
            position += 1
        out.append(sentences)
    return out


def _neighbours(per_source: list[list[_Sentence]], s: _Sentence) -> list[_Sentence]:
    """The sentences right before and after ``s`` in its source, across no break."""
    sentences = per_source[s.source_n - 1]
    out: list[_Sentence] = []
    if s.index > 0 and not s.after_break:
        out.append(sentences[s.index - 1])
    if s.index + 1 < len(sentences) and not sentences[s.index + 1].after_break:
        out.append(sentences[s.index + 1])
    return out


def _quantity_asked(question: str) -> str | None:
    """``"temperature"``, ``"duration"`` or ``"quantity"`` when the question asks for one."""
    if _ASKS_TEMPERATURE_RE.search(question):
        return "temperature"
    if _ASKS_DURATION_RE.search(question):
        return "duration"
    if _ASKS_QUANTITY_RE.search(question):
        return "quantity"
    return None


def _states_quantity(text: str, kind: str, ignore: frozenset[str] = frozenset()) -> bool:
    """Whether ``text`` states a quantity of ``kind``; the question's own words with a digit
    (``ignore``, folded: "k58", "2014") are names, not quantities."""
    if ignore:
        text = " ".join(w for w in text.split() if _fold(w).strip(".,;:!?()") not in ignore)
    if not _FIGURE_RE.search(text):
        return False
    if kind == "temperature":
        return _TEMPERATURE_UNIT_RE.search(text) is not None
    if kind == "duration":
        return _DURATION_UNIT_RE.search(text) is not None
    return True


class _Lexical:
    """BM25 and IDF coverage of the question's terms over the sources' distinct sentences,
    each holding its source's title and heading terms too."""

    def __init__(self, question_terms: Sequence[str], per_source: list[list[_Sentence]]) -> None:
        docs: dict[str, list[str]] = {}
        for sentences in per_source:
            for s in sentences:
                if s.text not in docs:
                    docs[s.text] = [*s.terms, *sorted(s.context - s.term_set)]
        total = len(docs)
        df: Counter[str] = Counter()
        for doc in docs.values():
            df.update(set(doc))
        self._weights = {
            t: math.log(1.0 + (total - df[t] + 0.5) / (df[t] + 0.5)) for t in set(question_terms)
        }
        mass = sum(self._weights.values()) or 1.0
        avg_len = sum(len(doc) for doc in docs.values()) / max(total, 1) or 1.0
        self.bm25: dict[str, float] = {}
        self.coverage: dict[str, float] = {}
        for text, doc in docs.items():
            tf = Counter(doc)
            norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * len(doc) / avg_len)
            held = [(t, w) for t, w in self._weights.items() if tf[t]]
            self.bm25[text] = sum(w * tf[t] * (_BM25_K1 + 1) / (tf[t] + norm) for t, w in held)
            self.coverage[text] = sum(w for _, w in held) / mass
        self.best = max(self.bm25.values(), default=0.0)


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return float(sum(map(operator.mul, a, b)))


def _unit_vector(v: Sequence[float]) -> list[float]:
    norm = math.sqrt(_dot(v, v))
    return [x / norm for x in v] if norm > 0 else [0.0] * len(v)


class _Semantic:
    """Each sentence's cosine with the question, and its passage's.

    The passage vector is the sum of the unit vectors of the sentence and its neighbours,
    so its cosine needs dot products only: ``q.(a+b+c) / |a+b+c|``. A sentence without a
    vector (past :data:`MAX_EMBEDDED_SENTENCES`) has cosine 0 and is left out of passages.
    """

    def __init__(
        self,
        question: Sequence[float],
        vectors: Mapping[str, Sequence[float]],
        per_source: list[list[_Sentence]],
    ) -> None:
        q = _unit_vector(question)
        self._unit = {text: _unit_vector(v) for text, v in vectors.items()}
        self._cosine = {text: _dot(q, v) for text, v in self._unit.items()}
        self._passage: dict[tuple[int, int], float] = {}
        for sentences in per_source:
            for s in sentences:
                members = [m.text for m in [s, *_neighbours(per_source, s)] if m.text in self._unit]
                norm_sq = float(len(members))
                for i, a in enumerate(members):
                    for b in members[i + 1 :]:
                        norm_sq += 2 * _dot(self._unit[a], self._unit[b])
                dot = sum(self._cosine[m] for m in members)
                self._passage[s.source_n, s.index] = dot / math.sqrt(norm_sq) if norm_sq > 0 else 0

    def cosines(self, s: _Sentence) -> tuple[float, float]:
        """The sentence's and its passage's cosine with the question."""
        return self._cosine.get(s.text, 0.0), self._passage[s.source_n, s.index]

    def similarity(self, a: _Sentence, b: _Sentence) -> float:
        if a.text not in self._unit or b.text not in self._unit:
            return 0.0
        return _dot(self._unit[a.text], self._unit[b.text])


def _score(
    question: str,
    question_terms: Sequence[str],
    per_source: list[list[_Sentence]],
    semantic: _Semantic | None,
) -> list[_Candidate]:
    """Every sentence occurrence that may be quoted, best first."""
    lexical = _Lexical(question_terms, per_source)
    asked = _quantity_asked(question)
    names = _question_words(question)
    codes = _specific_codes(question, per_source)
    candidates: list[_Candidate] = []
    for sentences in per_source:
        for s in sentences:
            rank = 1 + RANK_BONUS * (len(per_source) - s.source_n + 1) / len(per_source)
            bm25, coverage = lexical.bm25[s.text], lexical.coverage[s.text]
            holds_code = any(holds_term(s.text, code) for code in codes)
            if semantic is None:
                if bm25 > 0:
                    supported = coverage >= MIN_COVERAGE or holds_code
                    candidates.append(_Candidate(s, bm25 * rank, supported, supported))
                continue
            cosine, passage = semantic.cosines(s)
            states = asked is not None and _states_quantity(s.text, asked, names)
            score = (
                SEMANTIC_WEIGHT * cosine
                + PASSAGE_WEIGHT * passage
                + LEXICAL_WEIGHT * (bm25 / lexical.best if lexical.best > 0 else 0.0)
                + (NUMBER_BONUS if states else 0.0)
                + (CODE_BONUS if holds_code else 0.0)
            )
            similarity = max(cosine, passage)
            supported = (
                holds_code
                or similarity >= STRONG_SIMILARITY
                or (similarity >= MIN_SIMILARITY and coverage >= MIN_TERM_COVERAGE)
                or (states and similarity >= QUANTITY_SIMILARITY and _has_digits(s.text, names))
            )
            eligible = supported or coverage >= MIN_TERM_COVERAGE
            bonus = CODE_BONUS * rank if holds_code else 0.0
            candidates.append(_Candidate(s, score * rank, supported, eligible, bonus))
    candidates.sort(key=lambda c: (-c.score, c.sentence.position))
    return candidates


def _specific_codes(question: str, per_source: list[list[_Sentence]]) -> list[str]:
    """The question's codes that only a few of the sources' sentences hold
    (``SPECIFIC_CODE_SENTENCES``): "What does error F2 mean?" against a troubleshooting
    table's row "F2: Water level low", whose other words ("error") the manual never says."""
    texts = {s.text for sentences in per_source for s in sentences}
    out: list[str] = []
    for code in rare_terms(without_labels(question)):
        if not any(c.isdigit() for c in code):
            continue
        held = sum(1 for text in texts if holds_term(text, code))
        if 1 <= held <= SPECIFIC_CODE_SENTENCES:
            out.append(code)
    return out


# ------------------------------------------------------------------------ selection
def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _leans_back(s: _Sentence) -> bool:
    """Opens with a connective or a pronoun: "Then ...", "That's ...", "Replace it ..."."""
    if _CONNECTIVE_RE.match(s.text):
        return True
    return any(w in _PRONOUNS for w in _WORD_RE.findall(_fold(s.text))[:_PRONOUN_WINDOW])


def _question_words(question: str) -> frozenset[str]:
    """The question's words holding a digit: names ("K58", "E3", "2014"), not quantities."""
    return frozenset(w for w in _WORD_RE.findall(_fold(question)) if any(c.isdigit() for c in w))


def _has_digits(text: str, ignore: frozenset[str]) -> bool:
    """States a figure in digits ("18 grams", not "two years"), the question's names aside."""
    return any(
        c.isdigit() for w in text.split() if _fold(w).strip(".,;:!?()") not in ignore for c in w
    )


def _introduces(s: _Sentence) -> bool:
    """Introduces the video or names its subject: "In this video ...", "This is the K58" —
    or signs off (``_OUTRO_RE``)."""
    return bool(
        _INTRO_RE.match(s.text) or _NAMES_SUBJECT_RE.match(s.text) or _OUTRO_RE.match(s.text)
    )


def _refers(s: _Sentence) -> bool:
    """Refers elsewhere for the answer: "See also ...", "See <a title or an address>"."""
    return _REFERS_RE.match(s.text) is not None


def _echoes(s: _Sentence) -> bool:
    """Poses or reports a question rather than answering one (see ``_ECHO_RE``)."""
    return s.text.rstrip().endswith("?") or _ECHO_RE.match(s.text) is not None


def _leads_in(s: _Sentence) -> bool:
    """Announces what follows: ends with a colon, poses a question, or is short and states
    no figure."""
    text = s.text.rstrip()
    if text.endswith(":") or _echoes(s):
        return True
    return len(text.split()) <= LEAD_IN_WORDS and not _FIGURE_RE.search(text)


def _with_context(per_source: list[list[_Sentence]], s: _Sentence) -> list[_Sentence]:
    """``s`` with the neighbour it cannot do without, in reading order."""
    if s.standalone:
        return [s]
    sentences = per_source[s.source_n - 1]
    if _leans_back(s):
        before = sentences[s.index - 1] if s.index > 0 and not s.after_break else None
        return [before, s] if before is not None and not before.standalone else [s]
    if _leads_in(s) and s.index + 1 < len(sentences):
        after = sentences[s.index + 1]
        return [s, after] if not (after.after_break or after.standalone) else [s]
    return [s]


def _select(
    candidates: Sequence[_Candidate],
    per_source: list[list[_Sentence]],
    question: str,
    max_tokens: int,
    semantic: _Semantic | None,
    follows: Mapping[int, int] | None = None,
) -> list[list[_Sentence]]:
    """The sentences to quote as units (a sentence with the neighbour it needs), in the
    order chosen, the answer's lead first (none: the sources hold no answer)."""
    question_terms = frozenset(terms(question))
    supported = [i for i, c in enumerate(candidates) if c.supported]
    if not supported:
        return []
    # the lead: the best evidence that is not an introduction, if any
    start = next(
        (
            i
            for i in supported
            if not (_introduces(candidates[i].sentence) or _refers(candidates[i].sentence))
        ),
        supported[0],
    )
    if _asks_for_overview(question, candidates, supported[0], semantic):
        intro = candidates[supported[0]].sentence
        return _overview(per_source, intro, max_tokens, follows or {})
    # when the question asks for a quantity and the lead states it, a point stating none
    # does not bear on the question ("What temperature ...?" / "The steam boiler runs at
    # 1.4 bar")
    asked = _quantity_asked(question)
    names = _question_words(question)
    lead = candidates[start].sentence
    wants_quantity = asked is not None and _states_quantity(lead.text, asked, names)
    relative = RELATIVE_FLOOR if semantic is None else SEMANTIC_RELATIVE_FLOOR
    floor = relative * (candidates[start].score - candidates[start].code_bonus)
    # Chunks overlap, so a sentence may be in two sources: it is quoted from the one that
    # also holds the neighbour it needs, else from the better-ranked one.
    occurrences: dict[str, list[_Sentence]] = {}
    for sentences in per_source:
        for s in sentences:
            occurrences.setdefault(s.text, []).append(s)

    def repeats(s: _Sentence, taken: _Sentence) -> bool:
        return (
            s.text in taken.text
            or taken.text in s.text
            or _jaccard(s.term_set, taken.term_set) >= DUPLICATE_JACCARD
            or (semantic is not None and semantic.similarity(s, taken) >= REDUNDANT_SIMILARITY)
        )

    chosen: list[_Sentence] = []
    units: list[list[_Sentence]] = []
    covered: frozenset[str] = frozenset()
    budget = max_tokens - 20
    points = 0
    rest = [c for i, c in enumerate(candidates) if i >= supported[0] and i != start]
    for cand in [candidates[start], *rest]:
        if cand.score < floor or len(chosen) >= MAX_QUOTED:
            break
        s = cand.sentence
        if not cand.eligible or any(repeats(s, taken) for taken in chosen):
            continue
        if chosen and (
            _introduces(s)
            or (wants_quantity and asked and not _states_quantity(s.text, asked, names))
        ):
            continue
        extends = any(t.source_n == s.source_n and abs(t.index - s.index) == 1 for t in chosen)
        adds = (s.term_set & question_terms) - covered
        if not extends:
            if points == MAX_POINTS:
                continue
            if semantic is None and points == 2 and not adds:
                continue  # lexically, a third point must bring a question term of its own
        options = [_with_context(per_source, o) for o in occurrences[s.text]]
        unit = next(u for u in options if len(u) == max(map(len, options)))
        unit = [u for u in unit if all(u.text != taken.text for taken in chosen)]
        cost = sum(estimate_tokens(u.text) + 2 for u in unit)
        if len(chosen) + len(unit) > MAX_QUOTED or cost > budget:
            unit, cost = [s], estimate_tokens(s.text) + 2
            if chosen and cost > budget:
                continue
        if chosen and _echoes(s) and unit[-1] is s:
            continue  # a question without the sentence that answers it (as the lead, it
            # still points to where the video answers it: its answer may be past the chunk)
        chosen.extend(unit)
        units.append(unit)
        budget -= cost
        covered |= adds
        points += not extends
    return units


def _asks_for_overview(
    question: str, candidates: Sequence[_Candidate], best: int, semantic: _Semantic | None
) -> bool:
    """The question asks what a source announces as its whole subject ("How do I dial in a
    new bag of beans?" against "Today we're dialing in a brand new bag of beans from
    scratch, and I'm going to show you the exact five shot routine ..."): the best evidence
    is an introduction close in meaning to the question (cosine at least
    ``STRONG_SIMILARITY``) and no other sentence comes near it (each under
    ``OVERVIEW_MARGIN`` of its cosine) — or, when the fan's own words ask how to do
    something (``_ASKS_HOW_TO_RE``, no quantity, leaning on nothing said before), whatever
    the others. Its answer is what the
    introduction announces, not a stray sentence that shares a word ("Give it two pumps
    after the beans stop")."""
    intro = candidates[best].sentence
    if semantic is None or not _introduces(intro) or _OUTRO_RE.match(intro.text):
        return False
    closeness = semantic.cosines(intro)[0]
    if closeness < STRONG_SIMILARITY:
        return False
    asked = own_words(question).strip()
    if (
        _quantity_asked(asked) is None
        and _ASKS_HOW_TO_RE.match(asked)
        and not looks_dependent(asked)  # "How do I spread it inside?" asks for one step
    ):
        return True  # "How do I sharpen a chisel?" against "Today we're sharpening chisels"
    others = (semantic.cosines(c.sentence)[0] for c in candidates if not _introduces(c.sentence))
    return max(others, default=0.0) < OVERVIEW_MARGIN * closeness


def _overview(
    per_source: list[list[_Sentence]],
    intro: _Sentence,
    max_tokens: int,
    follows: Mapping[int, int],
) -> list[list[_Sentence]]:
    """The introduction and what follows it in its source, in reading order, as one unit —
    on into the source that continues it (``follows``: the next chunk of the same document,
    when it is among the sources), its overlap not quoted twice; a spoken section title
    ("First, sanding.") is no stop. Greetings and a last sentence that only leads in to what
    is cut off are left out."""
    unit: list[_Sentence] = []
    budget = max_tokens - 20

    def sentences() -> Iterator[_Sentence]:
        n, seen = intro.source_n, {intro.source_n}
        yield from per_source[n - 1][intro.index :]
        while (n := follows.get(n, 0)) and n not in seen:
            seen.add(n)
            yield from per_source[n - 1]

    for s in sentences():
        if len(unit) == MAX_QUOTED:
            break
        if any(s.text == u.text for u in unit):
            continue  # chunks overlap: the continuing chunk opens with what was quoted
        cost = estimate_tokens(s.text) + 2
        if unit and cost > budget:
            break  # the introduction itself is always quoted, as any answer's lead is
        if unit and (_GREETING_RE.match(s.text) or _OUTRO_RE.match(s.text)):
            continue
        unit.append(s)
        budget -= cost
    while len(unit) > 1 and _announces(unit[-1]):
        unit.pop()
    return [unit]


def _announces(s: _Sentence) -> bool:
    """Announces what comes next and states nothing itself: "Here's how:", "First, the
    numbers I start from.", "Now the sealant itself." (a short step such as "Slide the old
    pads out together with the spring." states something)."""
    return s.text.rstrip().endswith(":") or (
        _leads_in(s) and _ANNOUNCES_RE.match(s.text) is not None
    )


def _follows(sources: Sequence[Chunk]) -> dict[int, int]:
    """Source number -> the number of the source that continues it: the next chunk of the
    same document (ordinal + 1), when the sources hold it."""
    number = {(c.document_id, c.ordinal): n for n, c in enumerate(sources, start=1)}
    out: dict[int, int] = {}
    for n, c in enumerate(sources, start=1):
        after = number.get((c.document_id, c.ordinal + 1))
        if after is not None:
            out[n] = after
    return out


def _reading_order(units: Sequence[Sequence[_Sentence]]) -> list[_Sentence]:
    """The lead unit (the best sentence with the neighbour it needs) first — the answer
    opens with what answers — then what continues it in its source, then the others source
    by source, in the order each was first chosen; within a passage, text order."""
    lead = list(units[0])
    if len(lead) > 1 and _leans_back(lead[-1]):
        # the best sentence continues the one before it ("With that, the static was
        # gone."): the passage it continues is quoted from its start, in text order
        chosen_set = {id(s) for unit in units for s in unit}
        sentences = [s for unit in units for s in unit]
        while True:
            head = lead[0]
            before = next(
                (
                    s
                    for s in sentences
                    if id(s) in chosen_set
                    and s.source_n == head.source_n
                    and s.index == head.index - 1
                ),
                None,
            )
            if before is None:
                break
            lead.insert(0, before)
    chosen = [s for unit in units for s in unit]
    first: dict[int, int] = {}
    for s in chosen:
        first.setdefault(s.source_n, len(first))
    ordered = sorted(
        (s for s in chosen if s not in lead), key=lambda s: (first[s.source_n], s.index)
    )
    passages: list[list[_Sentence]] = [lead]
    for s in ordered:
        follows = [
            p for p in passages if p[-1].source_n == s.source_n and p[-1].index + 1 == s.index
        ]
        if follows:
            follows[0].append(s)
        else:
            passages.append([s])
    return [s for p in passages for s in p]


def _opener(system: str) -> str:
    """The answer's first words: the creator's name, and the tone the persona names (the
    tone word it says first), from fixed templates; neutral without a persona."""
    name = creator_name_from_system(system)
    owner = f"{name}'s" if name else "the creator's"
    persona = persona_from_system(system) or ""
    words = _WORD_RE.findall(_fold(persona))
    for word in words:
        for tone, template in _TONE_OPENERS:
            if word in tone:
                return template.format(owner=owner)
    return _NEUTRAL_OPENER.format(owner=owner)


# a sentence ends at . ! or ? followed by space — after its markers, if it has any
_PIECE_END = re.compile(r"[.!?](?:\s*\[\d+(?:\s*,\s*\d+)*\])*\s+")


def sentence_pieces(text: str) -> list[str]:
    """``text`` cut after each sentence (its citation markers and the space after it kept
    with it): the pieces joined are ``text``."""
    pieces: list[str] = []
    start = 0
    for match in _PIECE_END.finditer(text):
        pieces.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


# ------------------------------------------------------------------------ generator
class LocalExtractiveGenerator:
    """Quotes the best-supported sentences of the numbered sources; never invents.

    With an ``embedder`` (pass the cached one retrieval uses) sentences are scored on
    meaning as well as on shared words; without one, on words only.
    """

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder

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

        chosen = self._choose(question, sources, max_tokens)
        if not chosen:
            # a follow-up that finds nothing on its own words ("How much do I put in?") is
            # read as the question it stands for, with the fan's earlier question as context
            earlier = [t.get("content", "") for t in history if t.get("role") == "user"]
            standalone = standalone_question(question, [e for e in earlier if e])
            if standalone != question:
                chosen = self._choose(standalone, sources, max_tokens)
        if not chosen:
            return Generation(
                text=NOT_FOUND_ANSWER,
                input_tokens=input_tokens,
                output_tokens=estimate_tokens(NOT_FOUND_ANSWER),
                model_id=MODEL_ID,
                cited=[],
            )

        body = " ".join(f"{s.text} [{s.source_n}]" for s in _reading_order(chosen))
        text = f"{_opener(system)} {body}"
        return Generation(
            text=text,
            input_tokens=input_tokens,
            output_tokens=estimate_tokens(text),
            model_id=MODEL_ID,
            cited=sorted({s.source_n for unit in chosen for s in unit}),
        )

    def generate_stream(
        self,
        *,
        system: str,
        history: Sequence[Mapping[str, str]],
        question: str,
        sources: Sequence[Chunk],
        max_tokens: int,
        on_delta: Callable[[str], None],
    ) -> Generation:
        """As :meth:`generate`, the answer passed to ``on_delta`` sentence by sentence (each
        with its citation marker): it is chosen whole — quoting is instant — and streamed
        so a page renders it the way it renders a model's."""
        generation = self.generate(
            system=system,
            history=history,
            question=question,
            sources=sources,
            max_tokens=max_tokens,
        )
        for piece in sentence_pieces(generation.text):
            on_delta(piece)
        return generation

    def _choose(
        self, question: str, sources: Sequence[Chunk], max_tokens: int
    ) -> list[list[_Sentence]]:
        question_terms = terms(without_labels(question))
        if not question_terms or not sources:
            return []
        per_source = _source_sentences(sources)
        semantic = self._semantic(question, per_source)
        candidates = _score(question, question_terms, per_source, semantic)
        return _select(candidates, per_source, question, max_tokens, semantic, _follows(sources))

    def _semantic(self, question: str, per_source: list[list[_Sentence]]) -> _Semantic | None:
        """The question and the distinct sentences embedded in one call; None without an
        embedder or when it fails (the answer is then scored on words only)."""
        if self._embedder is None:
            return None
        texts = list(dict.fromkeys(s.text for sentences in per_source for s in sentences))
        texts = texts[:MAX_EMBEDDED_SENTENCES]
        if not texts:
            return None
        try:
            vectors = self._embedder.embed([question, *texts])
        except Exception:  # an answer on words alone beats no answer
            _log.warning("sentence embedding failed; scoring on words only", exc_info=True)
            return None
        if len(vectors) != len(texts) + 1:
            _log.warning("embedder returned %d vectors for %d texts", len(vectors), len(texts) + 1)
            return None
        return _Semantic(vectors[0], dict(zip(texts, vectors[1:], strict=True)), per_source)

"""Parsed segments → retrievable :class:`Chunk` s. Pure and deterministic.

Two strategies, by kind:

* **Transcripts** (VTT, SRT, YouTube JSON): consecutive cues are merged into time windows.
  A window closes once its new cues span at least ``window_s[0]`` seconds *and* its last cue
  ends a sentence; it closes before a cue that would take it past ``window_s[1]`` seconds or
  past ``max_tokens``. The next window starts with the last cue(s) of the previous one, about
  ``overlap_tokens`` of them (preferring a tail that starts a sentence, up to 1.5x the
  budget), so a question that straddles a boundary still finds one chunk holding the whole
  answer. Every chunk holds at least one cue the previous chunk did not. Each chunk keeps
  ``start_s`` of its first cue and ``end_s`` of its last, so a citation deep-links to the
  second where that passage starts. A single cue longer than ``max_tokens`` is split into
  pieces with times interpolated over its span.
* **Documents** (Markdown, text, PDF): each section (same heading path and page) is packed
  sentence by sentence up to ``max_tokens``; chunks never straddle two sections, so
  ``Chunk.heading`` and ``Chunk.page`` are always exact. The next chunk of a section starts
  with the trailing sentence(s) of the previous one, up to ``overlap_tokens``. A sentence
  longer than the budget is split by lines, then by words; an oversized fenced code block is
  split by lines and each piece re-fenced.

Chunk ids are ``f"{document_id}:{ordinal:04d}"`` rather than a hash of the text:
deterministic, so a redelivered ingest job overwrites the same index entries instead of
adding duplicates; readable in logs and citations; sorted in reading order (to 9,999 chunks,
still unique beyond); and unique across documents (and so creators, as document ids are
derived from the creator) because the document id is the prefix. A text hash would change
every id whenever an edit shifts the text, without buying anything: a document posted again
with new content has its chunks replaced as a whole (``VectorIndex.replace_document``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from creator_chat.content.parsers import ParsedDocument, Segment
from creator_chat.domain.models import Chunk

__all__ = ["chunk_document", "chunk_id", "estimate_tokens"]

# Token counts are estimated as words * 1.3 (a fair average for English with BPE tokenizers
# such as the embedding and generation models'). No tokenizer is loaded: this must run in a
# Lambda without model files, and the budget only needs to be roughly right.
TOKENS_PER_WORD = 1.3

# Closing quotes/brackets allowed after the terminal punctuation (incl. typographic quotes).
_CLOSERS = "\"')\\]\u201d\u2019"
_SENTENCE_END = re.compile(rf"[.!?\u2026][{_CLOSERS}]*$")
# Split after a sentence end followed by whitespace; the whitespace is kept as the joiner.
_SENTENCE_SPLIT = re.compile(rf"(?<=[.!?\u2026])([{_CLOSERS}]*)(\s+)(?=\S)")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def estimate_tokens(text: str) -> int:
    """Approximate token count: whitespace-separated words * 1.3, rounded up."""
    words = len(text.split())
    return math.ceil(words * TOKENS_PER_WORD) if words else 0


def chunk_id(document_id: str, ordinal: int) -> str:
    return f"{document_id}:{ordinal:04d}"


def chunk_document(
    parsed: ParsedDocument,
    *,
    creator_id: str,
    document_id: str,
    title: str,
    source_url: str,
    video_id: str | None = None,
    tags: Sequence[str] = (),
    max_tokens: int = 220,
    overlap_tokens: int = 40,
    window_s: tuple[float, float] = (30, 90),
) -> list[Chunk]:
    """Split a parsed document into chunks (never empty, ids deterministic), each carrying
    the document's ``video_id`` and ``tags``."""
    if max_tokens < 8:
        raise ValueError("max_tokens must be at least 8")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError("overlap_tokens must be >= 0 and < max_tokens")
    min_window, max_window = window_s
    if not 0 <= min_window <= max_window or max_window <= 0:
        raise ValueError("window_s must be (min, max) with 0 <= min <= max and max > 0")

    if parsed.is_transcript:
        pieces = _transcript_pieces(
            parsed.segments, max_tokens, overlap_tokens, min_window, max_window
        )
    else:
        pieces = _document_pieces(parsed.segments, max_tokens, overlap_tokens)

    chunks: list[Chunk] = []
    for piece in pieces:
        text = piece.text.strip()  # (a transcript's cues never start with a space: offsets hold)
        if not text:
            continue
        ordinal = len(chunks)
        chunks.append(
            Chunk(
                chunk_id=chunk_id(document_id, ordinal),
                creator_id=creator_id,
                document_id=document_id,
                text=text,
                title=title,
                source_url=source_url,
                kind=str(parsed.kind.value),
                ordinal=ordinal,
                start_s=piece.start_s,
                end_s=piece.end_s,
                page=piece.page,
                heading=piece.heading,
                video_id=video_id,
                cue_offsets=piece.cue_offsets,
                cue_starts=piece.cue_starts,
                tags=tuple(tags),
            )
        )
    return chunks


@dataclass(frozen=True)
class _Piece:
    text: str
    start_s: float | None = None
    end_s: float | None = None
    page: int | None = None
    heading: str = ""
    cue_offsets: tuple[int, ...] | None = None
    cue_starts: tuple[float, ...] | None = None


# --------------------------------------------------------------------------- transcripts


@dataclass(frozen=True)
class _Cue:
    text: str
    start: float
    end: float
    tokens: int


def _cues(segments: Iterable[Segment], max_tokens: int) -> list[_Cue]:
    """Transcript segments as cues, ordered by start; oversized cues split by words."""
    timed = [s for s in segments if s.text.strip()]
    # Stable sort: cues out of order in the file are put in time order, ties keep file order.
    timed.sort(key=lambda s: s.start_s or 0.0)
    cues: list[_Cue] = []
    for seg in timed:
        start = seg.start_s or 0.0
        end = max(seg.end_s if seg.end_s is not None else start, start)
        tokens = estimate_tokens(seg.text)
        if tokens <= max_tokens:
            cues.append(_Cue(" ".join(seg.text.split()), start, end, tokens))
            continue
        words = seg.text.split()
        per_piece = max(1, int(max_tokens / TOKENS_PER_WORD))
        for i in range(0, len(words), per_piece):
            part = words[i : i + per_piece]
            p_start = start + (end - start) * i / len(words)
            p_end = start + (end - start) * min(len(words), i + per_piece) / len(words)
            text = " ".join(part)
            cues.append(_Cue(text, round(p_start, 3), round(p_end, 3), estimate_tokens(text)))
    return cues


def _overlap_tail(window: list[_Cue], overlap_tokens: int) -> list[_Cue]:
    """The trailing cues of a window to repeat at the head of the next one (never all of it).

    Aims at ``overlap_tokens``; prefers a tail that starts a sentence (so the next chunk, its
    snippet and its deep-link start at a sentence), accepting up to 1.5x the budget for it.
    """
    if overlap_tokens <= 0 or len(window) < 2:
        return []
    best_plain = 0
    best_sentence = 0
    best_distance = math.inf
    total = 0
    for k in range(1, len(window)):
        total += window[-k].tokens
        if total > overlap_tokens * 1.5:
            break
        if total <= overlap_tokens:
            best_plain = k
        if _SENTENCE_END.search(window[-k - 1].text):
            distance = abs(total - overlap_tokens)
            if distance < best_distance:
                best_sentence, best_distance = k, distance
    k = best_sentence or best_plain
    if not k and window[-1].tokens <= overlap_tokens * 1.5:
        k = 1  # one cue of context is what makes the seam answerable
    return window[-k:] if k else []


def _transcript_pieces(
    segments: Iterable[Segment],
    max_tokens: int,
    overlap_tokens: int,
    min_window: float,
    max_window: float,
) -> list[_Piece]:
    cues = _cues(segments, max_tokens)
    pieces: list[_Piece] = []
    window: list[_Cue] = []
    carried = 0  # how many cues at the head of ``window`` repeat the previous chunk
    tokens = 0

    def emit() -> None:
        nonlocal window, carried, tokens
        offsets, at = [], 0
        for c in window:
            offsets.append(at)
            at += len(c.text) + 1  # the joining space
        pieces.append(
            _Piece(
                text=" ".join(c.text for c in window),
                start_s=window[0].start,
                end_s=max(c.end for c in window),
                cue_offsets=tuple(offsets),
                cue_starts=tuple(c.start for c in window),
            )
        )
        window = _overlap_tail(window, overlap_tokens)
        carried = len(window)
        tokens = sum(c.tokens for c in window)

    for cue in cues:
        # Make room: a window of carried cues only must never be emitted on its own, so
        # drop carried cues (oldest first) rather than close it.
        while window and (
            tokens + cue.tokens > max_tokens or cue.end - window[0].start > max_window
        ):
            if len(window) > carried:
                emit()
            else:
                tokens -= window.pop(0).tokens
                carried -= 1
        window.append(cue)
        tokens += cue.tokens
        # The minimum is measured on the new cues, so the overlap does not shrink a window.
        new_span = cue.end - window[carried].start
        if new_span >= min_window and _SENTENCE_END.search(cue.text):
            emit()
    if len(window) > carried:
        emit()
    return pieces


# --------------------------------------------------------------------------- documents


@dataclass(frozen=True)
class _Unit:
    """A sentence (or smaller) of a section; ``joiner`` goes between it and the unit before."""

    text: str
    joiner: str
    tokens: int


def _document_pieces(
    segments: Iterable[Segment], max_tokens: int, overlap_tokens: int
) -> list[_Piece]:
    pieces: list[_Piece] = []
    sections: list[tuple[tuple[str, int | None], list[Segment]]] = []
    for seg in segments:
        if not seg.text.strip():
            continue
        key = (seg.heading, seg.page)
        if sections and sections[-1][0] == key:
            sections[-1][1].append(seg)
        else:
            sections.append((key, [seg]))

    for (heading, page), segs in sections:
        units: list[_Unit] = []
        for seg in segs:
            units.extend(_units(seg.text, max_tokens, first_joiner="\n\n"))
        for text in _pack(units, max_tokens, overlap_tokens):
            pieces.append(_Piece(text=text, page=page, heading=heading))
    return pieces


def _pack(units: list[_Unit], max_tokens: int, overlap_tokens: int) -> list[str]:
    out: list[str] = []
    window: list[_Unit] = []
    carried = 0
    tokens = 0

    def emit() -> None:
        nonlocal window, carried, tokens
        out.append(_join(window))
        tail: list[_Unit] = []
        total = 0
        for unit in reversed(window[1:]):
            if total + unit.tokens > overlap_tokens:
                break
            tail.insert(0, unit)
            total += unit.tokens
        window, carried, tokens = tail, len(tail), total

    for unit in units:
        while window and tokens + unit.tokens > max_tokens:
            if len(window) > carried:
                emit()
            else:
                tokens -= window.pop(0).tokens
                carried -= 1
        window.append(unit)
        tokens += unit.tokens
    if len(window) > carried:
        emit()
    return out


def _join(units: list[_Unit]) -> str:
    parts: list[str] = []
    for i, unit in enumerate(units):
        if i:
            parts.append(unit.joiner)
        parts.append(unit.text)
    return "".join(parts)


def _units(text: str, max_tokens: int, *, first_joiner: str) -> list[_Unit]:
    """A block of text as sentence units, each within ``max_tokens``."""
    text = text.strip("\n")
    if _FENCE_OPEN.match(text):
        return _code_units(text, max_tokens, first_joiner)
    units: list[_Unit] = []
    joiner = first_joiner
    for sentence, sep in _split_sentences(text):
        for part_i, part in enumerate(_fit(sentence, max_tokens)):
            units.append(_Unit(part, joiner if part_i == 0 else " ", estimate_tokens(part)))
        joiner = sep
    return units


def _split_sentences(text: str) -> list[tuple[str, str]]:
    """``[(sentence, whitespace after it)]``; the whitespace is kept to rejoin faithfully."""
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _SENTENCE_SPLIT.finditer(text):
        out.append((text[pos : m.start(2)], m.group(2)))
        pos = m.end(2)
    out.append((text[pos:], ""))
    return [(s, sep) for s, sep in out if s.strip()]


def _fit(text: str, max_tokens: int) -> list[str]:
    """Split one sentence over the budget by lines, then by words."""
    if estimate_tokens(text) <= max_tokens:
        return [text]
    per_piece = max(1, int(max_tokens / TOKENS_PER_WORD))
    parts: list[str] = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        if estimate_tokens(line) <= max_tokens:
            parts.append(line)
            continue
        words = line.split()
        parts.extend(" ".join(words[i : i + per_piece]) for i in range(0, len(words), per_piece))
    # Re-merge consecutive lines while they fit, so a long list stays a few pieces.
    merged: list[str] = []
    for part in parts:
        if merged and estimate_tokens(merged[-1]) + estimate_tokens(part) <= max_tokens:
            merged[-1] = f"{merged[-1]}\n{part}"
        else:
            merged.append(part)
    return merged


def _code_units(text: str, max_tokens: int, first_joiner: str) -> list[_Unit]:
    """A fenced code block stays one unit; if oversized, line pieces each re-fenced."""
    tokens = estimate_tokens(text)
    if tokens <= max_tokens:
        return [_Unit(text, first_joiner, tokens)]
    lines = text.split("\n")
    opening = lines[0]
    marker = _FENCE_OPEN.match(opening)
    fence = marker.group(1) if marker else "```"
    body = lines[1:]
    if body and body[-1].strip().startswith(fence[0] * 3):
        body = body[:-1]
    budget = max(1, max_tokens - estimate_tokens(opening) - estimate_tokens(fence))
    units: list[_Unit] = []
    current: list[str] = []

    def close() -> None:
        if current:
            piece = "\n".join([opening, *current, fence])
            joiner = first_joiner if not units else "\n\n"
            units.append(_Unit(piece, joiner, estimate_tokens(piece)))
            current.clear()

    for line in body:
        for part in _fit(line, budget) if line.strip() else [line]:
            if current and estimate_tokens("\n".join([*current, part])) > budget:
                close()
            current.append(part)
    close()
    return units

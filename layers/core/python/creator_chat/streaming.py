"""Streamed answers: citation markers validated and renumbered as the text arrives.

A synchronous answer is checked once it is whole (:func:`creator_chat.adapters.llm_common.
parse_citations`), then numbered by feeding it whole to a :class:`CitationStream`
(``usecases.chat.make_citations``). A streamed one reaches the fan piece by piece through the
same class, which holds back
only what it cannot decide yet — a ``[`` that may open a marker, trailing white space (it
goes with a marker that is dropped, and at the end) — and emits the rest with

- markers of sources that exist renumbered 1..n in the order they first appear — one number
  per source, or, given the sources, per stretch of a transcript: two claims citing one
  passage whose supporting sentences start more than ``retrieval.CLAIM_GAP_S`` apart get a
  number each, so each opens the video at its own second (``entries``),
- markers of sources that do not exist removed (with the space before them),
- leading and trailing white space stripped, and the not-found answer for an empty reply.

What it emits, joined, is the answer that is stored: the fan's window and the thread agree
to the character.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from creator_chat.domain.models import Chunk
from creator_chat.prompting import NOT_FOUND_ANSWER
from creator_chat.retrieval import CLAIM_GAP_S, claim_before, claim_second

# the marker syntax llm_common reads: "[2]", "[1, 3]"; at most three digits ("[2024]" is text)
_MARKER = re.compile(r"([ \t]*)\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# what may still become a marker (or is white space that may go with one)
_OPEN_TAIL = re.compile(r"[ \t]*\[[\d\s,]*\Z")
_SPACE_TAIL = re.compile(r"\s+\Z")
MAX_MARKER_CHARS = 24  # a "[" followed by more than this is text, not a marker


class CitationStream:
    """Feed raw text pieces; each call returns the text that can be shown now. Given the
    sources (not just their count), a transcript's claims are numbered by where they are
    said (see the module docstring)."""

    def __init__(self, sources: int | Sequence[Chunk]) -> None:
        self._chunks = None if isinstance(sources, int) else list(sources)
        self.source_count = sources if isinstance(sources, int) else len(sources)
        #: citation number - 1 → (source number, the second its claims open at, if known)
        self.entries: list[tuple[int, float | None]] = []
        self._held = ""
        self._started = False  # something other than white space was emitted
        self._parts: list[str] = []

    @property
    def text(self) -> str:
        """Everything emitted so far."""
        return "".join(self._parts)

    @property
    def order(self) -> dict[int, int]:
        """Source number → the first citation number it got."""
        out: dict[int, int] = {}
        for number, (source, _) in enumerate(self.entries, start=1):
            out.setdefault(source, number)
        return out

    def feed(self, piece: str) -> str:
        self._held += piece
        cut = len(self._held)
        tail = _OPEN_TAIL.search(self._held)
        if tail is not None and len(self._held) - tail.start() <= MAX_MARKER_CHARS:
            cut = tail.start()
        space = _SPACE_TAIL.search(self._held[:cut])
        if space is not None:
            cut = space.start()
        ready, self._held = self._held[:cut], self._held[cut:]
        return self._emit(self._renumber(ready))

    def finish(self) -> str:
        """The rest, at the end of the reply: an unfinished ``[`` is text; trailing space
        goes; a reply with no text becomes the not-found answer."""
        rest = self._renumber(self._held).rstrip()
        self._held = ""
        out = self._emit(rest)
        if not self._started:
            self._started = True
            self._parts.append(NOT_FOUND_ANSWER)
            return NOT_FOUND_ANSWER
        return out

    def _renumber(self, ready: str) -> str:
        before = self.text if self._chunks is not None else ""  # only claims need it

        def marker(match: re.Match[str]) -> str:
            return self._marker(match, before + ready[: match.start()])

        return _MARKER.sub(marker, ready)

    def _number(self, source: int, claim_text: str) -> int:
        second = None
        if self._chunks is not None:
            second = claim_second(self._chunks[source - 1], claim_before(claim_text))
        for number, (cited, at) in enumerate(self.entries, start=1):
            if cited == source and (
                second is None or at is None or abs(at - second) <= CLAIM_GAP_S
            ):
                return number
        self.entries.append((source, second))
        return len(self.entries)

    def _marker(self, match: re.Match[str], claim_text: str) -> str:
        numbers = [int(n) for n in match.group(2).split(",")]
        kept: list[int] = []
        for n in numbers:
            if not 1 <= n <= self.source_count:
                continue
            new = self._number(n, claim_text)
            if new not in kept:
                kept.append(new)
        if not kept:
            return ""  # with the space before it: "claim [9]." → "claim."
        return f"{match.group(1)}[{', '.join(str(n) for n in kept)}]"

    def _emit(self, text: str) -> str:
        if not self._started:
            text = text.lstrip()
            if not text:
                return ""
            self._started = True
        if text:
            self._parts.append(text)
        return text


def relay(stream: CitationStream, on_delta: Callable[[str], None]) -> Callable[[str], None]:
    """A generator's ``on_delta``: raw pieces in, checked text out to ``on_delta``."""

    def take(piece: str) -> None:
        shown = stream.feed(piece)
        if shown:
            on_delta(shown)

    return take

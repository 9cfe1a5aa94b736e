"""Bytes in, text segments out: one parser per :class:`DocumentKind`.

Pure functions: no I/O besides the bytes handed in. Whatever cannot be read, or reads as no
text at all, raises :class:`~creator_chat.errors.InvalidInput` with a reason a creator can act
on; that reason ends up as the document's ``failure_reason``.

* Transcripts (VTT, SRT, YouTube JSON) give one segment per cue, with ``start_s``/``end_s``
  in seconds (float, millisecond precision).
* PDF gives one segment per page with text, ``page`` 1-based.
* Markdown gives one segment per block (paragraph, list, fenced code block kept intact),
  ``heading`` being the path of the headings above it, e.g. ``"Setup > Wiring"``.
* Plain text gives one segment per paragraph.
"""

from __future__ import annotations

import codecs
import html
import io
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from creator_chat.domain.models import DocumentKind
from creator_chat.errors import InvalidInput

__all__ = ["ParsedDocument", "Segment", "decode_text", "detect_kind", "parse"]

HEADING_SEPARATOR = " > "


@dataclass(frozen=True)
class Segment:
    """A piece of a document's text and where it sits in the source."""

    text: str
    start_s: float | None = None
    end_s: float | None = None
    page: int | None = None
    heading: str = ""


@dataclass
class ParsedDocument:
    kind: DocumentKind
    segments: list[Segment] = field(default_factory=list)

    @property
    def is_transcript(self) -> bool:
        return self.kind in TRANSCRIPT_KINDS


TRANSCRIPT_KINDS = frozenset({DocumentKind.VTT, DocumentKind.SRT, DocumentKind.YOUTUBE_JSON})


def parse(kind: DocumentKind, data: bytes) -> ParsedDocument:
    """Parse ``data`` as ``kind``; raises ``InvalidInput`` if unreadable or without text."""
    if not data or not data.strip():
        raise InvalidInput("The file is empty")
    kind = DocumentKind(kind)
    if kind is DocumentKind.PDF:
        segments = _parse_pdf(data)
    elif kind is DocumentKind.VTT:
        segments = _parse_captions(decode_text(data), "vtt")
    elif kind is DocumentKind.SRT:
        segments = _parse_captions(decode_text(data), "srt")
    elif kind is DocumentKind.YOUTUBE_JSON:
        segments = _parse_youtube_json(decode_text(data))
    elif kind is DocumentKind.MARKDOWN:
        segments = _parse_markdown(decode_text(data))
    else:
        segments = _parse_text(decode_text(data))
    return ParsedDocument(kind=kind, segments=segments)


# --------------------------------------------------------------------------- decoding

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_text(data: bytes) -> str:
    """Decode UTF-8 (a UTF-8 BOM is dropped; UTF-16 with a BOM is accepted too).

    Line endings are normalised to ``\\n``. Undecodable bytes or NUL characters (a binary
    file under a text name) raise ``InvalidInput``.
    """
    try:
        utf16 = data.startswith(_UTF16_BOMS)
        text = data.decode("utf-16") if utf16 else data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"The file is not valid UTF-8 text (undecodable byte at offset {exc.start}); "
            "save it as UTF-8 and upload it again"
        ) from None
    if "\x00" in text:
        raise InvalidInput("The file looks binary (it contains NUL characters), not text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --------------------------------------------------------------------------- detection

_EXTENSIONS: dict[str, DocumentKind] = {
    ".vtt": DocumentKind.VTT,
    ".webvtt": DocumentKind.VTT,
    ".srt": DocumentKind.SRT,
    ".json": DocumentKind.YOUTUBE_JSON,
    ".md": DocumentKind.MARKDOWN,
    ".markdown": DocumentKind.MARKDOWN,
    ".mdown": DocumentKind.MARKDOWN,
    ".txt": DocumentKind.TEXT,
    ".text": DocumentKind.TEXT,
    ".pdf": DocumentKind.PDF,
}

_SRT_TIMING = re.compile(
    r"^\s*\d{1,3}:\d{2}:\d{2},\d{1,3}\s*-->\s*\d{1,3}:\d{2}:\d{2},\d{1,3}",
    re.M,
)
_MD_HEADING_SNIFF = re.compile(r"^#{1,6}\s+\S", re.M)


def detect_kind(filename: str, data: bytes) -> DocumentKind:
    """The kind of an upload: by file extension first, then by sniffing the content."""
    name = filename.lower().strip()
    dot = name.rfind(".")
    if dot >= 0 and name[dot:] in _EXTENSIONS:
        return _EXTENSIONS[name[dot:]]
    if data[:1024].lstrip().startswith(b"%PDF"):
        return DocumentKind.PDF
    try:
        text = decode_text(data)
    except InvalidInput:
        raise InvalidInput(
            f"Unsupported file type for {filename!r}: expected .vtt, .srt, .json (YouTube "
            "transcript), .md, .txt or .pdf"
        ) from None
    head = text.lstrip()
    if head.startswith("WEBVTT"):
        return DocumentKind.VTT
    if _SRT_TIMING.search(text[:4096]):
        return DocumentKind.SRT
    if head.startswith(("[", "{")):
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if isinstance(loaded, list | dict):
            return DocumentKind.YOUTUBE_JSON
    if _MD_HEADING_SNIFF.search(text) or "\n```" in f"\n{text}":
        return DocumentKind.MARKDOWN
    return DocumentKind.TEXT


# --------------------------------------------------------------------------- captions


def _timestamp_s(value: str) -> float:
    """``[hh:]mm:ss.mmm`` (or ``,mmm``) to seconds; exact to the millisecond."""
    parts = value.strip().replace(",", ".").split(":")
    seconds = float(parts[-1])
    minutes = int(parts[-2]) if len(parts) >= 2 else 0
    hours = int(parts[-3]) if len(parts) >= 3 else 0
    return round(hours * 3600 + minutes * 60 + seconds, 3)


# A cue that is only a sound annotation ("[Music]", "[Applause]", "♪ ♪") carries no content.
_NON_SPEECH = re.compile(r"^(?:\[[^\]]{1,40}\]|[\s\u266a\u266b]+)$")


def _clean_cue_lines(text: str) -> list[str]:
    lines = (" ".join(html.unescape(line).split()) for line in text.split("\n"))
    return [ln for ln in lines if ln and not _NON_SPEECH.match(ln)]


def _is_non_speech(text: str) -> bool:
    return bool(_NON_SPEECH.match(text.strip()))


def _parse_captions(text: str, fmt: str) -> list[Segment]:
    # Imported here: the ingest API only stores and queues; the worker parses.
    import webvtt
    from webvtt.errors import MalformedCaptionError, MalformedFileError

    label = fmt.upper()
    try:
        captions = webvtt.from_buffer(io.StringIO(text), format=fmt).captions
    except MalformedFileError:
        if fmt == "vtt":
            reason = "VTT could not be read: it must start with a 'WEBVTT' line"
        else:
            reason = "SRT could not be read: it must start with a cue number and a timing line"
        raise InvalidInput(reason) from None
    except (MalformedCaptionError, ValueError) as exc:
        raise InvalidInput(f"{label} could not be read: {exc}") from None

    segments: list[Segment] = []
    previous: list[str] = []
    for caption in captions:
        lines = _clean_cue_lines(caption.text)
        # Auto-generated ("rolling") captions repeat the previous cue's last line(s) at the
        # top of the next cue; drop the repeated lines so the text is not doubled.
        lines = _drop_rolled_over(previous, lines)
        if not lines:
            continue
        previous = _clean_cue_lines(caption.text)
        start, end = _timestamp_s(caption.start), _timestamp_s(caption.end)
        segments.append(Segment(text=" ".join(lines), start_s=start, end_s=max(start, end)))
    if not segments:
        raise InvalidInput(f"{label} has no cues with text")
    return segments


def _drop_rolled_over(previous: list[str], lines: list[str]) -> list[str]:
    """``lines`` less a head that repeats the tail of ``previous``.

    Only repeats of 3 words or more count, so a genuine short repeat ("Yes." / "Yes.") stays.
    """
    for n in range(min(len(previous), len(lines)), 0, -1):
        if previous[-n:] == lines[:n] and sum(len(ln.split()) for ln in lines[:n]) >= 3:
            return lines[n:]
    return lines


# --------------------------------------------------------------------------- YouTube JSON


YOUTUBE_JSON_UNREADABLE = "YouTube JSON transcript could not be read"


class _EntryError(Exception):
    """What is wrong in one entry (its index is added by the caller)."""


def _number(value: Any, field: str, unit: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number < 0:
        raise _EntryError(f"{field!r} must be a number of {unit}, 0 or more (got {value!r:.40})")
    return number


def _entry_lines(text: str, key: str | None) -> list[int]:
    """The line on which each entry of the transcript's list starts (1-based), for error
    messages; empty when the list cannot be found again."""
    if key is None:
        match = re.match(r"\s*\[", text)
    else:
        match = re.search(rf'"{re.escape(key)}"\s*:\s*\[', text)
    if match is None:
        return []
    decoder = json.JSONDecoder()
    lines: list[int] = []
    pos = match.end()
    try:
        while True:
            while pos < len(text) and text[pos] in " \t\n\r,":
                pos += 1
            if pos >= len(text) or text[pos] == "]":
                return lines
            lines.append(text.count("\n", 0, pos) + 1)
            _, pos = decoder.raw_decode(text, pos)
    except ValueError:
        return lines


def _youtube_entry(entry: Any) -> tuple[float, float, str]:
    """``(start_s, duration_s, raw text)`` of one entry; raises ``_EntryError``."""
    if not isinstance(entry, dict):
        got = json.dumps(entry)[:40]
        raise _EntryError(
            f'not an object (got {got}); each entry is {{"text", "start", "duration"}}'
        )
    if "tStartMs" in entry:  # json3 event
        start = _number(entry["tStartMs"], "tStartMs", "milliseconds") / 1000
        duration = _number(entry.get("dDurationMs", 0), "dDurationMs", "milliseconds") / 1000
        segs = entry.get("segs") or []
        return start, duration, "".join(str(s.get("utf8", "")) for s in segs if isinstance(s, dict))
    absent = [f for f in ("text", "start") if f not in entry]
    if absent:
        raise _EntryError(
            " and ".join(repr(f) for f in absent)
            + (" is" if len(absent) == 1 else " are")
            + ' missing; each entry is {"text", "start", "duration"}'
        )
    start = _number(entry["start"], "start", "seconds")
    duration = _number(entry.get("duration", 0), "duration", "seconds")
    return start, duration, str(entry["text"])


def _parse_youtube_json(text: str) -> list[Segment]:
    """``[{"text", "start", "duration"}]`` (youtube-transcript-api style) in seconds.

    Also accepts that list under ``"transcript"`` or ``"events"``, and YouTube's own
    ``json3`` events (``tStartMs``, ``dDurationMs``, ``segs: [{"utf8"}]``). An unreadable
    file's reason names the format, the entry (1-based) and its line, and the field.
    """
    try:
        loaded: Any = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{YOUTUBE_JSON_UNREADABLE}: not valid JSON: {exc}") from None
    key: str | None = None
    if isinstance(loaded, dict):
        for candidate in ("transcript", "events"):
            if isinstance(loaded.get(candidate), list):
                key, loaded = candidate, loaded[candidate]
                break
    if not isinstance(loaded, list):
        raise InvalidInput(
            f"{YOUTUBE_JSON_UNREADABLE}: it must be a list of "
            '{"text", "start", "duration"} entries (or that list under "transcript" or '
            '"events")'
        )
    segments: list[Segment] = []
    for index, entry in enumerate(loaded):
        try:
            start, duration, raw = _youtube_entry(entry)
        except _EntryError as err:
            lines = _entry_lines(text, key)
            where = f"entry {index + 1}" + (f" (line {lines[index]})" if index < len(lines) else "")
            raise InvalidInput(f"{YOUTUBE_JSON_UNREADABLE}: {where}: {err}") from None
        cue = " ".join(html.unescape(raw).split())
        if cue and not _is_non_speech(cue):
            segments.append(
                Segment(text=cue, start_s=round(start, 3), end_s=round(start + duration, 3))
            )
    if not segments:
        raise InvalidInput("YouTube JSON transcript has no entries with text")
    return segments


# --------------------------------------------------------------------------- PDF


def _parse_pdf(data: bytes) -> list[Segment]:
    from pypdf import PdfReader  # ~40 ms to import; only the worker reads PDFs

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidInput("PDF is password-protected; upload an unprotected copy")
        pages = list(reader.pages)
    except InvalidInput:
        raise
    except Exception as exc:  # pypdf raises many types on corrupt input
        raise InvalidInput(f"PDF could not be read: {exc or type(exc).__name__}") from None
    if not pages:
        raise InvalidInput("PDF has no pages")
    segments: list[Segment] = []
    for number, page in enumerate(pages, start=1):
        try:
            page_text = page.extract_text() or ""
        except Exception as exc:
            raise InvalidInput(
                f"PDF could not be read: page {number}: {exc or type(exc).__name__}"
            ) from None
        page_text = _tidy_block(page_text)
        if page_text:
            segments.append(Segment(text=page_text, page=number))
    if not segments:
        raise InvalidInput("PDF has no extractable text (scanned?); upload a text PDF")
    return segments


def _tidy_block(text: str) -> str:
    """Strip trailing spaces, collapse runs of blank lines, trim blank lines at both ends.

    Leading indentation of the first line is kept (it matters for indented code).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    tidy = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return tidy if tidy.strip() else ""


# --------------------------------------------------------------------------- Markdown

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-{2,})[ \t]*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")


def _closes_fence(line: str, marker: str) -> bool:
    """A closing fence: the opening character, at least as many times, and nothing else."""
    stripped = line.strip()
    return stripped.startswith(marker) and not stripped.strip(marker[0])


def _heading_text(raw: str) -> str:
    return raw.strip().rstrip("#").strip()


def _parse_markdown(text: str) -> list[Segment]:
    lines = text.split("\n")
    # YAML front matter is metadata, not content.
    if lines and lines[0].strip() == "---":
        for end in range(1, len(lines)):
            if lines[end].strip() in ("---", "..."):
                lines = lines[end + 1 :]
                break

    segments: list[Segment] = []
    path: list[tuple[int, str]] = []  # (level, title)
    headings_seen: list[str] = []
    block: list[str] = []

    def heading() -> str:
        return HEADING_SEPARATOR.join(title for _, title in path if title)

    def flush() -> None:
        body = _tidy_block("\n".join(block))
        block.clear()
        if body:
            segments.append(Segment(text=body, heading=heading()))

    def enter(level: int, title: str) -> None:
        flush()
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, title))
        if title:
            headings_seen.append(heading())

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            # A fenced code block is one block, kept verbatim (headings inside are code).
            flush()
            marker = fence.group(1)
            code = [line]
            i += 1
            while i < len(lines):
                code.append(lines[i])
                if _closes_fence(lines[i], marker):
                    break
                i += 1
            body = "\n".join(code).strip("\n")
            if body.strip():
                segments.append(Segment(text=body, heading=heading()))
            i += 1
            continue
        atx = _ATX.match(line)
        if atx:
            enter(len(atx.group(1)), _heading_text(atx.group(2) or ""))
            i += 1
            continue
        setext = _SETEXT.match(line)
        if setext and len(block) == 1 and not _LIST_ITEM.match(block[0]):
            title = _heading_text(block.pop())
            enter(1 if setext.group(1).startswith("=") else 2, title)
            i += 1
            continue
        if not line.strip():
            flush()
        else:
            block.append(line)
        i += 1
    flush()

    if not segments and headings_seen:
        # Only headings: keep them as text rather than calling the file empty.
        segments = [Segment(text=h.split(HEADING_SEPARATOR)[-1], heading=h) for h in headings_seen]
    if not segments:
        raise InvalidInput("Markdown has no text")
    return segments


# --------------------------------------------------------------------------- plain text


def _parse_text(text: str) -> list[Segment]:
    paragraphs = (_tidy_block(p) for p in re.split(r"\n[ \t]*\n", text))
    segments = [Segment(text=p) for p in paragraphs if p]
    if not segments:
        raise InvalidInput("The text file has no text")
    return segments

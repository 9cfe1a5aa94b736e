"""Parsers: bytes of each kind → segments that keep seconds, pages and heading paths."""

from __future__ import annotations

import io
import json
from importlib.resources import files

import pytest
from creator_chat.content import ParsedDocument, Segment, detect_kind, parse
from creator_chat.domain.models import DocumentKind
from creator_chat.errors import InvalidInput

K = DocumentKind


def make_pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF: one Helvetica text line per string, an empty list = blank page."""
    objects: list[bytes] = []
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            (
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
            ).encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


# --------------------------------------------------------------------------- VTT

VTT = (
    "\ufeffWEBVTT\r\nKind: captions\r\n\r\n"
    "NOTE a comment that is not a cue\r\n\r\n"
    "intro\r\n"
    "00:00:01.500 --> 00:00:04.250 align:start\r\n"
    "<v Ines>Hello &amp; welcome</v>\r\nto the <b>show</b>.\r\n\r\n"
    "01:02.040 --> 01:05.000\r\n"
    "Short timestamps work too.\r\n\r\n"
    "01:00:00.000 --> 01:00:02.000\r\n"
    "An hour in.\r\n"
).encode()


def test_vtt_keeps_seconds_with_milliseconds_and_clean_text() -> None:
    doc = parse(K.VTT, VTT)
    assert doc.kind is K.VTT
    assert doc.is_transcript
    assert [(s.start_s, s.end_s) for s in doc.segments] == [
        (1.5, 4.25),
        (62.04, 65.0),
        (3600.0, 3602.0),
    ]
    assert doc.segments[0].text == "Hello & welcome to the show."
    assert all(s.page is None and s.heading == "" for s in doc.segments)


def test_vtt_rolling_auto_captions_are_not_doubled() -> None:
    data = (
        b"WEBVTT\n\n"
        b"00:00:00.000 --> 00:00:02.000\nfirst line here\n\n"
        b"00:00:02.000 --> 00:00:04.000\nfirst line here\nsecond line here\n\n"
        b"00:00:04.000 --> 00:00:06.000\nsecond line here\nthird line\n\n"
        b"00:00:06.000 --> 00:00:08.000\n[Music]\n"
    )
    texts = [s.text for s in parse(K.VTT, data).segments]
    assert texts == ["first line here", "second line here", "third line"]


def test_vtt_short_genuine_repeats_are_kept() -> None:
    data = b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nYes.\n\n00:00:01.000 --> 00:00:02.000\nYes.\n"
    assert [s.text for s in parse(K.VTT, data).segments] == ["Yes.", "Yes."]


def test_markdown_longer_fence_contains_shorter_one() -> None:
    segments = parse(K.MARKDOWN, b"````md\n```\ninner\n```\n````\nafter\n").segments
    assert [s.text for s in segments] == ["````md\n```\ninner\n```\n````", "after"]


def test_vtt_without_cues_is_invalid_with_reason() -> None:
    with pytest.raises(InvalidInput, match="VTT has no cues"):
        parse(K.VTT, b"WEBVTT\n\nNOTE nothing here\n")


def test_not_vtt_is_invalid_with_reason() -> None:
    with pytest.raises(InvalidInput, match="WEBVTT"):
        parse(K.VTT, b"just some words\n")


def test_empty_file_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        parse(K.VTT, b"  \n")


# --------------------------------------------------------------------------- SRT


def test_srt_keeps_seconds() -> None:
    data = (
        b"\xef\xbb\xbf1\r\n00:00:01,000 --> 00:00:02,500\r\nHi <i>there</i>.\r\n\r\n"
        b"2\r\n00:01:01,250 --> 00:01:03,000\r\nSecond cue,\r\ntwo lines.\r\n"
    )
    doc = parse(K.SRT, data)
    assert [(s.text, s.start_s, s.end_s) for s in doc.segments] == [
        ("Hi there.", 1.0, 2.5),
        ("Second cue, two lines.", 61.25, 63.0),
    ]


def test_srt_garbage_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="SRT could not be read"):
        parse(K.SRT, b"this is not a subtitle file\n")


# --------------------------------------------------------------------------- YouTube JSON


def test_youtube_json_list_keeps_seconds() -> None:
    data = json.dumps(
        [
            {"text": "[Music]", "start": 0.0, "duration": 2.0},
            {"text": "it&#39;s   a\ntest", "start": 2.12, "duration": 3.3},
            {"text": "", "start": 5.0, "duration": 1.0},
            {"text": "second", "start": "65.5", "duration": 2},
        ]
    ).encode()
    segments = parse(K.YOUTUBE_JSON, data).segments
    assert [(s.text, s.start_s, s.end_s) for s in segments] == [
        ("it's a test", 2.12, 5.42),
        ("second", 65.5, 67.5),
    ]


def test_youtube_json_wrapped_and_json3_events() -> None:
    wrapped = json.dumps({"transcript": [{"text": "hi", "start": 1, "duration": 1}]})
    assert parse(K.YOUTUBE_JSON, wrapped.encode()).segments == [Segment("hi", 1.0, 2.0)]
    json3 = json.dumps(
        {
            "events": [
                {"tStartMs": 0, "dDurationMs": 500},
                {
                    "tStartMs": 1500,
                    "dDurationMs": 2000,
                    "segs": [{"utf8": "one "}, {"utf8": "two"}],
                },
                {"tStartMs": 3600, "segs": [{"utf8": "\n"}]},
            ]
        }
    )
    assert parse(K.YOUTUBE_JSON, json3.encode()).segments == [Segment("one two", 1.5, 3.5)]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"a": 1}', "must be a list"),
        (b"[]", "no entries with text"),
        (b'[{"text": "x"}]', "entry 1 \\(line 1\\): 'start' is missing"),
        (b'[{"text": "x", "start": "soon"}]', "'start' must be a number of seconds"),
        (b'[{"text": "x", "start": -1}]', "'start' must be a number of seconds"),
        (b"[1, 2]", "entry 1 \\(line 1\\): not an object"),
    ],
)
def test_youtube_json_invalid(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        parse(K.YOUTUBE_JSON, data)


def test_youtube_json_errors_name_the_format_the_entry_its_line_and_the_field() -> None:
    """Issue 15: a bad value is reported as what it is, where it is."""
    data = b'[\n  {"text": "Hello", "start": 0, "duration": 1},\n  {"text": "x", "start": 2},\n'
    data += b'  {"text": "Bad", "start": "abc", "duration": 1}\n]\n'
    with pytest.raises(InvalidInput) as caught:
        parse(K.YOUTUBE_JSON, data)
    assert caught.value.message == (
        "YouTube JSON transcript could not be read: entry 3 (line 4): 'start' must be a "
        "number of seconds, 0 or more (got 'abc')"
    )
    nested = b'{"transcript": [\n{"text": "a", "start": 1},\n{"text": "b"}]}'
    with pytest.raises(InvalidInput, match=r"entry 2 \(line 3\): 'start' is missing"):
        parse(K.YOUTUBE_JSON, nested)


# --------------------------------------------------------------------------- Markdown

MARKDOWN = b"""---
title: front matter is not content
---
Intro before any heading.

# Guide

Welcome text.

## Setup

### Wiring ###

Connect the red wire.
It goes to pin 3.

```bash
# this is a comment, not a heading

make install
```

## Use

- item one
- item two

Troubleshooting
---------------

Setext heading body.

# Appendix
Last words.
"""


def test_markdown_heading_paths_and_blocks() -> None:
    segments = parse(K.MARKDOWN, MARKDOWN).segments
    pairs = [(s.heading, s.text) for s in segments]
    assert pairs == [
        ("", "Intro before any heading."),
        ("Guide", "Welcome text."),
        ("Guide > Setup > Wiring", "Connect the red wire.\nIt goes to pin 3."),
        (
            "Guide > Setup > Wiring",
            "```bash\n# this is a comment, not a heading\n\nmake install\n```",
        ),
        ("Guide > Use", "- item one\n- item two"),
        ("Guide > Troubleshooting", "Setext heading body."),
        ("Appendix", "Last words."),
    ]
    assert all(s.start_s is None and s.page is None for s in segments)


def test_markdown_unclosed_code_fence_keeps_rest_as_code() -> None:
    segments = parse(K.MARKDOWN, b"# A\n\n```\ncode\n# not heading\n").segments
    assert segments == [Segment("```\ncode\n# not heading", heading="A")]


def test_markdown_only_headings_is_not_empty() -> None:
    segments = parse(K.MARKDOWN, b"# One\n## Two\n").segments
    assert [(s.heading, s.text) for s in segments] == [("One", "One"), ("One > Two", "Two")]


def test_markdown_blank_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="Markdown has no text"):
        parse(K.MARKDOWN, b"---\na: 1\n---\n\n")


# --------------------------------------------------------------------------- text & decoding


def test_text_paragraphs() -> None:
    data = "First para\nstill first.\n\n \n\nSecond — with UTF-8.\n".encode()
    assert [s.text for s in parse(K.TEXT, data).segments] == [
        "First para\nstill first.",
        "Second — with UTF-8.",
    ]


def test_utf16_with_bom_is_accepted() -> None:
    data = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHé\n".encode("utf-16")
    assert parse(K.VTT, data).segments[0].text == "Hé"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"caf\xe9 latin-1", "not valid UTF-8"),
        (b"abc\x00def", "binary"),
    ],
)
def test_undecodable_text_is_invalid(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        parse(K.TEXT, data)


# --------------------------------------------------------------------------- PDF


def test_pdf_pages_are_one_based_and_blank_pages_skipped() -> None:
    data = make_pdf([["Page one text.", "Second line (with parens)."], [], ["Third page."]])
    doc = parse(K.PDF, data)
    assert [(s.page, s.text) for s in doc.segments] == [
        (1, "Page one text.\nSecond line (with parens)."),
        (3, "Third page."),
    ]
    assert not doc.is_transcript


def test_corrupt_pdf_is_invalid_with_reason() -> None:
    with pytest.raises(InvalidInput, match="PDF could not be read: "):
        parse(K.PDF, b"%PDF-1.4\n1 0 obj\n<< garbage")


def test_truncated_pdf_is_invalid() -> None:
    data = make_pdf([["Some text."]])
    with pytest.raises(InvalidInput, match="PDF"):
        parse(K.PDF, data[: len(data) // 3])


def test_pdf_without_text_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="no extractable text"):
        parse(K.PDF, make_pdf([[], []]))


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("talk.VTT", b"", K.VTT),
        ("talk.srt", b"", K.SRT),
        ("talk.json", b"", K.YOUTUBE_JSON),
        ("guide.md", b"", K.MARKDOWN),
        ("notes.txt", b"WEBVTT", K.TEXT),  # extension wins
        ("manual.pdf", b"", K.PDF),
        ("upload", b"\xef\xbb\xbfWEBVTT\n\n", K.VTT),
        ("upload", b"1\n00:00:01,000 --> 00:00:02,000\nhi\n", K.SRT),
        ("upload", b' [{"text": "a", "start": 0}]', K.YOUTUBE_JSON),
        ("upload", b"%PDF-1.7\n\xff\xfe binary", K.PDF),
        ("upload", b"# Title\n\nbody", K.MARKDOWN),
        ("upload", b"plain words", K.TEXT),
        ("upload.bin", b"[not json", K.TEXT),
    ],
)
def test_detect_kind(name: str, data: bytes, kind: DocumentKind) -> None:
    assert detect_kind(name, data) is kind


def test_detect_kind_rejects_binary() -> None:
    with pytest.raises(InvalidInput, match="Unsupported file type"):
        detect_kind("photo", b"\x89PNG\r\n\x1a\n\xff\xd8\xff")


# --------------------------------------------------------------------------- demo corpus


def _demo_manifest() -> list[dict[str, str]]:
    manifest = json.loads((files("creator_chat") / "demo" / "manifest.json").read_text())
    docs: list[dict[str, str]] = manifest["documents"]
    return docs


def test_demo_corpus_parses_and_kinds_match_detection() -> None:
    demo = files("creator_chat") / "demo"
    docs = _demo_manifest()
    kinds = {DocumentKind(d["kind"]) for d in docs}
    assert {K.VTT, K.MARKDOWN} <= kinds and kinds & {K.SRT, K.YOUTUBE_JSON}
    assert sum(DocumentKind(d["kind"]) is K.VTT for d in docs) >= 3
    for d in docs:
        data = (demo / d["file"]).read_bytes()
        kind = DocumentKind(d["kind"])
        assert detect_kind(d["file"], data) is kind
        doc = parse(kind, data)
        assert isinstance(doc, ParsedDocument) and doc.segments
        if doc.is_transcript:
            starts = [s.start_s or 0.0 for s in doc.segments]
            assert starts == sorted(starts)
            duration = doc.segments[-1].end_s or 0.0
            lower = 240 if kind is K.VTT else 180
            assert lower <= duration <= 480, (d["file"], duration)
            assert d["source_url"] == f"https://www.youtube.com/watch?v={d['video_id']}"
            assert len(d["video_id"]) == 11
        else:
            assert d["video_id"] is None and d["source_url"].startswith("https://")


def test_demo_creator_profile() -> None:
    creator = json.loads((files("creator_chat") / "demo" / "creator.json").read_text())
    assert set(creator) == {"slug", "name", "persona", "specialty", "description"}
    assert all(isinstance(v, str) and v for v in creator.values())

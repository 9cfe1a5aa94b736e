"""Content ingestion: parse uploaded bytes into segments, then chunk them for retrieval."""

from creator_chat.content.chunking import chunk_document, estimate_tokens
from creator_chat.content.parsers import (
    ParsedDocument,
    Segment,
    decode_text,
    detect_kind,
    parse,
)

__all__ = [
    "ParsedDocument",
    "Segment",
    "chunk_document",
    "decode_text",
    "detect_kind",
    "estimate_tokens",
    "parse",
]

"""Domain entities. Every entity names the tenant (creator) and/or user it belongs to."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    FAN = "fan"
    CREATOR = "creator"
    ADMIN = "admin"


class Tier(StrEnum):
    FREE = "free"
    PREMIUM = "premium"
    ENTERPRISE = "enterprise"


@dataclass(frozen=True)
class Identity:
    """Who is calling, as established by the authorizer."""

    user_id: str
    role: Role
    tier: Tier
    creator_id: str | None = None  # set for role creator: the creator it manages
    session_id: str | None = None

    def can_manage_creator(self, creator_id: str) -> bool:
        return self.role is Role.ADMIN or (
            self.role is Role.CREATOR and self.creator_id == creator_id
        )


@dataclass
class Creator:
    creator_id: str
    slug: str
    name: str
    persona: str = ""
    specialty: str = ""
    description: str = ""
    active: bool = True
    content_version: int = 0
    created_at: int = 0
    updated_at: int = 0


# what a creator's profile edit may change (never the id, the slug or the content version)
PROFILE_FIELDS = frozenset({"name", "persona", "specialty", "description", "active"})


@dataclass
class Thread:
    thread_id: str
    user_id: str
    creator_id: str
    created_at: int
    last_activity_at: int
    expires_at: int
    title: str = ""
    last_video_id: str | None = None
    message_count: int = 0


class MessageStatus(StrEnum):
    PENDING = "pending"
    ANSWERED = "answered"
    FAILED = "failed"


@dataclass
class Citation:
    n: int
    title: str
    url: str
    snippet: str
    document_id: str = ""
    chunk_id: str = ""
    start_s: float | None = None
    page: int | None = None


@dataclass
class Message:
    message_id: str
    thread_id: str
    user_id: str
    creator_id: str
    role: str  # "user" | "assistant"
    content: str
    created_at: int
    status: MessageStatus = MessageStatus.ANSWERED
    reply_to: str | None = None
    citations: list[Citation] = field(default_factory=list)
    failure_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    video_id: str | None = None


@dataclass
class Session:
    session_id: str
    user_id: str
    created_at: int
    expires_at: int
    revoked: bool = False


class DocumentStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class DocumentKind(StrEnum):
    VTT = "vtt"
    SRT = "srt"
    YOUTUBE_JSON = "youtube_json"
    MARKDOWN = "markdown"
    TEXT = "text"
    PDF = "pdf"


@dataclass
class Document:
    creator_id: str
    document_id: str
    title: str
    kind: DocumentKind
    content_hash: str
    status: DocumentStatus
    created_at: int
    updated_at: int
    source_url: str = ""
    video_id: str | None = None
    blob_key: str = ""
    job_id: str = ""
    chunk_count: int = 0
    failure_reason: str | None = None
    size_bytes: int = 0
    # the creator's labels (a playlist, a course module), copied onto every chunk: what a
    # search's ``SearchFilters.tags`` matches (``clean_tags`` says what a tag may be)
    tags: list[str] = field(default_factory=list)


MAX_TAGS = 20
MAX_TAG_CHARS = 64
# 20 ASCII tags of 64 characters; what every vector index can hold next to a chunk's other
# filterable fields (S3 Vectors allows 2 KB of filterable metadata per vector)
MAX_TAG_BYTES = MAX_TAGS * MAX_TAG_CHARS
_TAG_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_tags(values: Iterable[str]) -> list[str]:
    """A document's tags as stored: each trimmed, 1..64 characters without control
    characters, duplicates dropped (first one kept), at most 20 and 1,280 bytes of UTF-8 in
    all; raises ``ValueError`` saying what is wrong. Tags match exactly (case-sensitive)."""
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise ValueError("a tag is a string")
        tag = value.strip()
        if not 1 <= len(tag) <= MAX_TAG_CHARS:
            raise ValueError(f"a tag is 1 to {MAX_TAG_CHARS} characters (after trimming)")
        if _TAG_CONTROL.search(tag):
            raise ValueError("a tag may not hold control characters")
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    if sum(len(t.encode()) for t in out) > MAX_TAG_BYTES:
        raise ValueError(f"the tags take more than {MAX_TAG_BYTES} bytes of UTF-8 in all")
    return out


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of one document of one creator."""

    chunk_id: str
    creator_id: str
    document_id: str
    text: str
    title: str
    source_url: str = ""
    kind: str = ""
    ordinal: int = 0
    start_s: float | None = None
    end_s: float | None = None
    page: int | None = None
    heading: str = ""
    video_id: str | None = None
    # transcripts: where each cue starts in ``text`` and the second it starts at, so a
    # citation opens the video where the supporting sentence is said (not at the chunk start)
    cue_offsets: tuple[int, ...] | None = None
    cue_starts: tuple[float, ...] | None = None
    tags: tuple[str, ...] = ()  # the document's tags (``Document.tags``)

    def __post_init__(self) -> None:
        # stored as JSON lists: kept as tuples, so a chunk stays hashable
        for name in ("cue_offsets", "cue_starts"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        if not isinstance(self.tags, tuple):
            object.__setattr__(self, "tags", tuple(self.tags or ()))


@dataclass(frozen=True)
class SearchFilters:
    """What a search may return, beyond its creator: a chunk matches when its video is one of
    ``video_ids``, its document's kind one of ``kinds`` (``DocumentKind`` values) and it has
    any of ``tags``; the facets are AND-ed, an empty facet does not restrict. Each facet is
    kept sorted and without duplicates, so equal filters are equal values (cache keys, job
    bodies). A filter only ever narrows one creator's chunks: it never names a creator."""

    video_ids: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("video_ids", "kinds", "tags"):
            values = getattr(self, name) or ()
            if isinstance(values, str):
                raise TypeError(f"{name} is a sequence of strings, not a string")
            object.__setattr__(self, name, tuple(sorted({str(v) for v in values})))
        unknown = set(self.kinds) - {k.value for k in DocumentKind}
        if unknown:
            raise ValueError(f"unknown document kind: {', '.join(sorted(unknown))}")

    def __bool__(self) -> bool:
        return bool(self.video_ids or self.kinds or self.tags)

    def matches(self, chunk: Chunk) -> bool:
        return (
            (not self.video_ids or chunk.video_id in self.video_ids)
            and (not self.kinds or chunk.kind in self.kinds)
            and (not self.tags or any(t in self.tags for t in chunk.tags))
        )

    def to_json(self) -> dict[str, list[str]]:
        """Only the facets set, each sorted: the canonical form (``from_json`` reads it)."""
        return {
            name: list(getattr(self, name))
            for name in ("video_ids", "kinds", "tags")
            if getattr(self, name)
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> SearchFilters | None:
        """The filters of ``to_json`` (a queued chat's job); ``None`` for none or empty."""
        if not data:
            return None
        filters = cls(
            video_ids=tuple(data.get("video_ids") or ()),
            kinds=tuple(data.get("kinds") or ()),
            tags=tuple(data.get("tags") or ()),
        )
        return filters or None


@dataclass(frozen=True)
class SearchHit:
    chunk: Chunk
    score: float  # the hybrid (k-NN + keyword) score, normalised to [0, 1]: ranks hits
    similarity: float = 0.0  # the chunk's raw cosine to the query: what a floor compares


@dataclass
class Connection:
    """An open WebSocket connection (streamed answers): who opened it, under which session.
    Kept until the socket closes, at most ``expires_at`` (API Gateway closes a WebSocket
    after 2 hours)."""

    connection_id: str
    user_id: str
    session_id: str
    role: str
    tier: str
    connected_at: int
    expires_at: int
    creator_id: str | None = None


@dataclass
class Usage:
    user_id: str
    month: str  # YYYY-MM
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    # the month's token budget: tokens of settled answers counted against it (their input +
    # output, each capped at what the answer had reserved), and tokens reserved by answers
    # still being generated (see ``TokenHold``)
    charged_tokens: int = 0
    reserved_tokens: int = 0


@dataclass(frozen=True)
class TokenHold:
    """Tokens of a user's monthly budget reserved for one answer until it is settled (its
    actual tokens charged, the rest given back) or released (nothing generated). A hold that
    nobody settled by ``expires_at`` (its process died) is given back by the next refused
    reservation of that user and month."""

    user_id: str
    month: str  # YYYY-MM: the budget it was taken from, wherever the answer is settled
    hold_id: str
    tokens: int
    expires_at: int

    def to_json(self) -> dict[str, Any]:
        """For a queued answer's job body (``from_json`` reads it back in the worker)."""
        return {
            "user_id": self.user_id,
            "month": self.month,
            "hold_id": self.hold_id,
            "tokens": self.tokens,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> TokenHold | None:
        if not data:
            return None
        return cls(
            user_id=str(data["user_id"]),
            month=str(data["month"]),
            hold_id=str(data["hold_id"]),
            tokens=int(data["tokens"]),
            expires_at=int(data["expires_at"]),
        )


@dataclass(frozen=True)
class BudgetDecision:
    """A reservation's outcome: ``hold`` when admitted; either way the month's counters as
    they stand after it (``used`` = charged tokens, ``reserved`` = held in flight)."""

    allowed: bool
    budget: int
    used: int
    reserved: int
    hold: TokenHold | None = None

    @property
    def left(self) -> int:
        return max(0, self.budget - self.used - self.reserved)


@dataclass
class Feedback:
    message_id: str
    user_id: str
    creator_id: str
    thread_id: str
    rating: str  # "up" | "down"
    comment: str = ""
    created_at: int = 0


@dataclass
class FanProfile:
    user_id: str
    channel_name: str = ""
    subscriber_count: int | None = None
    content_type: str = ""
    goals: str = ""
    equipment: str = ""
    updated_at: int = 0


@dataclass(frozen=True)
class QuotaDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int
    retry_after_s: int


@dataclass
class Generation:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    model_id: str = ""
    cited: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class AuditEntry:
    actor_id: str
    action: str
    target: str
    outcome: str
    request_id: str
    at: int
    detail: dict[str, Any] = field(default_factory=dict)


class ExportStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


@dataclass
class ExportJob:
    """A GDPR export too large to answer inline: built by the export worker into one file
    (``blob_key`` in the exports store), readable by its user alone until ``expires_at``."""

    export_id: str
    user_id: str
    status: ExportStatus
    created_at: int
    updated_at: int
    expires_at: int
    blob_key: str = ""
    size_bytes: int = 0
    failure_reason: str | None = None

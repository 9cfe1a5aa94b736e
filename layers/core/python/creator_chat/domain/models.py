"""Domain entities. Every entity names the tenant (creator) and/or user it belongs to."""

from __future__ import annotations

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

    def __post_init__(self) -> None:
        # stored as JSON lists: kept as tuples, so a chunk stays hashable
        for name in ("cue_offsets", "cue_starts"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))


@dataclass(frozen=True)
class SearchHit:
    chunk: Chunk
    score: float  # the hybrid (k-NN + keyword) score, normalised to [0, 1]: ranks hits
    similarity: float = 0.0  # the chunk's raw cosine to the query: what a floor compares


@dataclass
class Usage:
    user_id: str
    month: str  # YYYY-MM
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


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

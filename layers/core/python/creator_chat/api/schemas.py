"""Request and response models at the HTTP edge (pydantic v2)."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from creator_chat.domain.models import (
    MAX_TAG_CHARS,
    MAX_TAGS,
    Citation,
    Creator,
    DocumentKind,
    Message,
    SearchFilters,
    Thread,
    clean_tags,
)

# An unpaired surrogate cannot be encoded as UTF-8: it would fail deep in a store or a hash,
# as a 500. Control characters (C0 but tab, newline and carriage return; DEL; C1; NUL
# included) are never meaningful in a message, a title or a name.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class Strict(BaseModel):
    """Every request body: unknown fields are rejected (a typo is a 422, not a silent
    default), surrounding whitespace is stripped, text is valid Unicode and holds no control
    characters but tab, newline and carriage return — except ``free_text`` fields (a
    document's content: a form feed between pages, a NUL in a corrupt file the worker will
    reject with a reason)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    free_text: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any, info: Any) -> Any:
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise ValueError("unpaired surrogates are not valid Unicode text")
            if info.field_name not in cls.free_text and _CONTROL.search(value):
                raise ValueError("control characters (NUL, ESC, ...) are not allowed")
        return value


class ErrorDetail(BaseModel):
    code: str
    message: str
    request_id: str


class ErrorOut(BaseModel):
    """Every error the API answers itself."""

    error: ErrorDetail


class RateLimitedDetail(ErrorDetail):
    """``quota_exceeded`` (the hourly limit: see the ``X-RateLimit-*`` headers) or
    ``token_budget_exceeded`` (the monthly token budget, with the fields below)."""

    token_budget: int | None = None
    tokens_used: int | None = None
    tokens_reserved: int | None = None
    tokens_left: int | None = None
    reset_epoch: int | None = None
    reset_at: str | None = None


class RateLimitedOut(BaseModel):
    """A 429: retry after ``Retry-After`` seconds."""

    error: RateLimitedDetail


class GatewayErrorOut(BaseModel):
    """API Gateway's own error body: no token (401), the authorizer denied (403), or a
    request over its payload limit (413), before any function runs."""

    message: str


class CreatorOut(BaseModel):
    creator_id: str
    slug: str
    name: str
    persona: str
    specialty: str
    description: str
    active: bool
    content_version: int

    @classmethod
    def of(cls, c: Creator) -> CreatorOut:
        return cls(
            creator_id=c.creator_id,
            slug=c.slug,
            name=c.name,
            persona=c.persona,
            specialty=c.specialty,
            description=c.description,
            active=c.active,
            content_version=c.content_version,
        )


class CreatorList(BaseModel):
    creators: list[CreatorOut]


class CreatorCreate(Strict):
    # the same rule as the use case's, checked here so a bad slug is a 422 like any field
    slug: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")
    name: str = Field(min_length=1, max_length=200)
    persona: str = Field("", max_length=4000)
    specialty: str = Field("", max_length=500)
    description: str = Field("", max_length=4000)


class CreatorUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    persona: str | None = Field(None, max_length=4000)
    specialty: str | None = Field(None, max_length=500)
    description: str | None = Field(None, max_length=4000)
    active: bool | None = Field(None, strict=True)


class ThreadOut(BaseModel):
    thread_id: str
    creator_id: str
    title: str
    created_at: int
    last_activity_at: int
    expires_at: int
    message_count: int
    last_video_id: str | None

    @classmethod
    def of(cls, t: Thread) -> ThreadOut:
        return cls(
            thread_id=t.thread_id,
            creator_id=t.creator_id,
            title=t.title,
            created_at=t.created_at,
            last_activity_at=t.last_activity_at,
            expires_at=t.expires_at,
            message_count=t.message_count,
            last_video_id=t.last_video_id,
        )


class ThreadList(BaseModel):
    threads: list[ThreadOut]


class CitationOut(BaseModel):
    n: int
    title: str
    url: str
    snippet: str
    start_s: float | None = None
    page: int | None = None
    document_id: str = ""

    @classmethod
    def of(cls, c: Citation) -> CitationOut:
        return cls(
            n=c.n,
            title=c.title,
            url=c.url,
            snippet=c.snippet,
            start_s=c.start_s,
            page=c.page,
            document_id=c.document_id,
        )


class MessageOut(BaseModel):
    message_id: str
    thread_id: str
    role: Literal["user", "assistant"]
    content: str
    status: Literal["pending", "answered", "failed"]
    created_at: int
    reply_to: str | None = None
    citations: list[CitationOut] = []
    failure_reason: str | None = None

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        return cls(
            message_id=m.message_id,
            thread_id=m.thread_id,
            role=m.role,
            content=m.content,
            status=m.status.value,
            created_at=m.created_at,
            reply_to=m.reply_to,
            citations=[CitationOut.of(c) for c in m.citations],
            failure_reason=m.failure_reason,
        )


class MessageList(BaseModel):
    messages: list[MessageOut]


class DependencyHealth(BaseModel):
    name: str
    ok: bool
    latency_ms: float
    detail: str = ""


class DeepHealth(BaseModel):
    ok: bool
    dependencies: list[DependencyHealth]


# A document's tags, and a filter's: each 1..64 characters once trimmed, no control
# characters, at most 20 (duplicates dropped), 1,280 bytes of UTF-8 in all (``clean_tags``,
# whose ValueError is the 422's message). The bounds here only cap the work before it.
Tags = Annotated[
    list[Annotated[str, Field(max_length=4 * MAX_TAG_CHARS)]],
    Field(max_length=4 * MAX_TAGS),
    AfterValidator(clean_tags),
]
VideoId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class FiltersIn(Strict):
    """Narrows a search or a chat to chunks matching every facet given: its video is one of
    ``video_ids``, its document's ``kind`` one of ``kinds``, and it has any of ``tags``. An
    empty (or missing) facet does not restrict; nothing outside the creator is reachable."""

    video_ids: list[VideoId] = Field(default_factory=list, max_length=50)
    kinds: list[DocumentKind] = Field(default_factory=list, max_length=len(DocumentKind))
    tags: Tags = Field(default_factory=list)

    def to_domain(self) -> SearchFilters | None:
        filters = SearchFilters(
            video_ids=tuple(self.video_ids),
            kinds=tuple(k.value for k in self.kinds),
            tags=tuple(self.tags),
        )
        return filters or None


class ChatIn(Strict):
    message: str = Field(min_length=1, max_length=4000)
    thread_id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    video_id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    mode: Literal["sync", "async"] = "sync"
    # restricts the sources of this answer (not the thread's later turns)
    filters: FiltersIn | None = None


class ChatOut(BaseModel):
    status: Literal["answered", "pending", "failed"]
    answer: str
    thread_id: str
    message_id: str
    citations: list[CitationOut]
    cached: bool
    status_url: str | None = None
    failure_reason: str | None = None


class ProfileIn(Strict):
    channel_name: str = Field("", max_length=200)
    subscriber_count: int | None = Field(None, ge=0, le=10_000_000_000, strict=True)
    content_type: str = Field("", max_length=200)
    goals: str = Field("", max_length=1000)
    equipment: str = Field("", max_length=1000)


class ProfileOut(ProfileIn):
    model_config = ConfigDict(extra="ignore")
    updated_at: int = 0


class FeedbackIn(Strict):
    rating: Literal["up", "down"]
    comment: str = Field("", max_length=2000)


class TrendingQuestion(BaseModel):
    question: str
    asked: int


class TrendingOut(BaseModel):
    creator_id: str
    questions: list[TrendingQuestion]


class UsageOut(BaseModel):
    """A month of the caller's usage (UTC calendar month) and its token budget."""

    month: str
    requests: int
    input_tokens: int
    output_tokens: int
    # the budget (the caller's tier's, as of now) and what was counted against it
    token_budget: int
    tokens_used: int = Field(description="charged to the budget by answers settled")
    tokens_reserved: int = Field(description="held by answers being generated right now")
    tokens_left: int = Field(description="token_budget - tokens_used - tokens_reserved")
    reset_epoch: int = Field(description="when the budget resets: the next month's start")
    reset_at: str = Field(description="reset_epoch as ISO-8601 UTC")


class ExportOut(BaseModel):
    """A GDPR export job: ``pending`` until the worker has built its file, then ``ready`` with
    a short-lived ``download_url`` (ask the status URL again for a fresh one), or ``failed``."""

    export_id: str
    status: Literal["pending", "ready", "failed"]
    status_url: str
    created_at: int
    expires_at: int
    size_bytes: int | None = None
    download_url: str | None = None
    download_expires_at: int | None = None
    failure_reason: str | None = None

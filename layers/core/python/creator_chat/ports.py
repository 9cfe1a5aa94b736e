"""Ports: what the use cases need from the outside world, as small Protocols.

Each has one adapter per real service (DynamoDB, OpenSearch, Redis, SQS, S3, Bedrock) and,
where no service exists locally, an embedded default (local embedder/index/generator, an
in-process cache). Use cases depend on these, never on boto3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from creator_chat.domain.insights import QuestionGroup
from creator_chat.domain.models import (
    AuditEntry,
    BudgetDecision,
    Chunk,
    Connection,
    Creator,
    Document,
    DocumentStatus,
    ExportJob,
    ExportStatus,
    FanProfile,
    Feedback,
    Generation,
    Message,
    QuotaDecision,
    SearchFilters,
    SearchHit,
    Session,
    Thread,
    TokenHold,
    Usage,
)


class Clock(Protocol):
    """Wall-clock time in epoch seconds; injectable so tests never sleep."""

    def now(self) -> float: ...


class CreatorStore(Protocol):
    """Creators (tenants) and their content version."""

    def update_creator(
        self, creator_id: str, changes: Mapping[str, Any], *, updated_at: int
    ) -> Creator:
        """Write only the profile fields in ``changes`` (name, persona, specialty, description,
        active) and return the creator as stored; ``NotFound`` if there is none. The slug never
        changes and the content version only moves by ``bump_content_version``."""
        ...

    def create_creator(self, creator: Creator) -> None:
        """Insert; raises Conflict if the id or slug is taken."""
        ...

    def get_creator(self, creator_id: str) -> Creator | None: ...
    def get_creator_by_slug(self, slug: str) -> Creator | None: ...
    def list_creators(self, *, active_only: bool = True) -> list[Creator]: ...
    def bump_content_version(self, creator_id: str) -> int: ...


class ThreadStore(Protocol):
    """Threads and their messages; every read is scoped by the owning user."""

    def create_thread(self, thread: Thread, first: Message) -> None:
        """Store a new thread together with its first message (never an empty thread)."""
        ...

    def get_thread(self, thread_id: str) -> Thread | None: ...
    def find_latest_thread(self, user_id: str, creator_id: str) -> Thread | None: ...
    def list_threads(self, user_id: str, *, limit: int = 50) -> list[Thread]: ...
    def append_message(self, thread: Thread, message: Message) -> None:
        """Write the message and refresh the thread's activity and TTL."""
        ...

    def update_message(self, message: Message) -> None: ...
    def get_message(self, thread_id: str, message_id: str) -> Message | None: ...
    def find_message(self, message_id: str) -> Message | None: ...
    def list_messages(self, thread_id: str, *, limit: int = 100) -> list[Message]:
        """Messages in chronological order (oldest first)."""
        ...

    def list_user_messages(self, user_id: str) -> list[Message]:
        """Every message of every live thread of this user, by thread id then oldest first:
        a few queries whatever the number of threads (the GDPR export)."""
        ...

    def recent_messages(self, thread_id: str, n: int) -> list[Message]:
        """The last ``n`` messages, oldest first."""
        ...

    def set_last_video(self, thread_id: str, video_id: str) -> None: ...
    def put_feedback(self, feedback: Feedback) -> Feedback | None:
        """One rating per (message, user): rating again replaces it. Returns the rating it
        replaced, if any (the creator's weekly counts move it)."""
        ...

    def list_feedback(self, user_id: str) -> list[Feedback]: ...
    def delete_user_data(self, user_id: str) -> int:
        """Every thread, message and feedback of this user, expired or not (erasure)."""
        ...


class SessionStore(Protocol):
    """Sessions by id, with a TTL."""

    def put_session(self, session: Session, *, replace: bool = False) -> None:
        """Create a session (``Conflict`` if its id exists, unless ``replace``)."""
        ...

    def get_session(self, session_id: str) -> Session | None: ...
    def get_sessions(self, session_ids: Sequence[str]) -> dict[str, Session]:
        """The live sessions among ``session_ids``, by id, in one round trip."""
        ...

    def revoke_session(self, session_id: str, user_id: str) -> bool: ...
    def list_sessions(self, user_id: str) -> list[Session]: ...
    def revoke_user_sessions(self, user_id: str, *, new_owner: str) -> int:
        """Revoke every session of the user and hand them to ``new_owner`` (a pseudonym):
        they stay, revoked, until they expire; the user's own list no longer shows them."""
        ...


class RateLimiter(Protocol):
    """Fixed-window counters: atomically admit one request or refuse it."""

    def hit(self, key: str, *, limit: int, window_s: int) -> QuotaDecision: ...
    def delete_user_counters(self, user_id: str) -> int:
        """Every counter of the user's chat quota (keys ``chat:<user_id>``)."""
        ...


class DocumentStore(Protocol):
    """Documents of a creator and their ingest status; idempotent by content hash."""

    def put_document(self, doc: Document) -> None: ...
    def claim_content_hash(self, creator_id: str, content_hash: str, document_id: str) -> str:
        """Atomically claim a hash; returns the document id holding it (ours or an existing)."""
        ...

    def release_content_hash(self, creator_id: str, content_hash: str) -> None: ...
    def get_document(self, creator_id: str, document_id: str) -> Document | None: ...
    def list_documents(self, creator_id: str) -> list[Document]: ...
    def set_status(
        self,
        creator_id: str,
        document_id: str,
        status: DocumentStatus,
        *,
        chunk_count: int | None = None,
        failure_reason: str | None = None,
        expected: Sequence[DocumentStatus] | None = None,
        job_id: str | None = None,
    ) -> bool:
        """Set the status; ``False`` (and nothing written) when the document is missing, is
        in a status outside ``expected``, or no longer belongs to ``job_id`` (a newer version
        was posted: its job, not this one, owns the document now)."""
        ...

    def delete_document(self, creator_id: str, document_id: str) -> None: ...


class UsageStore(Protocol):
    """Per-user usage per month (with the month's token budget), profiles and feedback."""

    def add_usage(
        self, user_id: str, month: str, *, requests: int, input_tokens: int, output_tokens: int
    ) -> None:
        """Count an answer that reserved nothing (a cached reply): no budget is charged."""
        ...

    def reserve_tokens(
        self,
        user_id: str,
        month: str,
        *,
        hold_id: str,
        tokens: int,
        budget: int,
        expires_at: int,
    ) -> BudgetDecision:
        """Atomically hold ``tokens`` of the month's ``budget`` if charged + reserved +
        ``tokens`` stays within it (N parallel calls admit exactly as many as fit); refused,
        nothing is written — unless holds of this user and month that expired by now are
        given back first, and the reservation then fits."""
        ...

    def settle_tokens(self, hold: TokenHold, *, input_tokens: int, output_tokens: int) -> bool:
        """Count one answer and free its hold at once: the request and its tokens are added,
        the budget is charged ``min(input + output, hold.tokens)``. ``False`` (nothing
        written) when the hold is gone: settled or released already, expired and given back,
        or the user erased."""
        ...

    def release_tokens(self, hold: TokenHold) -> bool:
        """Give a hold back, charging nothing (no answer was generated); ``False`` when it
        is gone (as ``settle_tokens``)."""
        ...

    def get_usage(self, user_id: str, month: str) -> Usage: ...
    def list_usage(self, user_id: str) -> list[Usage]: ...
    def put_profile(self, profile: FanProfile) -> None: ...
    def get_profile(self, user_id: str) -> FanProfile | None: ...
    def delete_user(self, user_id: str) -> int:
        """The user's profile and usage; returns how many records went."""
        ...


class TrendingStore(Protocol):
    """Counts of normalised questions per creator and week; a question is shown only once
    enough different fans (``asker`` pseudonyms) have asked it."""

    def record_question(self, creator_id: str, week: str, question: str, asker: str) -> None: ...
    def top_questions(self, creator_id: str, week: str, *, limit: int) -> list[tuple[str, int]]: ...
    def week_secret(self, week: str, *, expires_at: int) -> bytes:
        """The week's random key for asker pseudonyms, created on first use and discarded
        once it expires (a later week never sees it): a fan's markers of past weeks can no
        longer be linked to the fan by anyone, the operator included."""
        ...


class QuestionGroupStore(Protocol):
    """A creator's fans' questions grouped by meaning, per kind (``gap``: not answered from
    the content; ``down``: an answer rated down). Like trending, a group's wording is stored
    only once ``min_fans`` different fans (``asker`` pseudonyms, one per fan and week) asked
    it within one week; a group expires 90 days after its last asking."""

    min_fans: int

    def record(
        self,
        creator_id: str,
        kind: str,
        vector: Sequence[float],
        question: str,
        *,
        week: str,
        asker: str,
        asker_expires_at: int,
    ) -> str:
        """One asking of ``question`` (unit ``vector``): it joins the live group whose
        centroid is nearest at the store's similarity threshold or above (the centroid moves
        toward it), else starts a new one; the asker counts once per group and week. Returns
        the group's id."""
        ...

    def list_groups(self, creator_id: str, kind: str, *, limit: int) -> list[QuestionGroup]:
        """Live groups with their wording (``min_fans`` reached), last asked first."""
        ...


class CreatorStatsStore(Protocol):
    """Counters per (creator, UTC day) — questions, outcomes, cache hits, an answer-time
    histogram, ratings — that only add up; no user id. They expire 90 days after the day."""

    def add(self, creator_id: str, day: str, counts: Mapping[str, int]) -> None:
        """Add every count at once (a negative one takes back)."""
        ...

    def days(self, creator_id: str, first: str, last: str) -> dict[str, dict[str, int]]:
        """The counters of each live day from ``first`` to ``last`` (ISO dates, inclusive)
        that has any."""
        ...


class AuditLog(Protocol):
    """Who did what to which resource (refusals included), kept ~13 months."""

    def record(self, entry: AuditEntry) -> None: ...
    def entries_for(self, actor_id: str) -> list[AuditEntry]: ...
    def delete_actor(self, actor_id: str) -> int: ...


class ExportStore(Protocol):
    """GDPR export jobs, by (user, export id): another user's export reads as absent, and so
    does an expired one."""

    def create_export(self, job: ExportJob) -> None: ...
    def get_export(self, user_id: str, export_id: str) -> ExportJob | None: ...
    def list_exports(self, user_id: str, *, include_expired: bool = False) -> list[ExportJob]:
        """The user's exports, oldest first."""
        ...

    def set_status(
        self,
        user_id: str,
        export_id: str,
        status: ExportStatus,
        *,
        expected: Sequence[ExportStatus],
        blob_key: str | None = None,
        size_bytes: int | None = None,
        failure_reason: str | None = None,
    ) -> bool:
        """Move a live export from one of ``expected`` to ``status``; ``False`` (and nothing
        written) when it is missing, expired or in another status."""
        ...

    def delete_user_exports(self, user_id: str) -> int:
        """Every export record of the user, expired or not (erasure)."""
        ...


@dataclass(frozen=True)
class UploadForm:
    """How a client uploads one file: a ``multipart/form-data`` POST to ``url`` with every
    one of ``fields``, then the file itself as the last field, named ``file``."""

    url: str
    fields: dict[str, str]


class BlobStore(Protocol):
    """Raw uploaded content (S3)."""

    def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def presigned_get_url(self, key: str, *, expires_s: int) -> str:
        """A URL that downloads ``key`` without credentials until ``expires_s`` from now
        (S3's presigned GET; locally a signed URL of the gateway)."""
        ...

    def presigned_post(
        self, key: str, *, expires_s: int, content_type: str, max_bytes: int
    ) -> UploadForm:
        """A browser-style upload form for ``key`` (S3's presigned POST): it accepts one file
        of 1 to ``max_bytes`` bytes, of ``content_type``, until ``expires_s`` from now; a
        larger file is refused by the store itself and never stored."""
        ...

    def ping(self) -> bool:
        """The store is reachable (raises otherwise)."""
        ...


MAX_DELAY_S = 900  # SQS's longest DelaySeconds


class JobQueue(Protocol):
    """A work queue (SQS) feeding a worker handler."""

    def send(
        self, body: Mapping[str, Any], *, dedup_id: str | None = None, delay_s: int = 0
    ) -> str:
        """Queue a job; it is delivered no sooner than ``delay_s`` seconds from now (0 to
        ``MAX_DELAY_S``, SQS's ``DelaySeconds``) and survives a restart meanwhile."""
        ...

    def ping(self) -> bool:
        """The queue is reachable (raises otherwise)."""
        ...


class UnitOfWork(Protocol):
    """Writes that must land together: ``with uow():`` commits them as one transaction where
    the stores share a database (the embedded family), and is a plain block where they cannot
    (DynamoDB and OpenSearch: each write is atomic on its own, and the use case orders them so
    that a crash in between is repaired by a retry)."""

    def __call__(self) -> AbstractContextManager[object]: ...


class ConnectionStore(Protocol):
    """Open WebSocket connections by id (TTL ``expires_at``), and a user's connections."""

    def put_connection(self, connection: Connection) -> None: ...
    def get_connection(self, connection_id: str) -> Connection | None: ...
    def delete_connection(self, connection_id: str) -> None: ...
    def list_user_connections(self, user_id: str) -> list[Connection]: ...


class ConnectionSender(Protocol):
    """Pushes a JSON message down an open WebSocket connection (API Gateway's management
    API in AWS, the local gateway's socket locally)."""

    def send(self, connection_id: str, message: Mapping[str, Any]) -> bool:
        """``False`` when the connection is gone (the client left); other failures raise."""
        ...


class Embedder(Protocol):
    """Text → unit-length vectors of a fixed dimension."""

    @property
    def model_id(self) -> str: ...
    @property
    def dimension(self) -> int: ...
    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class Reranker(Protocol):
    """Orders retrieved hits by a model that reads the question with each one (a
    cross-encoder); keeps each hit's cosine (``similarity``) for the gate."""

    @property
    def model_id(self) -> str: ...
    def rerank(self, query: str, hits: Sequence[SearchHit], *, top_n: int) -> list[SearchHit]: ...


class VectorIndex(Protocol):
    """Chunks with vectors; every call is scoped to one creator."""

    def upsert(
        self, creator_id: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]
    ) -> None: ...
    def replace_document(
        self,
        creator_id: str,
        document_id: str,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]],
    ) -> None:
        """Swap a document's chunks for new ones; readers never see it with none."""
        ...

    def delete_document(self, creator_id: str, document_id: str) -> int: ...
    def search(
        self,
        creator_id: str,
        vector: Sequence[float],
        query_text: str,
        *,
        top_k: int,
        video_id: str | None = None,
        filters: SearchFilters | None = None,
    ) -> list[SearchHit]:
        """Hybrid (k-NN + keyword) search, best ``score`` first; each hit also carries its
        raw cosine (``similarity``) for a floor. ``video_id`` and ``filters`` narrow it: only
        chunks matching both are candidates of either half (never a filter applied after a
        top k), and the keyword scores are normalised among those."""
        ...

    def chunks_for_video(self, creator_id: str, video_id: str, *, limit: int) -> list[Chunk]: ...
    def count(self, creator_id: str, document_id: str | None = None) -> int: ...


class Generator(Protocol):
    """Answer from numbered sources; never invents content the sources do not hold."""

    @property
    def model_id(self) -> str: ...
    def generate(
        self,
        *,
        system: str,
        history: Sequence[Mapping[str, str]],
        question: str,
        sources: Sequence[Chunk],
        max_tokens: int,
    ) -> Generation: ...


class Cache(Protocol):
    """A best-effort key/value cache. Failures degrade to a miss, never an error."""

    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes, *, ttl_s: int) -> None: ...
    def delete(self, key: str) -> None: ...
    def ping(self) -> bool: ...

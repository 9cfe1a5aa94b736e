"""The one declaration of the product's AWS resources.

Both the local runtime (``creator_chat.local``) and the CDK app (``infra_cdk``) read this
module, so tables, queues, buckets, routes and worker wiring cannot drift between a laptop
and AWS. Physical names are ``{prefix}-{logical name}``; in AWS, CDK passes the generated
names to functions through the environment variables named here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

AttrType = Literal["S", "N"]


@dataclass(frozen=True)
class Key:
    name: str
    type: AttrType = "S"


@dataclass(frozen=True)
class Index:
    name: str
    partition: Key
    sort: Key | None = None
    # ALL copies every attribute into the index; KEYS_ONLY only the table's and the index's
    # keys (a write that changes no key costs the index nothing; reads fetch the items)
    projection: Literal["ALL", "KEYS_ONLY"] = "ALL"


@dataclass(frozen=True)
class Table:
    name: str
    partition: Key
    sort: Key | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = "expires_at"
    purpose: str = ""

    @property
    def env_var(self) -> str:
        return f"CREATOR_CHAT_TABLE_{self.name.upper()}"


@dataclass(frozen=True)
class Queue:
    name: str
    visibility_timeout_s: int
    max_receive_count: int = 3
    retention_s: int = 4 * 24 * 3600
    purpose: str = ""

    @property
    def dlq_name(self) -> str:
        return f"{self.name}-dlq"

    @property
    def env_var(self) -> str:
        return f"CREATOR_CHAT_QUEUE_{self.name.upper().replace('-', '_')}"


@dataclass(frozen=True)
class Bucket:
    name: str
    purpose: str = ""
    # objects are deleted this many days after they were written (an S3 lifecycle rule in
    # AWS); None: the environment's retention (``raw_upload_expiration_days``)
    expiration_days: int | None = None

    @property
    def env_var(self) -> str:
        return f"CREATOR_CHAT_BUCKET_{self.name.upper().replace('-', '_')}"


@dataclass(frozen=True)
class Function:
    """A Lambda function: its code folder under ``functions/`` and its handler."""

    name: str
    code_dir: str  # folder under functions/
    handler: str  # "module.attribute" inside code_dir
    timeout_s: int
    memory_mb: int
    tables: tuple[str, ...] = ()
    queues_send: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()
    uses_index: bool = False
    uses_cache: bool = False
    uses_bedrock: bool = False
    # calls a public AWS endpoint no VPC endpoint serves (API Gateway's management API, to
    # post to WebSocket connections): in a VPC it runs in subnets with a NAT route
    reaches_internet: bool = False


@dataclass(frozen=True)
class Route:
    method: str  # GET, POST, ... or ANY
    path: str  # API Gateway route path, e.g. /v1/creators/{creator_id}/documents
    function: str
    authorized: bool = True


@dataclass(frozen=True)
class WebSocketRoute:
    """A route of the WebSocket API (route selection: ``$request.body.action``); only
    ``$connect`` can be authorized (API Gateway checks a WebSocket once, when it opens)."""

    route_key: str  # "$connect", "$disconnect", "$default" or an action, e.g. "chat"
    function: str
    authorized: bool = False


@dataclass(frozen=True)
class Worker:
    """An SQS event source mapping: queue → function."""

    queue: str
    function: str
    batch_size: int
    max_concurrency: int | None = None  # None = Lambda's default scaling
    report_batch_item_failures: bool = True


@dataclass(frozen=True)
class Declaration:
    tables: tuple[Table, ...]
    queues: tuple[Queue, ...]
    buckets: tuple[Bucket, ...]
    functions: tuple[Function, ...]
    routes: tuple[Route, ...]
    workers: tuple[Worker, ...]
    websocket_routes: tuple[WebSocketRoute, ...] = ()
    authorizer_function: str = "authorizer"
    extra: dict[str, str] = field(default_factory=dict)

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    def queue(self, name: str) -> Queue:
        return next(q for q in self.queues if q.name == name)

    def function(self, name: str) -> Function:
        return next(f for f in self.functions if f.name == name)


# What every deployed function's environment holds whatever it does (the stack sets it; the
# cold-start bench and tests run the handlers with it). pydantic looks for plugins among
# every installed package's entry points at its first model (~20 ms of a cold start that
# imports pydantic); the code uses none.
FUNCTION_ENVIRONMENT: dict[str, str] = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}

ALL_TABLES = (
    "creators",
    "conversations",
    "sessions",
    "rate_limits",
    "documents",
    "users",
    "audit",
    "trending",
    "idempotency",
    "exports",
    "connections",
    "question_groups",
    "creator_stats",
)

DECLARATION = Declaration(
    tables=(
        Table(
            "creators",
            Key("creator_id"),
            indexes=(Index("by_slug", Key("slug")),),
            ttl_attribute=None,
            purpose="creators by id and slug; content version",
        ),
        Table(
            "conversations",
            Key("pk"),
            Key("sk"),
            indexes=(
                Index("by_user", Key("user_id"), Key("last_activity_at", "N")),
                Index("by_message", Key("message_id")),
                # every item of a user (META, MSG#, FEEDBACK#) in one query: the GDPR export
                Index("by_owner", Key("user_id"), Key("sk"), projection="KEYS_ONLY"),
            ),
            purpose="threads (META) and their messages and feedback; 7-day idle TTL",
        ),
        Table(
            "sessions",
            Key("session_id"),
            indexes=(Index("by_user", Key("user_id")),),
            purpose="sessions by id, 24 h TTL",
        ),
        Table("rate_limits", Key("key"), purpose="per-(user, window) counters, TTL at window end"),
        Table(
            "documents",
            Key("creator_id"),
            Key("sk"),
            ttl_attribute=None,
            purpose="documents (DOC#id) and content-hash claims (HASH#sha) per creator",
        ),
        Table(
            "users",
            Key("user_id"),
            Key("sk"),
            ttl_attribute=None,
            purpose="fan profile (PROFILE) and usage per month (USAGE#YYYY-MM)",
        ),
        Table("audit", Key("pk"), Key("sk"), purpose="audit log, long TTL"),
        Table(
            "trending",
            Key("creator_id"),
            Key("sk"),
            purpose="question counts per creator and week, for the trending view",
        ),
        Table(
            "idempotency",
            Key("id"),
            ttl_attribute="expiration",
            purpose="Powertools idempotency records for the SQS workers",
        ),
        Table(
            "exports",
            Key("user_id"),
            Key("export_id"),
            purpose="GDPR export jobs per user (status, file key); expire after a day",
        ),
        Table(
            "connections",
            Key("connection_id"),
            indexes=(Index("by_user", Key("user_id")),),
            purpose="open WebSocket connections (streamed answers); TTL 2 h, API Gateway's cap",
        ),
        Table(
            "question_groups",
            Key("creator_id"),
            Key("sk"),
            purpose="fans' questions grouped by meaning per creator (content gaps, down-rated"
            " answers); words only at 3 different fans in a week; TTL 90 days",
        ),
        Table(
            "creator_stats",
            Key("creator_id"),
            Key("day"),
            purpose="per-(creator, day) counters: questions, outcomes, cache hits, answer-time"
            " histogram, ratings; no user id; TTL 90 days",
        ),
    ),
    queues=(
        Queue(
            "ingest-jobs",
            visibility_timeout_s=6 * 300,
            max_receive_count=3,
            purpose="documents to parse, chunk, embed and index",
        ),
        Queue(
            "llm-jobs",
            visibility_timeout_s=6 * 60,
            max_receive_count=3,
            purpose="chat questions answered asynchronously within the LLM budget",
        ),
        Queue(
            "export-jobs",
            visibility_timeout_s=6 * 300,
            max_receive_count=3,
            purpose="GDPR exports too large to answer inline",
        ),
    ),
    buckets=(
        Bucket("raw-uploads", purpose="raw content of ingested documents"),
        Bucket("exports", purpose="GDPR export files, one day", expiration_days=1),
    ),
    functions=(
        Function(
            "authorizer",
            "authorizer",
            "handler.handler",
            timeout_s=5,
            memory_mb=256,
            tables=("sessions",),
        ),
        Function(
            "chat",
            "chat",
            "handler.handler",
            timeout_s=29,
            memory_mb=1024,
            tables=ALL_TABLES,
            queues_send=("llm-jobs", "export-jobs"),
            buckets=("exports",),
            uses_index=True,
            uses_cache=True,
            uses_bedrock=True,
        ),
        Function(
            "chat-worker",
            "chat",
            "worker.handler",
            timeout_s=60,
            memory_mb=1024,
            tables=ALL_TABLES,
            uses_index=True,
            uses_cache=True,
            uses_bedrock=True,
        ),
        Function(
            "ingest",
            "ingest",
            "handler.handler",
            timeout_s=29,
            memory_mb=1024,
            tables=("creators", "documents", "audit"),
            queues_send=("ingest-jobs",),
            buckets=("raw-uploads",),
            uses_index=True,
            uses_cache=True,
            uses_bedrock=True,
        ),
        Function(
            "ingest-worker",
            "ingest",
            "worker.handler",
            timeout_s=300,
            memory_mb=2048,
            tables=("creators", "documents", "idempotency"),
            # re-queues on its own queue: an upload ticket's expiry that came due early
            # (SQS delays 15 min at most)
            queues_send=("ingest-jobs",),
            buckets=("raw-uploads",),
            uses_index=True,
            uses_cache=True,
            uses_bedrock=True,
        ),
        Function(
            "stream",
            "stream",
            "handler.handler",
            # a streamed answer runs past API Gateway's 29 s integration timeout if it must:
            # the deltas go out through the management API, not as the route's response
            timeout_s=120,
            memory_mb=1024,
            tables=ALL_TABLES,
            queues_send=("llm-jobs",),
            uses_index=True,
            uses_cache=True,
            uses_bedrock=True,
            reaches_internet=True,
        ),
        Function(
            "export-worker",
            "chat",
            "export_worker.handler",
            timeout_s=300,
            memory_mb=1024,
            tables=("conversations", "users", "sessions", "audit", "exports", "idempotency"),
            buckets=("exports",),
        ),
    ),
    routes=(
        Route("GET", "/health", "chat", authorized=False),
        Route("GET", "/health/deep", "chat", authorized=False),
        Route("GET", "/docs", "chat", authorized=False),
        Route("GET", "/openapi.json", "chat", authorized=False),
        Route("ANY", "/v1/creators/{creator_id}/documents", "ingest"),
        Route("ANY", "/v1/creators/{creator_id}/documents/{proxy+}", "ingest"),
        Route("POST", "/v1/creators/{creator_id}/search", "ingest"),
        Route("ANY", "/v1/{proxy+}", "chat"),
    ),
    websocket_routes=(
        WebSocketRoute("$connect", "stream", authorized=True),
        WebSocketRoute("$disconnect", "stream"),
        WebSocketRoute("chat", "stream"),
        WebSocketRoute("$default", "stream"),
    ),
    workers=(
        Worker("ingest-jobs", "ingest-worker", batch_size=5),
        Worker("llm-jobs", "chat-worker", batch_size=1, max_concurrency=4),
        Worker("export-jobs", "export-worker", batch_size=1, max_concurrency=2),
    ),
)

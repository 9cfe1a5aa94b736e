"""Wiring: builds every adapter once per process (Lambda container or local server).

Nothing here holds request state. Each adapter is built on first use, so the authorizer
never pays for the embedding model and the chat function never for the PDF parser.
"""

from __future__ import annotations

import contextlib
import threading
from contextlib import AbstractContextManager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from creator_chat.adapters.aws.clients import AwsClients
from creator_chat.clock import SystemClock
from creator_chat.observability import count
from creator_chat.ports import (
    AuditLog,
    BlobStore,
    Cache,
    Clock,
    ConnectionStore,
    CreatorStatsStore,
    CreatorStore,
    DocumentStore,
    Embedder,
    ExportStore,
    Generator,
    JobQueue,
    QuestionGroupStore,
    RateLimiter,
    Reranker,
    SessionStore,
    ThreadStore,
    TrendingStore,
    UsageStore,
    VectorIndex,
)
from creator_chat.settings import Settings

# the local gateway's path for signed export downloads (local/exports.py serves it)
EXPORT_DOWNLOAD_PREFIX = "/_local/exports/"

if TYPE_CHECKING:
    from creator_chat.adapters.embedded.database import Database
    from creator_chat.breaker import CircuitBreaker
    from creator_chat.resources import Function


class Container:
    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.aws = AwsClients(settings)
        self._lock = threading.RLock()
        self.overrides: dict[str, Any] = {}

    def build_clients_for(self, function: Function) -> None:
        """Build the AWS SDK clients the function's declaration says it uses, now.

        Handlers call this at module level, so the work happens in Lambda's init phase
        (before any request when provisioned concurrency is on) instead of inside the first
        request. It only builds clients from the bundled service models: no network call.
        """
        if self.embedded:
            if function.tables or function.queues_send:
                self.database  # noqa: B018  (cached_property: opening it is the point)
            return
        if function.tables:
            self._dynamodb  # noqa: B018  (cached_property: building it is the point)
        if function.queues_send:
            self.aws.client("sqs")
        if function.buckets:
            self.aws.client("s3")

    @property
    def aws_session(self) -> Any:
        return self.aws.session

    @property
    def embedded(self) -> bool:
        """Tables, queues and uploads live in the embedded database (not DynamoDB/SQS/S3)."""
        return self.settings.storage_family == "embedded"

    # -- the embedded family: one SQLite database in the data dir
    @cached_property
    def database(self) -> Database:
        from creator_chat.adapters.embedded.database import DATABASE_FILE, Database

        if self.settings.data_dir is None:
            raise RuntimeError("the embedded database needs CREATOR_CHAT_DATA_DIR")
        return Database(
            self.settings.data_dir / DATABASE_FILE, synchronous=self.settings.sqlite_synchronous
        )

    @property
    def atomic_units(self) -> bool:
        """A unit of work commits or rolls back whole (the embedded database)."""
        return self.embedded

    def unit_of_work(self) -> AbstractContextManager[object]:
        """Writes that commit together in the embedded database; a plain block on AWS."""
        if self.embedded:
            return self.database.transaction()
        return contextlib.nullcontext()

    # -- DynamoDB, S3, SQS: the same adapters everywhere, only the endpoint differs
    def _table(self, logical: str) -> str:
        return self.settings.physical_name("table", logical)

    @cached_property
    def _dynamodb(self) -> Any:
        return self.aws.resource("dynamodb")

    @cached_property
    def creators(self) -> CreatorStore:
        if self.embedded:
            from creator_chat.adapters.embedded.creators import EmbeddedCreatorStore

            return EmbeddedCreatorStore(self.database, self.clock)
        from creator_chat.adapters.aws.dynamodb import DynamoCreatorStore

        return DynamoCreatorStore(self._dynamodb, self._table("creators"), self.clock)

    @cached_property
    def threads(self) -> ThreadStore:
        idle = self.settings.thread_idle_ttl_s
        if self.embedded:
            from creator_chat.adapters.embedded.threads import EmbeddedThreadStore

            return EmbeddedThreadStore(self.database, self.clock, idle_ttl_s=idle)
        from creator_chat.adapters.aws.dynamodb import DynamoThreadStore

        return DynamoThreadStore(
            self._dynamodb, self._table("conversations"), self.clock, idle_ttl_s=idle
        )

    @cached_property
    def sessions(self) -> SessionStore:
        if self.embedded:
            from creator_chat.adapters.embedded.sessions import EmbeddedSessionStore

            return EmbeddedSessionStore(self.database, self.clock)
        from creator_chat.adapters.aws.dynamodb import DynamoSessionStore

        return DynamoSessionStore(self._dynamodb, self._table("sessions"), self.clock)

    @cached_property
    def connections(self) -> ConnectionStore:
        """Open WebSocket connections (streamed answers)."""
        if self.embedded:
            from creator_chat.adapters.embedded.connections import EmbeddedConnectionStore

            return EmbeddedConnectionStore(self.database, self.clock)
        from creator_chat.adapters.aws.dynamodb import DynamoConnectionStore

        return DynamoConnectionStore(self._dynamodb, self._table("connections"), self.clock)

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        if self.embedded:
            from creator_chat.adapters.embedded.rate_limits import EmbeddedRateLimiter

            return EmbeddedRateLimiter(self.database, self.clock)
        from creator_chat.adapters.aws.dynamodb import DynamoRateLimiter

        return DynamoRateLimiter(self._dynamodb, self._table("rate_limits"), self.clock)

    @cached_property
    def documents(self) -> DocumentStore:
        if self.embedded:
            from creator_chat.adapters.embedded.documents import EmbeddedDocumentStore

            return EmbeddedDocumentStore(self.database, self.clock)
        from creator_chat.adapters.aws.dynamodb import DynamoDocumentStore

        return DynamoDocumentStore(self._dynamodb, self._table("documents"), self.clock)

    @cached_property
    def users(self) -> UsageStore:
        if self.embedded:
            from creator_chat.adapters.embedded.users import EmbeddedUsageStore

            return EmbeddedUsageStore(self.database, self.clock)
        from creator_chat.adapters.aws.dynamodb import DynamoUsageStore

        return DynamoUsageStore(self._dynamodb, self._table("users"), self.clock)

    @cached_property
    def audit(self) -> AuditLog:
        if self.embedded:
            from creator_chat.adapters.embedded.audit import EmbeddedAuditLog

            return EmbeddedAuditLog(self.database, self.clock)
        from creator_chat.adapters.aws.dynamodb import DynamoAuditLog

        return DynamoAuditLog(self._dynamodb, self._table("audit"), self.clock)

    @cached_property
    def trending(self) -> TrendingStore:
        min_askers = self.settings.trending_min_askers
        if self.embedded:
            from creator_chat.adapters.embedded.trending import EmbeddedTrendingStore

            return EmbeddedTrendingStore(self.database, self.clock, min_askers=min_askers)
        from creator_chat.adapters.aws.dynamodb import DynamoTrendingStore

        return DynamoTrendingStore(
            self._dynamodb, self._table("trending"), self.clock, min_askers=min_askers
        )

    @cached_property
    def question_groups(self) -> QuestionGroupStore:
        """Content gaps and down-rated questions, grouped by meaning (creator insights)."""
        min_fans, similarity = self.settings.trending_min_askers, self.settings.gap_similarity
        if self.embedded:
            from creator_chat.adapters.embedded.question_groups import EmbeddedQuestionGroupStore

            return EmbeddedQuestionGroupStore(
                self.database, self.clock, min_fans=min_fans, similarity=similarity
            )
        from creator_chat.adapters.aws.dynamodb import DynamoQuestionGroupStore

        return DynamoQuestionGroupStore(
            self._dynamodb,
            self._table("question_groups"),
            self.clock,
            min_fans=min_fans,
            similarity=similarity,
        )

    @cached_property
    def creator_stats(self) -> CreatorStatsStore:
        """Per-(creator, day) counters (creator analytics)."""
        if self.embedded:
            from creator_chat.adapters.embedded.creator_stats import EmbeddedCreatorStatsStore

            return EmbeddedCreatorStatsStore(self.database, self.clock)
        from creator_chat.adapters.aws.dynamodb import DynamoCreatorStatsStore

        return DynamoCreatorStatsStore(self._dynamodb, self._table("creator_stats"), self.clock)

    @cached_property
    def blobs(self) -> BlobStore:
        if self.embedded:
            from creator_chat.adapters.embedded.blobs import FileBlobStore

            assert self.settings.data_dir is not None
            return FileBlobStore(
                self.settings.data_dir / "uploads",
                signing_key=self.upload_signing_key,
                public_url=self.settings.public_url,
                clock=self.clock,
            )
        from creator_chat.adapters.aws.s3 import S3BlobStore

        return S3BlobStore(
            self.aws.client("s3"), self.settings.physical_name("bucket", "raw-uploads")
        )

    @cached_property
    def export_blobs(self) -> BlobStore:
        """GDPR export files: the ``exports`` bucket (objects expire after a day), locally
        ``<data dir>/exports`` behind signed ``/_local/exports/…`` download URLs."""
        if self.embedded:
            from creator_chat.adapters.embedded.blobs import FileBlobStore

            assert self.settings.data_dir is not None
            return FileBlobStore(
                self.settings.data_dir / "exports",
                signing_key=self.upload_signing_key,
                public_url=self.settings.public_url,
                clock=self.clock,
                download_prefix=EXPORT_DOWNLOAD_PREFIX,
            )
        from creator_chat.adapters.aws.s3 import S3BlobStore

        return S3BlobStore(self.aws.client("s3"), self.settings.physical_name("bucket", "exports"))

    @cached_property
    def exports(self) -> ExportStore:
        if self.embedded:
            from creator_chat.adapters.embedded.exports import EmbeddedExportStore

            return EmbeddedExportStore(self.database, self.clock)
        from creator_chat.adapters.aws.dynamodb import DynamoExportStore

        return DynamoExportStore(self._dynamodb, self._table("exports"), self.clock)

    @cached_property
    def upload_signing_key(self) -> bytes:
        """The key that signs local upload URLs, kept in the database (URLs survive a restart)."""
        from creator_chat.adapters.embedded.blobs import signing_key

        return signing_key(self.database)

    def job_queue(self, logical: str) -> JobQueue:
        name = self.settings.physical_name("queue", logical)
        if self.embedded:
            from creator_chat.adapters.embedded.queue import EmbeddedJobQueue

            return EmbeddedJobQueue(self.database, name, clock=self.clock)
        from creator_chat.adapters.aws.sqs import SqsJobQueue

        return SqsJobQueue(self.aws.client("sqs"), name)

    @cached_property
    def ingest_queue(self) -> JobQueue:
        return self.job_queue("ingest-jobs")

    @cached_property
    def llm_queue(self) -> JobQueue:
        return self.job_queue("llm-jobs")

    @cached_property
    def export_queue(self) -> JobQueue:
        return self.job_queue("export-jobs")

    def idempotency_persistence(self) -> Any:
        """Where a worker's Powertools idempotency records live: a new layer per worker,
        since Powertools configures the layer it is given (key path, function name)."""
        if self.embedded:
            from creator_chat.adapters.embedded.idempotency import SqlitePersistenceLayer

            return SqlitePersistenceLayer(self.database)
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        return DynamoDBPersistenceLayer(
            table_name=self.settings.physical_name("table", "idempotency"),
            boto3_session=self.aws_session,
        )

    # -- caches
    @cached_property
    def cache_breaker(self) -> CircuitBreaker:
        from creator_chat.breaker import CircuitBreaker

        return CircuitBreaker("cache", failure_threshold=3, reset_timeout_s=10, clock=self.clock)

    @cached_property
    def cache(self) -> Cache:
        if "cache" in self.overrides:
            return self.overrides["cache"]  # type: ignore[no-any-return]
        if self.settings.redis_url:
            from creator_chat.adapters.aws.redis_cache import RedisCache

            return RedisCache(
                self.settings.redis_url,
                timeout_s=self.settings.cache_timeout_s,
                breaker=self.cache_breaker,
                on_event=_cache_metric,
            )
        from creator_chat.adapters.embedded.memory_cache import MemoryCache

        return MemoryCache(clock=self.clock)

    # -- retrieval and generation
    @cached_property
    def embedder(self) -> Embedder:
        from creator_chat.adapters.caching_embedder import CachingEmbedder

        inner: Embedder
        if "embedder" in self.overrides:
            inner = self.overrides["embedder"]
        elif self.settings.embedder == "bedrock":
            from creator_chat.adapters.aws.bedrock_embedder import BedrockEmbedder

            inner = BedrockEmbedder(
                self._bedrock_runtime, model_id=self.settings.embedding_model_id
            )
        else:
            from creator_chat.adapters.embedded.local_embedder import LocalEmbedder

            inner = LocalEmbedder()
        return CachingEmbedder(inner, self.cache, ttl_s=24 * 3600)

    @cached_property
    def index(self) -> VectorIndex:
        if "index" in self.overrides:
            return self.overrides["index"]  # type: ignore[no-any-return]
        if self.settings.vector_index == "opensearch":
            from creator_chat.adapters.aws.opensearch_index import (
                OpenSearchVectorIndex,
                build_opensearch_client,
            )

            if not self.settings.opensearch_endpoint:
                raise RuntimeError("CREATOR_CHAT_OPENSEARCH_ENDPOINT is required for opensearch")
            client = build_opensearch_client(
                self.settings.opensearch_endpoint, self.settings.aws_region
            )
            return OpenSearchVectorIndex(
                client, self.settings.opensearch_index, self.embedder.dimension
            )
        if self.settings.vector_index == "s3vectors":
            from creator_chat.adapters.aws.s3vectors_index import S3VectorsIndex, index_name_for

            if not self.settings.s3vectors_bucket:
                raise RuntimeError("CREATOR_CHAT_S3VECTORS_BUCKET is required for s3vectors")
            dimension = self.embedder.dimension
            return S3VectorsIndex(
                self.aws.client("s3vectors"),
                self.settings.s3vectors_bucket,
                index_name_for(self.settings.s3vectors_index, dimension),
                dimension,
                candidates=self.settings.s3vectors_candidates,
            )
        if self.embedded:
            from creator_chat.adapters.embedded.vector_index import EmbeddedVectorIndex

            return EmbeddedVectorIndex(self.database)
        from creator_chat.adapters.embedded.local_index import LocalVectorIndex

        return LocalVectorIndex()  # in memory: the AWS family with no OpenSearch (tests)

    @cached_property
    def generator(self) -> Generator:
        if "generator" in self.overrides:
            return self.overrides["generator"]  # type: ignore[no-any-return]
        if self.settings.generator == "bedrock":
            from creator_chat.adapters.aws.bedrock_generator import BedrockConverseGenerator

            return BedrockConverseGenerator(
                self._bedrock_runtime, self.settings.generation_model_id
            )
        if self.settings.generator == "openai":
            from creator_chat.adapters.openai_compatible import OpenAICompatibleGenerator

            s = self.settings
            if not s.openai_base_url or not s.openai_model:  # Settings validates it already
                raise RuntimeError(
                    "CREATOR_CHAT_OPENAI_BASE_URL and CREATOR_CHAT_OPENAI_MODEL are required "
                    "for CREATOR_CHAT_GENERATOR=openai"
                )
            return OpenAICompatibleGenerator(
                s.openai_base_url,
                s.openai_model,
                api_key=s.openai_api_key.get_secret_value() if s.openai_api_key else None,
                timeout_s=s.openai_timeout_s,
            )
        from creator_chat.adapters.embedded.local_generator import LocalExtractiveGenerator

        # Sentence scoring by meaning uses the local model (cached per sentence); with Bedrock
        # embeddings that would be a paid call per sentence, so it stays lexical there.
        embedder = self.embedder if self.settings.embedder == "local" else None
        return LocalExtractiveGenerator(embedder=embedder)

    @cached_property
    def generator_breaker(self) -> CircuitBreaker:
        from creator_chat.breaker import CircuitBreaker

        return CircuitBreaker(
            "generator", failure_threshold=3, reset_timeout_s=30, clock=self.clock
        )

    @cached_property
    def reranker(self) -> Reranker | None:
        if "reranker" in self.overrides:
            return self.overrides["reranker"]  # type: ignore[no-any-return]
        if self.settings.reranker != "bedrock":
            return None
        from creator_chat.adapters.aws.bedrock_generator import build_bedrock_runtime_client
        from creator_chat.adapters.aws.bedrock_reranker import BedrockReranker

        client = build_bedrock_runtime_client(
            self.settings.aws_region,
            timeout_s=self.settings.llm_timeout_s,
            service="bedrock-agent-runtime",
        )
        return BedrockReranker(client, model_id=self.settings.rerank_model_id)

    @cached_property
    def _bedrock_runtime(self) -> Any:
        from creator_chat.adapters.aws.bedrock_generator import build_bedrock_runtime_client

        return build_bedrock_runtime_client(
            self.settings.aws_region, endpoint_url=None, timeout_s=self.settings.llm_timeout_s
        )

    def close(self) -> None:
        """Close what holds files open (the embedded database's connections, a model
        server's pooled connections)."""
        if "database" in self.__dict__:
            self.database.close()
        close_generator = getattr(self.__dict__.get("generator"), "close", None)
        if callable(close_generator):
            close_generator()


def _cache_metric(event: str) -> None:
    count({"hit": "CacheHit", "miss": "CacheMiss"}.get(event, "CacheError"))


_containers: dict[int, Container] = {}
_containers_lock = threading.Lock()


def container_from_env() -> Container:
    """The process's container, built on first call from the environment."""
    with _containers_lock:
        if 0 not in _containers:
            _containers[0] = Container(Settings())
        return _containers[0]


def reset_container() -> None:
    """Forget the process's container (the local runtime calls this after changing env);
    whoever still holds it keeps it working (close it with ``Container.close``)."""
    with _containers_lock:
        _containers.clear()

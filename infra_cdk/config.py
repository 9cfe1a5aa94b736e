"""What differs between dev, staging and prod: one typed, frozen config per environment.

Everything the declaration (``creator_chat.resources``) does not say lives here: sizes,
retention, alarm thresholds, model ids, the LLM budget (the chat worker's maximum
concurrency), provisioned concurrency, SnapStart and removal policies. Nothing here calls
AWS.

Each environment is a *profile* of five choices (README "Profiles"), each of which a CDK
context flag overrides for one deployment (``load_config``):

======================  =================  =================  ==========================
flag (``-c key=...``)   dev                staging            prod
======================  =================  =================  ==========================
``vector_store``        ``s3vectors``      ``opensearch``     ``opensearch``
``cache``               ``memory``         ``elasticache``    ``elasticache``
``vpc``                 ``false``          ``true``           ``true``
``provisioned``         ``false``          ``false``          ``true`` (authorizer, chat)
``snapstart``           ``false``          ``true``           ``true`` (chat-worker, ingest, stream)
======================  =================  =================  ==========================

dev costs nothing while idle: no OpenSearch Serverless OCUs, no ElastiCache minimum, no
interface endpoints (billed per AZ-hour), no warm capacity and no SnapStart cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from creator_chat.resources import Declaration
from creator_chat.resources import Function as FunctionDecl

EnvName = Literal["dev", "staging", "prod"]
ENV_NAMES: tuple[EnvName, ...] = get_args(EnvName)

SERVICE = "creator-chat"
# The namespace the functions' EMF metrics (Powertools ``Metrics``) are written to.
METRICS_NAMESPACE = "CreatorChat"
# Custom metrics the core library emits; the dashboard graphs each of them.
CUSTOM_METRICS = (
    "CacheHit",
    "CacheMiss",
    "GeneratorInputTokens",
    "GeneratorOutputTokens",
    "GeneratorThrottled",
    "RetrievalUnavailable",
    "ChatQueued",
)
# Where layers/build_deps.py writes the third-party dependency layer (``<dir>/python/...``).
DEFAULT_DEPS_LAYER_DIR = "build/deps-layer"
# The function whose SQS event source is capped by the LLM budget.
LLM_WORKER_FUNCTION = "chat-worker"
# Functions that write to the vector index; every other ``uses_index`` function only reads.
# (The declaration has no read/write distinction for the index yet.)
INDEX_WRITERS: tuple[str, ...] = ("ingest", "ingest-worker")
# The vector index the functions read and write (CREATOR_CHAT_OPENSEARCH_INDEX). The data
# access policy grants ``{OPENSEARCH_INDEX}*`` so a versioned index can be built next to it.
OPENSEARCH_INDEX = "creator-chunks"
# S3 Vectors: the vector bucket ``<resource prefix>-vectors`` (CREATOR_CHAT_S3VECTORS_BUCKET)
# holds one index per embedding dimension, named ``<base>-<dimension>`` by the adapter
# (creator_chat.adapters.aws.s3vectors_index.index_name_for); the functions get the base
# (CREATOR_CHAT_S3VECTORS_INDEX), the stack creates the index of the configured model's.
S3VECTORS_INDEX = OPENSEARCH_INDEX
# The embedding model's output (BedrockEmbedder's default Titan v2 dimensions), normalised,
# so cosine distance. An S3 Vectors index fixes both at creation.
VECTOR_DIMENSION = 1024
VECTOR_DISTANCE_METRIC = "cosine"
# Metadata stored with each vector but never filtered on: the adapter's serialised chunk
# (S3 Vectors caps filterable metadata at 2 KB per vector). Fixed at index creation.
S3VECTORS_NON_FILTERABLE_METADATA = ("chunk",)


def s3vectors_index_name(base: str = S3VECTORS_INDEX, dimension: int = VECTOR_DIMENSION) -> str:
    return f"{base}-{dimension}"


VectorStore = Literal["opensearch", "s3vectors"]
CacheBackend = Literal["elasticache", "memory"]
VECTOR_STORES: tuple[VectorStore, ...] = get_args(VectorStore)
CACHE_BACKENDS: tuple[CacheBackend, ...] = get_args(CacheBackend)
# The functions SnapStart pays off on (``-c snapstart=true``): a user waits on their cold
# start. A function with provisioned concurrency never gets it (Lambda refuses both on one
# version, and a warm container has nothing to restore). The batch workers are left out on
# purpose: ingest-worker (2 GB, minutes per batch) and export-worker (a rare job nobody
# watches) would pay the SnapStart cache and restore charges for a cold start that is a
# rounding error of their run time.
SNAPSTART_CANDIDATES: tuple[str, ...] = ("authorizer", "chat", "chat-worker", "ingest", "stream")


@dataclass(frozen=True)
class ProvisionedConcurrency:
    """Provisioned concurrency of a function's ``live`` alias, auto-scaled on utilisation."""

    minimum: int
    maximum: int
    target_utilization: float = 0.7

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.maximum:
            raise ValueError(f"provisioned concurrency needs 1 <= min <= max, got {self}")
        if not 0.1 <= self.target_utilization <= 0.9:
            raise ValueError("target_utilization must be within [0.1, 0.9]")


# Warm capacity for ``-c provisioned=true`` in an env that configures none (dev, staging).
DEFAULT_PROVISIONED_CONCURRENCY: Mapping[str, ProvisionedConcurrency] = {
    "authorizer": ProvisionedConcurrency(minimum=1, maximum=4),
    "chat": ProvisionedConcurrency(minimum=1, maximum=4),
}


@dataclass(frozen=True)
class AlarmThresholds:
    """When an alarm fires; every alarm evaluates 5-minute periods."""

    api_5xx_rate_percent: float
    api_p99_latency_ms: int
    lambda_errors: int  # per function per period
    lambda_throttles: int  # per function per period
    queue_oldest_message_age_s: int
    dynamodb_throttle_events: int  # read + write throttle events per table per period
    evaluation_periods: int = 3
    datapoints_to_alarm: int = 2


@dataclass(frozen=True)
class TokenBudgets:
    """Monthly token budgets per tier (input + output tokens of generated answers per user
    and month); the functions that hold the usage records get them as
    ``CREATOR_CHAT_TOKEN_BUDGET_<TIER>``. The defaults are the Settings' (README "Token
    budgets")."""

    free: int = 400_000
    premium: int = 4_000_000
    enterprise: int = 40_000_000

    def __post_init__(self) -> None:
        if min(self.free, self.premium, self.enterprise) < 1:
            raise ValueError(f"token budgets must be positive, got {self}")

    def environment(self) -> dict[str, str]:
        return {
            "CREATOR_CHAT_TOKEN_BUDGET_FREE": str(self.free),
            "CREATOR_CHAT_TOKEN_BUDGET_PREMIUM": str(self.premium),
            "CREATOR_CHAT_TOKEN_BUDGET_ENTERPRISE": str(self.enterprise),
        }


@dataclass(frozen=True)
class EnvConfig:
    name: EnvName
    removal_policy: RemovalPolicy
    point_in_time_recovery: bool
    deletion_protection: bool
    log_retention: logs.RetentionDays
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    # The most chat-worker invocations at once: the Bedrock generation budget.
    llm_budget: int
    embedding_model_id: str
    generation_model_id: str
    api_throttle_rate: int  # steady requests per second for the whole stage
    api_throttle_burst: int
    alarms: AlarmThresholds
    cache_max_storage_gb: int
    cache_max_ecpu_per_second: int
    search_standby_replicas: bool
    # Days after which raw uploads expire (None: kept, moved to infrequent access).
    raw_upload_expiration_days: int | None
    access_log_expiration_days: int
    # Memory overrides by function name; unlisted functions use the declared memory.
    memory_mb: Mapping[str, int] = field(default_factory=dict)
    provisioned_concurrency: Mapping[str, ProvisionedConcurrency] = field(default_factory=dict)
    # Empty: no CORS (same-origin front end or native apps only).
    cors_allowed_origins: tuple[str, ...] = ()
    alarm_email: str | None = None
    max_azs: int = 2
    # A Bedrock reranking model between retrieval and the prompt (e.g. "amazon.rerank-v1:0",
    # "cohere.rerank-v3-5:0"): off unless set, as the models are offered in some regions only
    # and each rerank is billed per query.
    rerank_model_id: str | None = None
    token_budgets: TokenBudgets = field(default_factory=TokenBudgets)
    # -- the profile (see the module docstring; each one a context flag) --
    # Where chunk vectors live: OpenSearch Serverless (a collection billed per OCU-hour,
    # idle or not) or S3 Vectors (a vector bucket and index, billed per use and GB stored).
    vector_store: VectorStore = "opensearch"
    # "elasticache": serverless Valkey in the VPC (CREATOR_CHAT_REDIS_URL); "memory": no
    # cache resource, each container keeps its own in-process cache (the container's
    # fallback when CREATOR_CHAT_REDIS_URL is unset).
    cache: CacheBackend = "elasticache"
    # A private VPC (isolated subnets, gateway + interface endpoints) that the functions
    # using the cache or the index run in. Without it the functions reach AWS APIs directly.
    vpc: bool = True
    # In the VPC, a NAT gateway (one, in one AZ) for the functions that must reach a public
    # endpoint (the stream function: API Gateway's management API, which no VPC endpoint
    # serves). Off: those functions cannot deliver, and the page gets no stream_url.
    nat: bool = True
    # SnapStart on the published version of these functions (minus any with provisioned
    # concurrency, see ``snapstart_functions``).
    snapstart: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Lambda's SQS event source accepts a maximum concurrency of 2 to 1000.
        if not 2 <= self.llm_budget <= 1000:
            raise ValueError(f"llm_budget must be within [2, 1000], got {self.llm_budget}")
        if not (self.embedding_model_id and self.generation_model_id):
            raise ValueError("model ids must not be empty")
        if self.max_azs < 2:
            raise ValueError("the serverless cache needs subnets in at least two AZs")
        if self.vector_store not in VECTOR_STORES:
            raise ValueError(
                f"vector_store must be one of {VECTOR_STORES}, got {self.vector_store!r}"
            )
        if self.cache not in CACHE_BACKENDS:
            raise ValueError(f"cache must be one of {CACHE_BACKENDS}, got {self.cache!r}")
        if self.cache == "elasticache" and not self.vpc:
            raise ValueError(
                "cache=elasticache needs vpc=true (ElastiCache is reached only inside a VPC); "
                "use cache=memory without a VPC"
            )

    @property
    def snapstart_functions(self) -> tuple[str, ...]:
        """The functions whose published versions get SnapStart: those asked for that have
        no provisioned concurrency (Lambda does not allow both on one version)."""
        return tuple(f for f in self.snapstart if f not in self.provisioned_concurrency)

    @property
    def resource_prefix(self) -> str:
        return f"{SERVICE}-{self.name}"

    @property
    def stack_name(self) -> str:
        return f"CreatorChat-{self.name}"

    @property
    def is_prod(self) -> bool:
        return self.name == "prod"

    @property
    def bedrock_model_ids(self) -> tuple[str, ...]:
        models = (self.embedding_model_id, self.generation_model_id, self.rerank_model_id)
        return tuple(dict.fromkeys(m for m in models if m))

    def memory_for(self, function: FunctionDecl) -> int:
        return self.memory_mb.get(function.name, function.memory_mb)

    def check_against(self, declaration: Declaration) -> None:
        """Fail fast when this config names a function the declaration does not have."""
        known = {f.name for f in declaration.functions}
        named = (
            set(self.memory_mb)
            | set(self.provisioned_concurrency)
            | set(self.snapstart)
            | set(INDEX_WRITERS)
            | {LLM_WORKER_FUNCTION}
        )
        unknown = named - known
        if unknown:
            raise ValueError(f"config names undeclared functions: {sorted(unknown)}")


_EMBEDDING_MODEL = "amazon.titan-embed-text-v2:0"
_GENERATION_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"

CONFIGS: Mapping[EnvName, EnvConfig] = {
    "dev": EnvConfig(
        name="dev",
        removal_policy=RemovalPolicy.DESTROY,
        point_in_time_recovery=False,
        deletion_protection=False,
        log_retention=logs.RetentionDays.ONE_WEEK,
        log_level="DEBUG",
        llm_budget=2,
        embedding_model_id=_EMBEDDING_MODEL,
        generation_model_id=_GENERATION_MODEL,
        api_throttle_rate=20,
        api_throttle_burst=40,
        alarms=AlarmThresholds(
            api_5xx_rate_percent=10.0,
            api_p99_latency_ms=10_000,
            lambda_errors=10,
            lambda_throttles=10,
            queue_oldest_message_age_s=1800,
            dynamodb_throttle_events=50,
        ),
        cache_max_storage_gb=1,
        cache_max_ecpu_per_second=5_000,
        search_standby_replicas=False,
        raw_upload_expiration_days=14,
        access_log_expiration_days=30,
        cors_allowed_origins=("*",),
        # a quarter of prod's: the dev account pays every tester's tokens, and the 429 of an
        # exhausted budget is reached in a few dozen questions
        token_budgets=TokenBudgets(free=50_000, premium=500_000, enterprise=5_000_000),
        # $0 while idle: nothing here is billed by the hour.
        vector_store="s3vectors",
        cache="memory",
        vpc=False,
    ),
    "staging": EnvConfig(
        name="staging",
        removal_policy=RemovalPolicy.DESTROY,
        point_in_time_recovery=False,
        deletion_protection=False,
        log_retention=logs.RetentionDays.ONE_MONTH,
        log_level="INFO",
        llm_budget=4,
        embedding_model_id=_EMBEDDING_MODEL,
        generation_model_id=_GENERATION_MODEL,
        api_throttle_rate=50,
        api_throttle_burst=100,
        alarms=AlarmThresholds(
            api_5xx_rate_percent=5.0,
            api_p99_latency_ms=8_000,
            lambda_errors=5,
            lambda_throttles=5,
            queue_oldest_message_age_s=900,
            dynamodb_throttle_events=20,
        ),
        cache_max_storage_gb=2,
        cache_max_ecpu_per_second=10_000,
        search_standby_replicas=False,
        raw_upload_expiration_days=90,
        access_log_expiration_days=90,
        cors_allowed_origins=("*",),
        # prod's architecture (so a release is tried on it) without the warm capacity: the
        # synchronous path restores from SnapStart instead, which also exercises the
        # functions' restore hooks before prod relies on them.
        snapstart=SNAPSTART_CANDIDATES,
    ),
    "prod": EnvConfig(
        name="prod",
        removal_policy=RemovalPolicy.RETAIN,
        point_in_time_recovery=True,
        deletion_protection=True,
        log_retention=logs.RetentionDays.THREE_MONTHS,
        log_level="INFO",
        llm_budget=10,
        embedding_model_id=_EMBEDDING_MODEL,
        generation_model_id=_GENERATION_MODEL,
        api_throttle_rate=500,
        api_throttle_burst=1000,
        alarms=AlarmThresholds(
            api_5xx_rate_percent=1.0,
            api_p99_latency_ms=6_000,
            lambda_errors=1,
            lambda_throttles=1,
            queue_oldest_message_age_s=300,
            dynamodb_throttle_events=5,
        ),
        cache_max_storage_gb=10,
        cache_max_ecpu_per_second=100_000,
        search_standby_replicas=True,
        raw_upload_expiration_days=None,
        access_log_expiration_days=365,
        # A full vCPU for the synchronous chat path (pydantic, TLS, JSON) keeps p99 down.
        memory_mb={"chat": 1769},
        # Warm containers for the synchronous path: every first request of a token goes
        # through the authorizer, then chat (docs/performance.md: ~0.4 s / ~0.6 s cold).
        provisioned_concurrency={
            "authorizer": ProvisionedConcurrency(minimum=2, maximum=10),
            "chat": ProvisionedConcurrency(minimum=2, maximum=20),
        },
        # Where a user waits on a cold start but no warm capacity is kept: chat-worker (the
        # queued answer a fan polls for) and ingest (uploads and /search, too rare for
        # provisioned concurrency to pay). authorizer and chat keep provisioned concurrency.
        snapstart=SNAPSTART_CANDIDATES,
    ),
}

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def parse_flag(name: str, value: object) -> bool | None:
    """A boolean context flag (``-c vpc=false``): None when unset."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"-c {name}={value}: expected true or false")


def load_config(
    env: str,
    *,
    alarm_email: str | None = None,
    cors_allowed_origins: tuple[str, ...] | None = None,
    rerank_model_id: str | None = None,
    vector_store: str | None = None,
    cache: str | None = None,
    vpc: bool | None = None,
    provisioned: bool | None = None,
    snapstart: bool | None = None,
    nat: bool | None = None,
) -> EnvConfig:
    """The config of ``env`` with the optional per-deployment overrides (CDK context).

    ``vector_store``, ``cache``, ``vpc``, ``provisioned`` and ``snapstart`` flip one choice
    of the env's profile; None keeps the profile's. ``provisioned=true`` keeps the env's
    warm capacity or, where it has none, uses ``DEFAULT_PROVISIONED_CONCURRENCY``;
    ``snapstart=true`` asks for ``SNAPSTART_CANDIDATES``.
    """
    if env not in ENV_NAMES:
        raise ValueError(f"unknown env {env!r}: expected one of {', '.join(ENV_NAMES)}")
    config = CONFIGS[env]
    if alarm_email:
        config = replace(config, alarm_email=alarm_email)
    if cors_allowed_origins is not None:
        config = replace(config, cors_allowed_origins=cors_allowed_origins)
    if rerank_model_id:
        config = replace(config, rerank_model_id=rerank_model_id)
    profile: dict[str, object] = {}
    if vector_store:
        profile["vector_store"] = vector_store
    if cache:
        profile["cache"] = cache
    if vpc is not None:
        profile["vpc"] = vpc
    # One flag is enough: ElastiCache brings its VPC along, and no VPC means no ElastiCache
    # (both flags given and contradicting each other still fail, in EnvConfig).
    if cache == "elasticache" and vpc is None:
        profile["vpc"] = True
    if vpc is False and not cache:
        profile["cache"] = "memory"
    if provisioned is not None:
        profile["provisioned_concurrency"] = (
            (config.provisioned_concurrency or DEFAULT_PROVISIONED_CONCURRENCY)
            if provisioned
            else {}
        )
    if snapstart is not None:
        profile["snapstart"] = SNAPSTART_CANDIDATES if snapstart else ()
    if nat is not None:
        profile["nat"] = nat
    if profile:
        config = replace(config, **profile)  # type: ignore[arg-type]
    return config

"""What differs between dev, staging and prod: one typed, frozen config per environment.

Everything the declaration (``creator_chat.resources``) does not say lives here: sizes,
retention, alarm thresholds, model ids, the LLM budget (the chat worker's maximum
concurrency), provisioned concurrency and removal policies. Nothing here calls AWS.
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

    def __post_init__(self) -> None:
        # Lambda's SQS event source accepts a maximum concurrency of 2 to 1000.
        if not 2 <= self.llm_budget <= 1000:
            raise ValueError(f"llm_budget must be within [2, 1000], got {self.llm_budget}")
        if not (self.embedding_model_id and self.generation_model_id):
            raise ValueError("model ids must not be empty")
        if self.max_azs < 2:
            raise ValueError("the serverless cache needs subnets in at least two AZs")

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
    ),
}


def load_config(
    env: str,
    *,
    alarm_email: str | None = None,
    cors_allowed_origins: tuple[str, ...] | None = None,
    rerank_model_id: str | None = None,
) -> EnvConfig:
    """The config of ``env`` with the optional per-deployment overrides (CDK context)."""
    if env not in ENV_NAMES:
        raise ValueError(f"unknown env {env!r}: expected one of {', '.join(ENV_NAMES)}")
    config = CONFIGS[env]
    if alarm_email:
        config = replace(config, alarm_email=alarm_email)
    if cors_allowed_origins is not None:
        config = replace(config, cors_allowed_origins=cors_allowed_origins)
    if rerank_model_id:
        config = replace(config, rerank_model_id=rerank_model_id)
    return config

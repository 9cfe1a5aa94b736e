"""Typed settings, read once from the environment (prefix ``CREATOR_CHAT_``).

One model for every function and the local runtime. In AWS the CDK app sets the
variables; locally ``creator-chat serve`` does. A missing required value fails at start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from creator_chat.domain.insights import DEFAULT_GROUP_SIMILARITY
from creator_chat.domain.models import Tier


class Settings(BaseSettings):
    # hide_input_in_errors: a validation error would otherwise print the values read (secrets)
    model_config = SettingsConfigDict(
        env_prefix="CREATOR_CHAT_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    env: Literal["local", "test", "dev", "staging", "prod"] = "local"
    resource_prefix: str = "creator-chat-local"
    # {"table:creators": "physical-name", "queue:llm-jobs": "physical-name", ...}; CDK sets it.
    resource_names: dict[str, str] = Field(default_factory=dict)
    aws_region: str = Field("us-east-1", validation_alias="AWS_REGION")
    # Set for LocalStack or the embedded moto server; unset in AWS.
    aws_endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")

    # Identity
    jwt_secret: SecretStr | None = None  # HS256, local/dev only
    jwt_issuer: str = "creator-chat-local"
    jwt_audience: str = "creator-chat"
    jwks_url: str | None = None  # RS256/ES256 (Cognito) in AWS
    jwt_leeway_s: int = 30
    # a token naming an unknown key refetches the JWKS at most this often (a flood of random
    # kids must not turn into a flood of fetches)
    jwks_refresh_cooldown_s: float = 30.0
    session_ttl_s: int = 24 * 3600
    # tokens living longer are refused: an erasure refuses earlier tokens for this long
    max_token_lifetime_s: int = 7 * 24 * 3600

    # Conversations
    thread_idle_ttl_s: int = 7 * 24 * 3600
    # A question shows in a creator's trending only once this many different fans asked it
    # (before that its words are not even stored outside the fans' threads).
    trending_min_askers: int = Field(default=3, ge=1)
    # Content gaps and down-rated questions: a question joins a group of questions whose
    # centroid it is at least this cosine-close to (calibrated for the local MiniLM embedder
    # by bench/gap_threshold.py; run it again with another embedder). The same number of
    # different fans as trending must ask a group before its words are shown or stored.
    gap_similarity: float = Field(default=DEFAULT_GROUP_SIMILARITY, gt=0.0, le=1.0)
    history_messages: int = 6
    max_message_chars: int = 4000

    # GDPR export: answered inline up to this many messages (each thread's count, summed);
    # a larger account gets an export job (202, then a download link) instead
    export_inline_max_messages: int = Field(default=500, ge=0)
    # an export job's record and file live this long; a download link, this long
    export_ttl_s: int = Field(default=24 * 3600, ge=60)
    export_url_ttl_s: int = Field(default=900, ge=1, le=7 * 24 * 3600)

    # Quotas (requests per user per hour)
    quota_window_s: int = 3600
    quota_free: int = 50
    quota_premium: int = 500
    quota_enterprise: int = 5000

    # Monthly token budgets (input + output tokens of generated answers per user and calendar
    # month, UTC). An uncached answer costs ~2,850 tokens (docs/cost.md: a 2,500-token
    # prompt, a 350-token answer; ~$1 per million with Claude 3.5 Haiku), so the defaults are
    # ~140 answers a month for free (~$0.40 of generation per fan), ~1,400 for premium and
    # ~14,000 for enterprise. Each question reserves ``prompt_token_budget +
    # answer_max_tokens`` (its worst case) until its answer settles (README "Token budgets").
    # each holds a tier's hourly quota of answers in flight at their worst case (50 x 6,700 for
    # free): a burst within the hourly quota is never refused for the budget's holds alone
    token_budget_free: int = Field(default=400_000, ge=1)
    token_budget_premium: int = Field(default=4_000_000, ge=1)
    token_budget_enterprise: int = Field(default=40_000_000, ge=1)
    # An answer's reservation that was never settled (its process died mid-answer) is given
    # back after this long: longer than any answer can take, a queued one included (the
    # llm-jobs queue keeps a job 4 days).
    token_hold_ttl_s: int = Field(default=4 * 24 * 3600 + 3600, ge=60)

    # Retrieval and generation
    embedder: Literal["local", "bedrock"] = "local"
    embedding_model_id: str = "amazon.titan-embed-text-v2:0"
    vector_index: Literal["local", "opensearch", "s3vectors"] = "local"
    opensearch_endpoint: str | None = None
    opensearch_index: str = "creator-chunks"
    # vector_index "s3vectors": one vector bucket, one index per embedding dimension named
    # "<s3vectors_index>-<dimension>" (e.g. creator-chunks-1024); BM25 re-scores the nearest
    # ``s3vectors_candidates`` of each query (S3 Vectors has no keyword search)
    s3vectors_bucket: str | None = None
    s3vectors_index: str = "creator-chunks"
    s3vectors_candidates: int = Field(default=20, ge=1, le=100)
    generator: Literal["local", "bedrock", "openai"] = "local"
    generation_model_id: str = "anthropic.claude-3-5-haiku-20241022-v1:0"
    # generator "openai": any OpenAI-compatible chat completions server (Ollama, llama.cpp's
    # llama-server, vLLM), e.g. base URL http://localhost:11434/v1 and model llama3.1:8b
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: SecretStr | None = None  # most local servers need none
    # a local model on a CPU is slow: the whole reply must arrive within this
    openai_timeout_s: float = Field(default=60.0, gt=0)
    top_k: int = 5
    similarity_floor: float = 0.35
    # a rerank stage between retrieval and the prompt: "bedrock" reads the question with each
    # of ``rerank_candidates`` hits (the Bedrock Rerank API); locally none ships offline
    reranker: Literal["none", "bedrock"] = "none"
    rerank_model_id: str = "amazon.rerank-v1:0"
    rerank_candidates: int = Field(default=20, ge=1, le=100)
    prompt_token_budget: int = 6000
    answer_max_tokens: int = 700
    llm_timeout_s: float = 20.0

    # Caches
    redis_url: str | None = None
    cache_timeout_s: float = 0.05

    # Ingest
    max_document_bytes: int = 5 * 1024 * 1024
    max_inline_document_bytes: int = 1024 * 1024
    # How long an upload ticket's form is valid; a ticket not completed by then ends
    # ``failed`` ("upload not completed")
    upload_url_ttl_s: int = Field(default=900, ge=1, le=7 * 24 * 3600)

    # Local runtime
    data_dir: Path | None = None
    # Which adapter family holds tables, queues and uploads: "embedded" (one SQLite database
    # in the data dir) or "aws" (DynamoDB, SQS, S3 — in AWS, or on LocalStack/moto through
    # AWS_ENDPOINT_URL). Unset: "aws" in a deployed environment or when AWS_ENDPOINT_URL is
    # set, "embedded" otherwise.
    storage: Literal["embedded", "aws"] | None = None
    # SQLite's durability: NORMAL survives a crash of the process (kill -9); FULL also an OS
    # crash or power loss, at ~5x the cost per commit.
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    # Where the local gateway is reached (upload URLs point there); the runtime sets it.
    public_url: str = "http://127.0.0.1:8080"
    # The local web page's dev sign-in (any fan's token for the asking) on a server that is
    # reachable from other hosts (bound to other than loopback): off unless set (serve's
    # --allow-dev-sign-in). On a loopback bind it is always on.
    dev_sign_in: bool = False

    @field_validator("resource_names", mode="before")
    @classmethod
    def _parse_names(cls, value: object) -> object:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @model_validator(mode="after")
    def _generator_configured(self) -> Settings:
        if self.generator == "openai":
            missing = [
                f"CREATOR_CHAT_OPENAI_{name.upper()}"
                for name in ("base_url", "model")
                if not (getattr(self, f"openai_{name}") or "").strip()
            ]
            if missing:
                raise ValueError(
                    f"CREATOR_CHAT_GENERATOR=openai needs {' and '.join(missing)} (e.g. "
                    "CREATOR_CHAT_OPENAI_BASE_URL=http://localhost:11434/v1 "
                    "CREATOR_CHAT_OPENAI_MODEL=llama3.1:8b for Ollama)"
                )
            if not str(self.openai_base_url).startswith(("http://", "https://")):
                raise ValueError(
                    "CREATOR_CHAT_OPENAI_BASE_URL must be an http(s) URL, e.g. "
                    "http://localhost:11434/v1"
                )
        return self

    @property
    def storage_family(self) -> Literal["embedded", "aws"]:
        if self.storage is not None:
            return self.storage
        if self.env in ("dev", "staging", "prod") or self.aws_endpoint_url:
            return "aws"
        return "embedded"

    def physical_name(self, kind: Literal["table", "queue", "bucket"], logical: str) -> str:
        """The deployed name of a declared resource."""
        return self.resource_names.get(f"{kind}:{logical}", f"{self.resource_prefix}-{logical}")

    def quota_for(self, tier: Tier) -> int:
        return {
            Tier.FREE: self.quota_free,
            Tier.PREMIUM: self.quota_premium,
            Tier.ENTERPRISE: self.quota_enterprise,
        }[tier]

    def token_budget_for(self, tier: Tier) -> int:
        return {
            Tier.FREE: self.token_budget_free,
            Tier.PREMIUM: self.token_budget_premium,
            Tier.ENTERPRISE: self.token_budget_enterprise,
        }[tier]

"""Typed settings, read once from the environment (prefix ``CREATOR_CHAT_``).

One model for every function and the local runtime. In AWS the CDK app sets the
variables; locally ``creator-chat serve`` does. A missing or malformed value fails at start,
naming the variable and never echoing its value (it may be a secret).

Written on the standard library rather than pydantic-settings: every Lambda function builds
its settings at init, and pydantic-settings (with pydantic under it) cost the authorizer and
the SQS workers ~90 ms of each cold start (``bench/cold_start.py --import-profile``) for what
is a flat list of typed environment variables. The types this module reads are the ones
declared below: ``str``, ``int``, ``float``, ``bool``, ``Path``, ``Literal[...]``,
``dict[str, str]`` (JSON), :class:`SecretStr`, each optionally ``| None``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any, Literal

from creator_chat.domain.insights import DEFAULT_GROUP_SIMILARITY
from creator_chat.domain.models import Tier

PREFIX = "CREATOR_CHAT_"


class SettingsError(ValueError):
    """A setting could not be read: names each variable and what is wrong, never its value."""


class SecretStr:
    """A secret that never shows in a repr, a log line or an error."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretStr('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def setting(
    default: Any,
    *,
    env: str | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
) -> Any:
    """A setting with bounds, or read from ``env`` instead of ``CREATOR_CHAT_<NAME>``."""
    return field(default=default, metadata={"env": env, "ge": ge, "gt": gt, "le": le})


@dataclass(frozen=True, init=False)
class Settings:
    env: Literal["local", "test", "dev", "staging", "prod"] = "local"
    resource_prefix: str = "creator-chat-local"
    # {"table:creators": "physical-name", "queue:llm-jobs": "physical-name", ...}; CDK sets it.
    resource_names: dict[str, str] = field(default_factory=dict)
    aws_region: str = setting("us-east-1", env="AWS_REGION")
    # Set for LocalStack or the embedded moto server; unset in AWS.
    aws_endpoint_url: str | None = setting(None, env="AWS_ENDPOINT_URL")

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
    trending_min_askers: int = setting(3, ge=1)
    # Content gaps and down-rated questions: a question joins a group of questions whose
    # centroid it is at least this cosine-close to (calibrated for the local MiniLM embedder
    # by bench/gap_threshold.py; run it again with another embedder). The same number of
    # different fans as trending must ask a group before its words are shown or stored.
    gap_similarity: float = setting(DEFAULT_GROUP_SIMILARITY, gt=0.0, le=1.0)
    history_messages: int = 6
    max_message_chars: int = 4000

    # GDPR export: answered inline up to this many messages (each thread's count, summed);
    # a larger account gets an export job (202, then a download link) instead
    export_inline_max_messages: int = setting(500, ge=0)
    # an export job's record and file live this long; a download link, this long
    export_ttl_s: int = setting(24 * 3600, ge=60)
    export_url_ttl_s: int = setting(900, ge=1, le=7 * 24 * 3600)

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
    token_budget_free: int = setting(400_000, ge=1)
    token_budget_premium: int = setting(4_000_000, ge=1)
    token_budget_enterprise: int = setting(40_000_000, ge=1)
    # An answer's reservation that was never settled (its process died mid-answer) is given
    # back after this long: longer than any answer can take, a queued one included (the
    # llm-jobs queue keeps a job 4 days).
    token_hold_ttl_s: int = setting(4 * 24 * 3600 + 3600, ge=60)

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
    s3vectors_candidates: int = setting(20, ge=1, le=100)
    generator: Literal["local", "bedrock", "openai"] = "local"
    generation_model_id: str = "anthropic.claude-3-5-haiku-20241022-v1:0"
    # generator "openai": any OpenAI-compatible chat completions server (Ollama, llama.cpp's
    # llama-server, vLLM), e.g. base URL http://localhost:11434/v1 and model llama3.1:8b
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: SecretStr | None = None  # most local servers need none
    # a local model on a CPU is slow: the whole reply must arrive within this
    openai_timeout_s: float = setting(60.0, gt=0)
    top_k: int = 5
    similarity_floor: float = 0.35
    # a rerank stage between retrieval and the prompt: "bedrock" reads the question with each
    # of ``rerank_candidates`` hits (the Bedrock Rerank API); locally none ships offline
    reranker: Literal["none", "bedrock"] = "none"
    rerank_model_id: str = "amazon.rerank-v1:0"
    rerank_candidates: int = setting(20, ge=1, le=100)
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
    upload_url_ttl_s: int = setting(900, ge=1, le=7 * 24 * 3600)

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

    def __init__(self, **overrides: Any) -> None:
        """The environment, with ``overrides`` (by field name) taking precedence."""
        unknown = set(overrides) - _FIELD_NAMES
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        errors: list[str] = []
        hints = _hints()
        for f in dataclasses.fields(self):
            name = _env_name(f)
            if f.name in overrides:
                raw, from_env = overrides[f.name], False
            elif name in os.environ:
                raw, from_env = os.environ[name], True
            elif f.default_factory is not MISSING:
                raw, from_env = f.default_factory(), False
            else:
                raw, from_env = f.default, False
            try:
                value = _coerce(hints[f.name], raw, from_env)
                _check_bounds(f, value)
            except (TypeError, ValueError) as exc:
                errors.append(f"{name}: {exc}")
                continue
            object.__setattr__(self, f.name, value)
        if not errors:
            errors = self._generator_problems()
        if errors:
            raise SettingsError("invalid settings:\n  " + "\n  ".join(errors))

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (validated like the rest)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return Settings(**{**values, **changes})

    def _generator_problems(self) -> list[str]:
        if self.generator != "openai":
            return []
        missing = [
            f"CREATOR_CHAT_OPENAI_{name.upper()}"
            for name in ("base_url", "model")
            if not (getattr(self, f"openai_{name}") or "").strip()
        ]
        if missing:
            return [
                f"CREATOR_CHAT_GENERATOR=openai needs {' and '.join(missing)} (e.g. "
                "CREATOR_CHAT_OPENAI_BASE_URL=http://localhost:11434/v1 "
                "CREATOR_CHAT_OPENAI_MODEL=llama3.1:8b for Ollama)"
            ]
        if not str(self.openai_base_url).startswith(("http://", "https://")):
            return [
                "CREATOR_CHAT_OPENAI_BASE_URL must be an http(s) URL, e.g. "
                "http://localhost:11434/v1"
            ]
        return []

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


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Settings))
_TRUE = frozenset(("1", "true", "yes", "on", "y", "t"))
_FALSE = frozenset(("0", "false", "no", "off", "n", "f"))
_resolved: dict[str, Any] = {}


def _hints() -> dict[str, Any]:
    if not _resolved:
        _resolved.update(typing.get_type_hints(Settings))
    return _resolved


def _env_name(f: dataclasses.Field[Any]) -> str:
    env: str | None = f.metadata.get("env")
    return env or PREFIX + f.name.upper()


def _coerce(hint: Any, raw: Any, from_env: bool) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if raw is None:
            return None
        if from_env and raw == "" and inner != [str]:
            return None  # an empty variable is an unset one
        (only,) = inner
        return _coerce(only, raw, from_env)
    if origin is Literal:
        choices = typing.get_args(hint)
        if raw in choices:
            return raw
        raise ValueError(f"must be one of {', '.join(map(str, choices))}")
    if origin is dict:
        value = raw
        if isinstance(raw, str):
            try:
                value = json.loads(raw) if raw.strip() else {}
            except ValueError:
                value = None
        if isinstance(value, Mapping) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            return dict(value)
        raise ValueError("must be a JSON object of strings")
    if hint is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise ValueError("must be true or false")
    if hint is int or hint is float:
        return _number(hint, raw)
    if hint is str:
        if isinstance(raw, str):
            return raw
        raise ValueError("must be text")
    if hint is Path:
        if isinstance(raw, str | os.PathLike):
            return Path(raw)
        raise ValueError("must be a path")
    if hint is SecretStr:
        if isinstance(raw, SecretStr):
            return raw
        if isinstance(raw, str):
            return SecretStr(raw)
        raise ValueError("must be text")
    raise TypeError(f"unsupported setting type {hint!r}")


def _number(kind: type[int] | type[float], raw: Any) -> int | float:
    message = "must be a whole number" if kind is int else "must be a number"
    if isinstance(raw, bool):
        raise ValueError(message)
    if isinstance(raw, int) or (kind is float and isinstance(raw, float)):
        return kind(raw)
    if isinstance(raw, str):
        try:
            return kind(raw.strip())
        except ValueError:
            pass
    raise ValueError(message)


def _check_bounds(f: dataclasses.Field[Any], value: Any) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    ge, gt, le = f.metadata.get("ge"), f.metadata.get("gt"), f.metadata.get("le")
    if ge is not None and value < ge:
        raise ValueError(f"must be at least {ge}")
    if gt is not None and value <= gt:
        raise ValueError(f"must be more than {gt}")
    if le is not None and value > le:
        raise ValueError(f"must be at most {le}")

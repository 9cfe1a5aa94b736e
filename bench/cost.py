"""What creator-chat costs on AWS, computed from the synthesized CloudFormation templates.

For each environment: the idle cost per month (what the stack bills with no traffic) and the
cost of 1,000 chats, next to the same traffic on the peers' typical shape (vectors in an
always-on OpenSearch Serverless collection with redundancy). Every figure comes from the
template's resources (collections, caches, endpoints, provisioned concurrency, SnapStart,
alarms, tables, the functions' memory and Bedrock model ids) times a list price in
``PRICES``, so a change to the stack changes the table. Nothing is typed in by hand but the
prices and the traffic assumptions (``Assumptions``), both printed with the table.

    python bench/cost.py                        # synthesizes dev and prod offline (~15 s)
    python bench/cost.py --env prod
    python bench/cost.py --template dev=cdk.out/dev/CreatorChat-dev.template.json

Prices are AWS list prices for us-east-1 as the author knew them (2025): no network here to
re-read the pages, so verify them against the cited page before quoting a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HOURS_PER_MONTH = 730.0
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
AS_OF = "list price as of 2025 (author's knowledge; verify on the page)"

Template = Mapping[str, Any]


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    as_of: str = AS_OF


_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_AOSS = "https://aws.amazon.com/opensearch-service/pricing/ (Serverless tab)"
_AOSS_MIN = (
    "https://docs.aws.amazon.com/opensearch-service/latest/developerguide/"
    "serverless-overview.html#serverless-scaling (minimum OCUs)"
)
_CACHE = "https://aws.amazon.com/elasticache/pricing/ (Serverless)"
_CW = "https://aws.amazon.com/cloudwatch/pricing/"
_DDB = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
_DDB_PROV = "https://aws.amazon.com/dynamodb/pricing/provisioned/"
_BEDROCK = "https://aws.amazon.com/bedrock/pricing/"
_S3V = "https://aws.amazon.com/s3/pricing/ (S3 Vectors)"

# us-east-1 list prices. Keys are what the model below asks for.
PRICES: dict[str, Price] = {
    "aoss.ocu_hour": Price(0.24, "per OCU-hour (indexing or search)", _AOSS),
    "aoss.storage_gb_month": Price(0.024, "per GB-month of index data in S3", _AOSS),
    "aoss.min_ocu_redundant": Price(
        2.0, "OCUs billed at minimum with standby replicas (1 indexing + 1 search)", _AOSS_MIN
    ),
    "aoss.min_ocu_no_standby": Price(
        1.0, "OCUs billed at minimum without standby replicas (0.5 + 0.5)", _AOSS_MIN
    ),
    "cache.valkey_gb_hour": Price(0.084, "per GB-hour stored, Valkey serverless", _CACHE),
    "cache.valkey_min_gb": Price(0.1, "GB minimum billed storage, Valkey serverless", _CACHE),
    "cache.valkey_ecpu_million": Price(0.0023, "per million ECPUs, Valkey serverless", _CACHE),
    "cache.redis_gb_hour": Price(0.125, "per GB-hour stored, Redis OSS serverless", _CACHE),
    "cache.redis_min_gb": Price(1.0, "GB minimum billed storage, Redis OSS serverless", _CACHE),
    "cache.redis_ecpu_million": Price(0.0034, "per million ECPUs, Redis OSS serverless", _CACHE),
    "vpce.interface_az_hour": Price(
        0.01, "per interface endpoint per AZ-hour", "https://aws.amazon.com/privatelink/pricing/"
    ),
    "vpc.nat_hour": Price(0.045, "per NAT gateway-hour", "https://aws.amazon.com/vpc/pricing/"),
    "lambda.requests_million": Price(0.20, "per million requests", _LAMBDA),
    "lambda.arm64_gb_s": Price(0.0000133334, "per GB-second, arm64", _LAMBDA),
    "lambda.x86_64_gb_s": Price(0.0000166667, "per GB-second, x86_64", _LAMBDA),
    "lambda.pc.arm64_gb_s": Price(0.0000033334, "per GB-s provisioned, arm64", _LAMBDA),
    "lambda.pc.x86_64_gb_s": Price(0.0000041667, "per GB-s provisioned, x86_64", _LAMBDA),
    "lambda.pc_duration.arm64_gb_s": Price(
        0.0000108333, "per GB-s run on provisioned concurrency, arm64", _LAMBDA
    ),
    "lambda.pc_duration.x86_64_gb_s": Price(
        0.0000097222, "per GB-s run on provisioned concurrency, x86_64", _LAMBDA
    ),
    "lambda.snapstart_cache_gb_s": Price(
        0.0000015046, "per GB-s a SnapStart snapshot is cached (Python)", _LAMBDA
    ),
    "lambda.snapstart_restore_gb": Price(
        0.0001397998, "per GB restored from a SnapStart snapshot (Python)", _LAMBDA
    ),
    "apigw.http_million": Price(
        1.00, "per million HTTP API requests", "https://aws.amazon.com/api-gateway/pricing/"
    ),
    "ddb.wru_million": Price(0.625, "per million write request units, on-demand", _DDB),
    "ddb.rru_million": Price(0.125, "per million read request units, on-demand", _DDB),
    "ddb.wcu_hour": Price(0.00065, "per provisioned WCU-hour", _DDB_PROV),
    "ddb.rcu_hour": Price(0.00013, "per provisioned RCU-hour", _DDB_PROV),
    "cw.alarm_month": Price(0.10, "per standard-resolution alarm metric-month", _CW),
    "cw.dashboard_month": Price(3.00, "per dashboard-month (beyond the free 3)", _CW),
    "cw.logs_ingest_gb": Price(0.50, "per GB of logs ingested", _CW),
    "kms.key_month": Price(
        1.00, "per customer managed key-month", "https://aws.amazon.com/kms/pricing/"
    ),
    "sqs.million": Price(
        0.40, "per million standard-queue requests", "https://aws.amazon.com/sqs/pricing/"
    ),
    "s3v.storage_gb_month": Price(0.06, "per GB-month of vectors + metadata", _S3V),
    "s3v.put_gb": Price(0.20, "per GB of vectors uploaded", _S3V),
    "s3v.query_million": Price(2.50, "per million QueryVectors calls", _S3V),
    "s3v.query_tb": Price(0.004, "per TB of index data processed by queries", _S3V),
}

# Bedrock on-demand, per 1,000 tokens (input, output); rerank per 1,000 queries.
MODEL_PRICES: dict[str, tuple[float, float]] = {
    "amazon.titan-embed-text-v2:0": (0.00002, 0.0),
    "amazon.titan-embed-text-v1": (0.0001, 0.0),
    "cohere.embed-english-v3": (0.0001, 0.0),
    "cohere.embed-multilingual-v3": (0.0001, 0.0),
    "anthropic.claude-3-5-haiku-20241022-v1:0": (0.0008, 0.004),
    "anthropic.claude-3-haiku-20240307-v1:0": (0.00025, 0.00125),
    "anthropic.claude-3-5-sonnet-20241022-v2:0": (0.003, 0.015),
    "anthropic.claude-3-7-sonnet-20250219-v1:0": (0.003, 0.015),
    "anthropic.claude-sonnet-4-20250514-v1:0": (0.003, 0.015),
    "amazon.nova-micro-v1:0": (0.000035, 0.00014),
    "amazon.nova-lite-v1:0": (0.00006, 0.00024),
    "amazon.nova-pro-v1:0": (0.0008, 0.0032),
}
RERANK_PRICES: dict[str, float] = {"amazon.rerank-v1:0": 1.00, "cohere.rerank-v3-5:0": 2.00}


def model_price(model_id: str) -> tuple[float, float] | None:
    """Price of a Bedrock model id, inference-profile prefixes (``us.``) stripped."""
    for prefix in ("global.", "us.", "eu.", "apac."):
        model_id = model_id.removeprefix(prefix)
    return MODEL_PRICES.get(model_id)


@dataclass(frozen=True)
class Assumptions:
    """Traffic assumptions for one chat (a fan's question answered with sources)."""

    question_tokens: int = 30  # embedded once per chat unless the embedding cache hits
    prompt_tokens: int = 2500  # persona + 5 retrieved chunks + last turns + question
    answer_tokens: int = 350
    embedding_cache_hit: float = 0.30
    response_cache_hit: float = 0.10  # a hit skips retrieval, rerank and generation
    authorizer_calls_per_chat: float = 0.5  # HTTP API caches the decision (TTL in template)
    authorizer_ms: float = 25.0
    chat_ms: float = 2800.0  # the chat Lambda waits for Converse (answered in-request)
    chat_ms_cached: float = 120.0
    # session (read with its erasure and legacy checks: 3 items a call), quota, creator,
    # thread, last N messages
    ddb_read_units: float = 9.0
    ddb_write_units: float = 7.0  # rate counter, usage, 2 messages (≤2 KB), thread TTL
    cache_ecpus: float = 12.0  # embedding, retrieval-context and response get/set
    log_kb: float = 3.0  # structured logs + EMF per chat
    corpus_chunks: int = 100_000  # vectors stored (for storage and S3 Vectors scans)
    vector_dims: int = 1024  # Titan Text Embeddings V2 default
    vector_metadata_bytes: int = 1024
    sqs_esm_pollers: int = 5  # Lambda's idle pollers per SQS event source (long polls)
    sqs_long_poll_s: int = 20

    @property
    def corpus_gb(self) -> float:
        per_vector = self.vector_dims * 4 + self.vector_metadata_bytes
        return self.corpus_chunks * per_vector / 1e9


@dataclass
class Line:
    component: str
    usd: float
    detail: str
    prices: tuple[str, ...] = ()


@dataclass
class EnvCost:
    env: str
    idle: list[Line] = field(default_factory=list)
    per_1000: list[Line] = field(default_factory=list)
    peer_idle: list[Line] = field(default_factory=list)
    peer_per_1000: list[Line] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @staticmethod
    def total(lines: Iterable[Line]) -> float:
        return sum(line.usd for line in lines)


def _p(key: str) -> float:
    return PRICES[key].usd


def _resources(template: Template, *types: str) -> list[tuple[str, dict[str, Any]]]:
    return [(k, r) for k, r in template.get("Resources", {}).items() if r.get("Type") in types]


def _props(resource: Mapping[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = resource.get("Properties", {}) or {}
    return props


def _functions(template: Template) -> dict[str, tuple[str, dict[str, Any]]]:
    """The project's functions by service name (POWERTOOLS_SERVICE_NAME)."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for logical, res in _resources(template, "AWS::Lambda::Function"):
        props = _props(res)
        name = props.get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME")
        if name:
            out[name] = (logical, props)
    return out


def _arch(props: Mapping[str, Any]) -> str:
    return "arm64" if "arm64" in (props.get("Architectures") or ["x86_64"]) else "x86_64"


def _gb(props: Mapping[str, Any]) -> float:
    return float(props.get("MemorySize", 128)) / 1024


def _refs(value: Any) -> set[str]:
    """Logical ids a CloudFormation value refers to (Ref / GetAtt, anywhere inside)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt" and isinstance(v, list) and v:
                found.add(str(v[0]))
            else:
                found |= _refs(v)
    elif isinstance(value, list):
        for v in value:
            found |= _refs(v)
    return found


def _collection_line(logical: str, standby: bool, label: str = "") -> Line:
    ocus = _p("aoss.min_ocu_redundant" if standby else "aoss.min_ocu_no_standby")
    key = "aoss.min_ocu_redundant" if standby else "aoss.min_ocu_no_standby"
    return Line(
        f"OpenSearch Serverless collection{label}",
        ocus * _p("aoss.ocu_hour") * HOURS_PER_MONTH,
        f"{logical}: standby replicas {'on' if standby else 'off'} → {ocus:g} OCU minimum",
        (key, "aoss.ocu_hour"),
    )


def vector_store(template: Template) -> str:
    """Which vector store the chat function reads: "opensearch", "s3vectors", ..."""
    fn = _functions(template).get("chat")
    variables = fn[1].get("Environment", {}).get("Variables", {}) if fn else {}
    return str(variables.get("CREATOR_CHAT_VECTOR_INDEX", "opensearch"))


def idle_cost(template: Template, a: Assumptions = Assumptions()) -> list[Line]:
    """What the stack bills per month with no traffic, one line per billed resource kind."""
    lines: list[Line] = []
    for logical, res in _resources(template, "AWS::OpenSearchServerless::Collection"):
        standby = _props(res).get("StandbyReplicas", "ENABLED") != "DISABLED"
        lines.append(_collection_line(logical, standby))
        lines.append(
            Line(
                "OpenSearch Serverless storage",
                a.corpus_gb * _p("aoss.storage_gb_month"),
                f"{logical}: {a.corpus_gb:.2f} GB assumed corpus",
                ("aoss.storage_gb_month",),
            )
        )
    for logical, res in _resources(template, "AWS::ElastiCache::ServerlessCache"):
        engine = str(_props(res).get("Engine", "redis")).lower()
        kind = "valkey" if engine == "valkey" else "redis"
        gb = _p(f"cache.{kind}_min_gb")
        lines.append(
            Line(
                f"ElastiCache Serverless ({engine}) minimum storage",
                gb * _p(f"cache.{kind}_gb_hour") * HOURS_PER_MONTH,
                f"{logical}: {gb:g} GB minimum billed",
                (f"cache.{kind}_min_gb", f"cache.{kind}_gb_hour"),
            )
        )
    az_hours = 0.0
    names = []
    for logical, res in _resources(template, "AWS::EC2::VPCEndpoint"):
        props = _props(res)
        if props.get("VpcEndpointType", "Gateway") == "Interface":
            az_hours += max(1, len(props.get("SubnetIds", []))) * HOURS_PER_MONTH
            names.append(logical)
    for logical, res in _resources(template, "AWS::OpenSearchServerless::VpcEndpoint"):
        az_hours += max(1, len(_props(res).get("SubnetIds", []))) * HOURS_PER_MONTH
        names.append(logical)
    if names:
        lines.append(
            Line(
                "VPC interface endpoints",
                az_hours * _p("vpce.interface_az_hour"),
                f"{len(names)} endpoints, {az_hours / HOURS_PER_MONTH:g} endpoint-AZs",
                ("vpce.interface_az_hour",),
            )
        )
    nats = _resources(template, "AWS::EC2::NatGateway")
    if nats:
        lines.append(
            Line(
                "NAT gateways",
                len(nats) * _p("vpc.nat_hour") * HOURS_PER_MONTH,
                f"{len(nats)} gateways",
                ("vpc.nat_hour",),
            )
        )
    lines += _lambda_idle(template)
    lines += _dynamodb_idle(template)
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    if alarms:
        # a metric-math alarm is billed per metric it reads (expressions are free)
        metrics = sum(
            max(1, sum(1 for m in _props(r).get("Metrics", []) or [] if "MetricStat" in m))
            for _, r in alarms
        )
        lines.append(
            Line(
                "CloudWatch alarms",
                metrics * _p("cw.alarm_month"),
                f"{len(alarms)} alarms, {metrics} metrics",
                ("cw.alarm_month",),
            )
        )
    dashboards = _resources(template, "AWS::CloudWatch::Dashboard")
    if dashboards:
        lines.append(
            Line(
                "CloudWatch dashboards",
                len(dashboards) * _p("cw.dashboard_month"),
                f"{len(dashboards)} dashboards",
                ("cw.dashboard_month",),
            )
        )
    keys = _resources(template, "AWS::KMS::Key")
    if keys:
        lines.append(
            Line(
                "KMS customer managed keys",
                len(keys) * _p("kms.key_month"),
                f"{len(keys)} keys",
                ("kms.key_month",),
            )
        )
    sqs_sources = [
        r
        for _, r in _resources(template, "AWS::Lambda::EventSourceMapping")
        if ":sqs:" in json.dumps(_props(r).get("EventSourceArn", ""))
        or any("Queue" in ref for ref in _refs(_props(r).get("EventSourceArn")))
    ]
    if sqs_sources:
        polls = len(sqs_sources) * a.sqs_esm_pollers * SECONDS_PER_MONTH / a.sqs_long_poll_s
        lines.append(
            Line(
                "SQS polling by Lambda event sources",
                polls / 1e6 * _p("sqs.million"),
                f"{len(sqs_sources)} sources x {a.sqs_esm_pollers} pollers, "
                f"{a.sqs_long_poll_s} s long polls",
                ("sqs.million",),
            )
        )
    if vector_store(template) == "s3vectors" or _resources(
        template, "AWS::S3Vectors::VectorBucket", "AWS::S3Vectors::Index"
    ):
        lines.append(
            Line(
                "S3 Vectors storage",
                a.corpus_gb * _p("s3v.storage_gb_month"),
                f"{a.corpus_gb:.2f} GB assumed corpus",
                ("s3v.storage_gb_month",),
            )
        )
    return lines


def _lambda_idle(template: Template) -> list[Line]:
    lines: list[Line] = []
    functions = {logical: props for logical, (_, props) in _by_logical(template).items()}
    versions = {k: _props(r) for k, r in _resources(template, "AWS::Lambda::Version")}
    for logical, res in _resources(template, "AWS::Lambda::Alias", "AWS::Lambda::Version"):
        props = _props(res)
        pc = (props.get("ProvisionedConcurrencyConfig") or {}).get(
            "ProvisionedConcurrentExecutions"
        )
        if not pc:
            continue
        targets = _refs(props.get("FunctionName"))
        for v in _refs(props.get("FunctionVersion")):
            targets |= _refs(versions.get(v, {}).get("FunctionName"))
        fn = next((functions[t] for t in targets if t in functions), None)
        if fn is None:
            continue
        arch = _arch(fn)
        lines.append(
            Line(
                "Lambda provisioned concurrency",
                int(pc) * _gb(fn) * SECONDS_PER_MONTH * _p(f"lambda.pc.{arch}_gb_s"),
                f"{logical}: {pc} x {fn.get('MemorySize')} MB {arch}",
                (f"lambda.pc.{arch}_gb_s",),
            )
        )
    for logical, fn in functions.items():
        snap = (fn.get("SnapStart") or {}).get("ApplyOn")
        if snap == "PublishedVersions":
            # one cached snapshot per published version that is live (the alias's)
            lines.append(
                Line(
                    "Lambda SnapStart snapshot cache",
                    _gb(fn) * SECONDS_PER_MONTH * _p("lambda.snapstart_cache_gb_s"),
                    f"{logical}: {fn.get('MemorySize')} MB cached",
                    ("lambda.snapstart_cache_gb_s",),
                )
            )
    return lines


def _by_logical(template: Template) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        logical: (logical, _props(r))
        for logical, r in _resources(template, "AWS::Lambda::Function")
    }


def _dynamodb_idle(template: Template) -> list[Line]:
    wcu = rcu = 0.0
    tables = _resources(template, "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
    for _, res in tables:
        props = _props(res)
        if props.get("BillingMode", "PROVISIONED") == "PAY_PER_REQUEST":
            continue
        replicas = max(1, len(props.get("Replicas", [])))
        throughput = props.get("ProvisionedThroughput") or {}
        wcu += (
            float(
                (props.get("WriteProvisionedThroughputSettings") or {})
                .get("WriteCapacityAutoScalingSettings", {})
                .get("MinCapacity", throughput.get("WriteCapacityUnits", 0))
            )
            * replicas
        )
        rcu += float(throughput.get("ReadCapacityUnits", 0)) * replicas
    if not (wcu or rcu):
        return []
    return [
        Line(
            "DynamoDB provisioned capacity",
            (wcu * _p("ddb.wcu_hour") + rcu * _p("ddb.rcu_hour")) * HOURS_PER_MONTH,
            f"{wcu:g} WCU, {rcu:g} RCU",
            ("ddb.wcu_hour", "ddb.rcu_hour"),
        )
    ]


def _max_replicas(template: Template) -> int:
    tables = _resources(template, "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
    return max((max(1, len(_props(r).get("Replicas", []))) for _, r in tables), default=1)


def per_1000_chats(
    template: Template, a: Assumptions = Assumptions(), warnings: list[str] | None = None
) -> list[Line]:
    """The cost of 1,000 chats on this template, one line per service."""
    warnings = warnings if warnings is not None else []
    n = 1000.0
    fns = _functions(template)
    miss = 1 - a.response_cache_hit
    lines: list[Line] = []
    chat = fns.get("chat")
    env = chat[1].get("Environment", {}).get("Variables", {}) if chat else {}
    embed_id = env.get("CREATOR_CHAT_EMBEDDING_MODEL_ID")
    gen_id = env.get("CREATOR_CHAT_GENERATION_MODEL_ID")
    rerank_id = env.get("CREATOR_CHAT_RERANK_MODEL_ID")
    if embed_id:
        price = model_price(embed_id)
        if price is None:
            warnings.append(f"no price for embedding model {embed_id}")
        else:
            tokens = n * miss * (1 - a.embedding_cache_hit) * a.question_tokens
            lines.append(
                Line(
                    "Bedrock embeddings",
                    tokens / 1000 * price[0],
                    f"{embed_id}: {tokens:,.0f} tokens",
                    ("bedrock",),
                )
            )
    if rerank_id and env.get("CREATOR_CHAT_RERANKER", "bedrock") != "none":
        per_k = RERANK_PRICES.get(rerank_id.removeprefix("us."))
        if per_k is None:
            warnings.append(f"no price for rerank model {rerank_id}")
        else:
            lines.append(
                Line(
                    "Bedrock rerank",
                    n * miss / 1000 * per_k,
                    f"{rerank_id}: {n * miss:,.0f} queries",
                    ("bedrock",),
                )
            )
    if gen_id:
        price = model_price(gen_id)
        if price is None:
            warnings.append(f"no price for generation model {gen_id}")
        else:
            tin, tout = n * miss * a.prompt_tokens, n * miss * a.answer_tokens
            lines.append(
                Line(
                    "Bedrock generation",
                    tin / 1000 * price[0] + tout / 1000 * price[1],
                    f"{gen_id}: {tin:,.0f} in + {tout:,.0f} out tokens",
                    ("bedrock",),
                )
            )
    # Lambda: the authorizer (when the API does not answer from its cache) and the chat call
    invocations = 0.0
    gb_s_cost = 0.0
    duration_keys: set[str] = set()
    details = []
    auth = fns.get("authorizer")
    ttl = 0
    for _, res in _resources(template, "AWS::ApiGatewayV2::Authorizer"):
        ttl = int(_props(res).get("AuthorizerResultTtlInSeconds", 0) or 0)
    if auth:
        calls = n * (a.authorizer_calls_per_chat if ttl else 1.0)
        gb_s = calls * a.authorizer_ms / 1000 * _gb(auth[1])
        invocations += calls
        key = f"lambda.{_duration_key(template, auth[0], auth[1])}"
        duration_keys.add(key)
        gb_s_cost += gb_s * _p(key)
        details.append(
            f"authorizer {calls:,.0f} x {a.authorizer_ms:g} ms x {auth[1]['MemorySize']} MB"
        )
    if chat:
        ms = miss * a.chat_ms + a.response_cache_hit * a.chat_ms_cached
        gb_s = n * ms / 1000 * _gb(chat[1])
        invocations += n
        key = f"lambda.{_duration_key(template, chat[0], chat[1])}"
        duration_keys.add(key)
        gb_s_cost += gb_s * _p(key)
        details.append(f"chat {n:,.0f} x {ms:,.0f} ms x {chat[1]['MemorySize']} MB")
    if invocations:
        lines.append(
            Line(
                "Lambda requests + duration",
                invocations / 1e6 * _p("lambda.requests_million") + gb_s_cost,
                "; ".join(details),
                ("lambda.requests_million", *sorted(duration_keys)),
            )
        )
    if _resources(template, "AWS::ApiGatewayV2::Api"):
        lines.append(
            Line(
                "API Gateway HTTP API",
                n / 1e6 * _p("apigw.http_million"),
                f"{n:,.0f} requests",
                ("apigw.http_million",),
            )
        )
    tables = _resources(template, "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
    if tables:
        replicas = _max_replicas(template)
        on_demand = all(_props(r).get("BillingMode") == "PAY_PER_REQUEST" for _, r in tables)
        if on_demand:
            lines.append(
                Line(
                    "DynamoDB on-demand",
                    n * a.ddb_read_units / 1e6 * _p("ddb.rru_million")
                    + n * a.ddb_write_units * replicas / 1e6 * _p("ddb.wru_million"),
                    f"{n * a.ddb_read_units:,.0f} RRU + {n * a.ddb_write_units * replicas:,.0f} "
                    f"WRU ({replicas} replica(s))",
                    ("ddb.rru_million", "ddb.wru_million"),
                )
            )
    for _, res in _resources(template, "AWS::ElastiCache::ServerlessCache"):
        kind = "valkey" if str(_props(res).get("Engine", "")).lower() == "valkey" else "redis"
        lines.append(
            Line(
                f"ElastiCache Serverless ECPUs ({kind})",
                n * a.cache_ecpus / 1e6 * _p(f"cache.{kind}_ecpu_million"),
                f"{n * a.cache_ecpus:,.0f} ECPUs",
                (f"cache.{kind}_ecpu_million",),
            )
        )
    lines += _vector_per_1000(template, a)
    lines.append(
        Line(
            "CloudWatch Logs ingestion",
            n * a.log_kb / 1e6 * _p("cw.logs_ingest_gb"),
            f"{n * a.log_kb / 1000:,.1f} MB",
            ("cw.logs_ingest_gb",),
        )
    )
    return lines


def _duration_key(template: Template, logical: str, props: Mapping[str, Any]) -> str:
    arch = _arch(props)
    for _, res in _resources(template, "AWS::Lambda::Alias"):
        alias = _props(res)
        if logical in _refs(alias.get("FunctionName")) and alias.get(
            "ProvisionedConcurrencyConfig"
        ):
            return f"pc_duration.{arch}_gb_s"  # warm capacity: the cheaper duration rate
    return f"{arch}_gb_s"


def _vector_per_1000(template: Template, a: Assumptions) -> list[Line]:
    n = 1000.0 * (1 - a.response_cache_hit)
    store = vector_store(template)
    if store == "s3vectors":
        scanned_tb = n * a.corpus_gb / 1000
        return [
            Line(
                "S3 Vectors queries",
                n / 1e6 * _p("s3v.query_million") + scanned_tb * _p("s3v.query_tb"),
                f"{n:,.0f} queries over {a.corpus_gb:.2f} GB",
                ("s3v.query_million", "s3v.query_tb"),
            )
        ]
    if _resources(template, "AWS::OpenSearchServerless::Collection"):
        return [
            Line(
                "OpenSearch Serverless queries",
                0.0,
                f"{n:,.0f} queries within the minimum OCUs (billed as idle)",
                ("aoss.ocu_hour",),
            )
        ]
    return []


def _is_vector_line(line: Line) -> bool:
    return line.component.startswith(("OpenSearch Serverless", "S3 Vectors"))


def peer_shape(template: Template, a: Assumptions = Assumptions()) -> tuple[list[Line], list[Line]]:
    """The same stack with the vectors in an always-on OpenSearch Serverless collection with
    standby replicas (the peers' typical shape): idle and per-1,000-chat lines."""
    idle = [line for line in idle_cost(template, a) if not _is_vector_line(line)]
    idle.append(_collection_line("peer collection", True, " (peer: redundant)"))
    idle.append(
        Line(
            "OpenSearch Serverless storage",
            a.corpus_gb * _p("aoss.storage_gb_month"),
            f"{a.corpus_gb:.2f} GB assumed corpus",
            ("aoss.storage_gb_month",),
        )
    )
    chats = [line for line in per_1000_chats(template, a) if not _is_vector_line(line)]
    chats.append(
        Line("OpenSearch Serverless queries", 0.0, "within the minimum OCUs", ("aoss.ocu_hour",))
    )
    return idle, chats


def with_template_dimensions(template: Template, a: Assumptions) -> Assumptions:
    """The vector dimension the template's S3 Vectors index declares, if any."""
    for _, res in _resources(template, "AWS::S3Vectors::Index"):
        dimension = _props(res).get("Dimension")
        if isinstance(dimension, int):
            return replace(a, vector_dims=dimension)
    return a


def cost_of(env: str, template: Template, a: Assumptions = Assumptions()) -> EnvCost:
    a = with_template_dimensions(template, a)
    result = EnvCost(env)
    result.idle = idle_cost(template, a)
    result.per_1000 = per_1000_chats(template, a, result.warnings)
    result.peer_idle, result.peer_per_1000 = peer_shape(template, a)
    return result


def synthesize(envs: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each environment's template, synthesized offline (an empty dependency layer, no
    bundling): the same ``build_app`` that ``app.py`` and the infra tests use."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    sys.path.insert(0, str(ROOT))
    from infra_cdk.application import build_app

    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        layer = Path(tmp) / "deps-layer"
        layer.mkdir()
        for env in envs:
            context = {
                "env": env,
                "deps_layer_dir": str(layer),
                "aws:cdk:bundling-stacks": [],
                "aws:cdk:disable-asset-staging": True,
            }
            outdir = Path(tmp) / env
            app, stack = build_app(context, outdir=str(outdir))
            try:
                app.synth()
            except RuntimeError as exc:  # a cdk-nag finding still writes the template
                if "ValidationFailed" not in str(exc):
                    raise
            out[env] = json.loads((outdir / stack.template_file).read_text())
    return out


def _num(value: float) -> str:
    """A price without an exponent: 0.0000133334, 0.24, 1."""
    return f"{value:.10f}".rstrip("0").rstrip(".")


def _money(usd: float) -> str:
    return f"${usd:,.2f}" if usd >= 0.01 or usd == 0 else f"${usd:.4f}"


def render(costs: Iterable[EnvCost], a: Assumptions = Assumptions()) -> str:
    costs = list(costs)
    out: list[str] = ["creator-chat cost model, us-east-1 list prices (month = 730 h)", ""]
    out.append(
        f"{'env':<6} {'idle / month':>14} {'1,000 chats':>12}   "
        f"{'peer idle / month':>18} {'peer 1,000 chats':>17}"
    )
    for c in costs:
        out.append(
            f"{c.env:<6} {_money(c.total(c.idle)):>14} {_money(c.total(c.per_1000)):>12}   "
            f"{_money(c.total(c.peer_idle)):>18} {_money(c.total(c.peer_per_1000)):>17}"
        )
    out.append(
        "peer = same stack and traffic, vectors in an always-on OpenSearch Serverless "
        "collection with standby replicas"
    )
    used: set[str] = {"bedrock"}
    for c in costs:
        for title, lines in (("idle / month", c.idle), ("1,000 chats", c.per_1000)):
            out += ["", f"{c.env}: {title}"]
            for line in lines:
                out.append(f"  {line.component:<44} {_money(line.usd):>10}  {line.detail}")
                used.update(line.prices)
            out.append(f"  {'total':<44} {_money(c.total(lines)):>10}")
        for w in c.warnings:
            out.append(f"  warning: {w}")
    out += ["", "Assumptions (per chat unless stated)"]
    for k, v in asdict(a).items():
        out.append(f"  {k} = {v}")
    out += ["", "Sources (us-east-1; " + AS_OF + ")"]
    for key in sorted(used - {"bedrock"}):
        p = PRICES[key]
        out.append(f"  {key:<32} {_num(p.usd)} {p.unit} — {p.source}")
    out.append(f"  {'bedrock models':<32} on-demand per 1K tokens (in, out) — {_BEDROCK}")
    for model, (pin, pout) in MODEL_PRICES.items():
        out.append(f"    {model:<44} {_num(pin)} / {_num(pout)}")
    for model, per_k in RERANK_PRICES.items():
        out.append(f"    {model:<44} {per_k:g} per 1,000 rerank queries")
    out.append(
        "  Not counted: free tiers, Cognito MAUs, CloudFront/S3 requests, X-Ray traces, "
        "ingest (embedding a corpus), data transfer."
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--env", nargs="+", default=["dev", "prod"])
    parser.add_argument(
        "--template",
        action="append",
        default=[],
        metavar="ENV=PATH",
        help="use this synthesized template instead of synthesizing ENV",
    )
    args = parser.parse_args(argv)
    templates: dict[str, dict[str, Any]] = {}
    for item in args.template:
        env, _, path = item.partition("=")
        templates[env] = json.loads(Path(path).read_text())
    missing = [env for env in args.env if env not in templates]
    if missing:
        templates.update(synthesize(missing))
    envs = [env for env in args.env if env in templates] + [
        env for env in templates if env not in args.env
    ]
    print(render(cost_of(env, templates[env]) for env in envs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Issue 19: per-environment profiles, each choice a context flag, and SnapStart in prod.

dev is the $0-idle profile (S3 Vectors, no VPC, no interface endpoints, the in-process
cache, on-demand tables, no warm capacity, no SnapStart); prod keeps OpenSearch Serverless,
ElastiCache, the VPC and provisioned concurrency, and adds SnapStart where no warm capacity
is kept. Each flag (``-c vector_store|cache|vpc|provisioned|snapstart=...``) flips exactly
its choice: a few synths with flags that turn one profile into (most of) the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from creator_chat.adapters.aws import s3vectors_index
from creator_chat.resources import DECLARATION
from creator_chat.settings import Settings

from infra_cdk.config import (
    DEFAULT_PROVISIONED_CONCURRENCY,
    INDEX_WRITERS,
    SNAPSTART_CANDIDATES,
    VECTOR_DIMENSION,
    load_config,
    parse_flag,
)
from infra_cdk.constructs.search import S3VECTORS_READ, S3VECTORS_WRITE
from infra_cdk.naming import pascal_case

from .conftest import Synthesized, synthesize
from .test_stack import as_list, function_props, render, role_statements, statements_with

# What costs money by the hour (or per AZ-hour) whether used or not.
IDLE_BILLED = (
    "AWS::OpenSearchServerless::Collection",
    "AWS::OpenSearchServerless::VpcEndpoint",
    "AWS::ElastiCache::ServerlessCache",
    "AWS::EC2::VPCEndpoint",
)
NETWORK = ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::SecurityGroup", "AWS::EC2::FlowLog")
PC_TARGET = "AWS::ApplicationAutoScaling::ScalableTarget"


@pytest.fixture(scope="module")
def staging(
    tmp_path_factory: pytest.TempPathFactory, deps_layer_dir: Path
) -> Iterator[Synthesized]:
    yield synthesize("staging", tmp_path_factory.mktemp("cdk-staging"), deps_layer_dir)


@pytest.fixture(scope="module")
def prod_as_dev(
    tmp_path_factory: pytest.TempPathFactory, deps_layer_dir: Path
) -> Iterator[Synthesized]:
    """prod with dev's choices but the VPC (so S3 Vectors is reached through its endpoint)."""
    yield synthesize(
        "prod",
        tmp_path_factory.mktemp("cdk-prod-flags"),
        deps_layer_dir,
        extra_context={
            "vector_store": "s3vectors",
            "cache": "memory",
            "provisioned": "false",
            "snapstart": "false",
        },
    )


@pytest.fixture(scope="module")
def dev_as_prod(
    tmp_path_factory: pytest.TempPathFactory, deps_layer_dir: Path
) -> Iterator[Synthesized]:
    """dev with prod's choices (ElastiCache brings its VPC along)."""
    yield synthesize(
        "dev",
        tmp_path_factory.mktemp("cdk-dev-flags"),
        deps_layer_dir,
        extra_context={
            "vector_store": "opensearch",
            "cache": "elasticache",
            "provisioned": "true",
            "snapstart": "true",
        },
    )


@pytest.fixture(scope="module")
def dev_with_opensearch(
    tmp_path_factory: pytest.TempPathFactory, deps_layer_dir: Path
) -> Iterator[Synthesized]:
    """The README's example: `cdk deploy -c env=dev -c vector_store=opensearch`."""
    yield synthesize(
        "dev",
        tmp_path_factory.mktemp("cdk-dev-aoss"),
        deps_layer_dir,
        extra_context={"vector_store": "opensearch"},
    )


def count(s: Synthesized, resource_type: str) -> int:
    return len(s.of_type(resource_type))


def snapstart_of(s: Synthesized, function: str) -> Any:
    return function_props(s, function).get("SnapStart")


def has_provisioned_concurrency(s: Synthesized, function: str) -> bool:
    alias = s.resources[s.logical_id(f"Functions/{pascal_case(function)}Alias")]
    return "ProvisionedConcurrencyConfig" in alias["Properties"]


def index_users() -> list[str]:
    return [f.name for f in DECLARATION.functions if f.uses_index]


def assert_s3vectors_least_privilege(s: Synthesized) -> None:
    (index_id,) = s.of_type("AWS::S3Vectors::Index")
    for function in DECLARATION.functions:
        vector_statements = statements_with(role_statements(s, function.name), "s3vectors:")
        if not function.uses_index:
            assert vector_statements == [], function.name
            continue
        (statement,) = vector_statements
        expected = S3VECTORS_WRITE if function.name in INDEX_WRITERS else S3VECTORS_READ
        assert sorted(as_list(statement["Action"])) == sorted(expected), function.name
        assert statement["Resource"] == {"Fn::GetAtt": [index_id, "IndexArn"]}, function.name


# -- the profiles -----------------------------------------------------------------------


def test_dev_is_the_zero_idle_profile(dev: Synthesized) -> None:
    for resource_type in (*IDLE_BILLED, *NETWORK, PC_TARGET):
        assert count(dev, resource_type) == 0, resource_type
    for function in DECLARATION.functions:
        props = function_props(dev, function.name)
        assert "VpcConfig" not in props, function.name
        assert "REDIS_URL" not in " ".join(props["Environment"]["Variables"]), function.name
        assert snapstart_of(dev, function.name) is None, function.name
        assert not has_provisioned_concurrency(dev, function.name), function.name
    for table in dev.of_type("AWS::DynamoDB::GlobalTable").values():
        assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"


def test_dev_keeps_its_vectors_in_s3_vectors_with_least_privilege(dev: Synthesized) -> None:
    ((bucket_id, bucket),) = dev.of_type("AWS::S3Vectors::VectorBucket").items()
    (index,) = dev.of_type("AWS::S3Vectors::Index").values()
    assert bucket["Properties"]["VectorBucketName"] == "creator-chat-dev-vectors"
    props = index["Properties"]
    assert props["VectorBucketArn"] == {"Fn::GetAtt": [bucket_id, "VectorBucketArn"]}
    assert (props["DataType"], props["Dimension"], props["DistanceMetric"]) == (
        "float32",
        VECTOR_DIMENSION,
        "cosine",
    )
    assert bucket["DeletionPolicy"] == index["DeletionPolicy"] == "Delete"
    assert_s3vectors_least_privilege(dev)


def test_the_s3_vectors_index_is_the_one_the_adapter_opens(
    dev: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The functions' environment, read by the real Settings, names the stack's bucket and
    (after the adapter appends the dimension) its index, declared as the adapter would."""
    (index,) = dev.of_type("AWS::S3Vectors::Index").values()
    (bucket,) = dev.of_type("AWS::S3Vectors::VectorBucket").values()
    for name in index_users():
        env = function_props(dev, name)["Environment"]["Variables"]
        for key, value in env.items():
            if key.startswith("CREATOR_CHAT_") and key != "CREATOR_CHAT_RESOURCE_NAMES":
                monkeypatch.setenv(key, render(value))
        settings = Settings()
        assert settings.vector_index == "s3vectors"
        assert settings.s3vectors_bucket == bucket["Properties"]["VectorBucketName"]
        assert (
            s3vectors_index.index_name_for(settings.s3vectors_index, VECTOR_DIMENSION)
            == index["Properties"]["IndexName"]
        )
    assert index["Properties"]["MetadataConfiguration"] == {
        "NonFilterableMetadataKeys": s3vectors_index.NON_FILTERABLE_KEYS
    }


def test_prod_keeps_opensearch_elasticache_the_vpc_and_warm_capacity(prod: Synthesized) -> None:
    for resource_type in (*IDLE_BILLED, *NETWORK, PC_TARGET):
        assert count(prod, resource_type) >= 1, resource_type
    assert count(prod, "AWS::S3Vectors::VectorBucket") == 0
    assert count(prod, "AWS::S3Vectors::Index") == 0
    assert {"authorizer", "chat"} == {
        f.name for f in DECLARATION.functions if has_provisioned_concurrency(prod, f.name)
    }


def test_snapstart_in_prod_only_where_no_warm_capacity_is_kept(prod: Synthesized) -> None:
    """chat-worker and ingest resume from a snapshot; authorizer and chat keep provisioned
    concurrency (Lambda refuses both on one version); the batch workers get neither."""
    snapstarted = {f.name for f in DECLARATION.functions if snapstart_of(prod, f.name) is not None}
    assert (
        snapstarted == {"chat-worker", "ingest", "stream"} == set(prod.config.snapstart_functions)
    )
    for name in snapstarted:
        assert snapstart_of(prod, name) == {"ApplyOn": "PublishedVersions"}
        assert not has_provisioned_concurrency(prod, name)
        # the alias (what routes and event sources call) points at the published version
        alias = prod.resources[prod.logical_id(f"Functions/{pascal_case(name)}Alias")]
        (version_id,) = [
            k
            for k, v in prod.of_type("AWS::Lambda::Version").items()
            if v["Properties"]["FunctionName"]
            == {"Ref": prod.logical_id(f"Functions/{pascal_case(name)}Function")}
        ]
        assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
        # a replaced version (and its cached snapshot) is deleted, not kept forever
        assert prod.resources[version_id]["DeletionPolicy"] == "Delete"
        assert function_props(prod, name).get("EphemeralStorage", {"Size": 512})["Size"] <= 512
        assert "FileSystemConfigs" not in function_props(prod, name)
    for name in prod.config.provisioned_concurrency:
        assert snapstart_of(prod, name) is None, name
    assert prod.resources[prod.logical_id("Functions/ChatFunction")]["Properties"]["Runtime"] in {
        "python3.12",
        "python3.13",
    }  # SnapStart for Python needs 3.12+


def test_staging_has_prods_architecture_and_snapstart_instead_of_warm_capacity(
    staging: Synthesized,
) -> None:
    assert staging.validation_error is None, staging.validation_error
    for resource_type in (*IDLE_BILLED, *NETWORK):
        assert count(staging, resource_type) >= 1, resource_type
    assert count(staging, PC_TARGET) == 0
    snapstarted = {
        f.name for f in DECLARATION.functions if snapstart_of(staging, f.name) is not None
    }
    assert snapstarted == set(SNAPSTART_CANDIDATES)


# -- each flag flips its choice ---------------------------------------------------------


def test_flags_turn_prod_into_the_idle_profile_keeping_its_vpc(prod_as_dev: Synthesized) -> None:
    s = prod_as_dev
    assert s.validation_error is None, s.validation_error  # cdk-nag passes
    assert count(s, "AWS::OpenSearchServerless::Collection") == 0  # vector_store=s3vectors
    assert count(s, "AWS::ElastiCache::ServerlessCache") == 0  # cache=memory
    assert count(s, PC_TARGET) == 0  # provisioned=false
    assert all(snapstart_of(s, f.name) is None for f in DECLARATION.functions)  # snapstart=false
    assert count(s, "AWS::EC2::VPC") == 1  # vpc not flipped: prod's stays
    assert_s3vectors_least_privilege(s)
    # S3 Vectors is reached from the isolated subnets through its own interface endpoint
    services = [
        render(e["Properties"]["ServiceName"]) for e in s.of_type("AWS::EC2::VPCEndpoint").values()
    ]
    assert any(name.endswith(".s3vectors") for name in services), services
    for function in DECLARATION.functions:
        props = function_props(s, function.name)
        assert ("VpcConfig" in props) is (function.uses_cache or function.uses_index)
        assert "CREATOR_CHAT_REDIS_URL" not in props["Environment"]["Variables"]


def test_flags_turn_dev_into_prods_architecture(dev_as_prod: Synthesized) -> None:
    s = dev_as_prod
    assert s.validation_error is None, s.validation_error
    assert count(s, "AWS::OpenSearchServerless::Collection") == 1
    assert count(s, "AWS::S3Vectors::Index") == 0
    assert count(s, "AWS::ElastiCache::ServerlessCache") == 1
    assert count(s, "AWS::EC2::VPC") == 1  # cache=elasticache implies vpc=true
    assert count(s, "AWS::EC2::VPCEndpoint") >= 2
    # dev configures no warm capacity: provisioned=true uses the small default
    assert count(s, PC_TARGET) == len(DEFAULT_PROVISIONED_CONCURRENCY)
    for name, capacity in DEFAULT_PROVISIONED_CONCURRENCY.items():
        alias = s.resources[s.logical_id(f"Functions/{pascal_case(name)}Alias")]
        assert alias["Properties"]["ProvisionedConcurrencyConfig"] == {
            "ProvisionedConcurrentExecutions": capacity.minimum
        }
    snapstarted = {f.name for f in DECLARATION.functions if snapstart_of(s, f.name) is not None}
    assert snapstarted == set(SNAPSTART_CANDIDATES) - set(DEFAULT_PROVISIONED_CONCURRENCY)
    for function in DECLARATION.functions:
        env = function_props(s, function.name)["Environment"]["Variables"]
        assert ("CREATOR_CHAT_REDIS_URL" in env) is function.uses_cache


def test_opensearch_without_a_vpc_is_public_but_signed_and_policy_bound(
    dev_with_opensearch: Synthesized,
) -> None:
    s = dev_with_opensearch
    assert s.validation_error is None, s.validation_error
    assert count(s, "AWS::OpenSearchServerless::Collection") == 1
    for resource_type in ("AWS::OpenSearchServerless::VpcEndpoint", *NETWORK):
        assert count(s, resource_type) == 0, resource_type
    network = next(
        p["Properties"]["Policy"]
        for p in s.of_type("AWS::OpenSearchServerless::SecurityPolicy").values()
        if p["Properties"]["Type"] == "network"
    )
    (rule,) = json.loads(render(network))
    assert rule["AllowFromPublic"] is True and "SourceVPCEs" not in rule
    (access,) = s.of_type("AWS::OpenSearchServerless::AccessPolicy").values()
    assert access  # only the index users' roles, as in prod (test_stack)
    for name in index_users():
        env = function_props(s, name)["Environment"]["Variables"]
        assert env["CREATOR_CHAT_VECTOR_INDEX"] == "opensearch"
        assert "CREATOR_CHAT_OPENSEARCH_ENDPOINT" in env


# -- the flags themselves (no synth) ----------------------------------------------------


def test_flags_parse_strictly_and_imply_what_they_need() -> None:
    assert parse_flag("vpc", None) is None and parse_flag("vpc", "") is None
    assert parse_flag("vpc", "TRUE") is True and parse_flag("vpc", False) is False
    with pytest.raises(ValueError, match="vpc=maybe"):
        parse_flag("vpc", "maybe")
    # one flag is enough: ElastiCache brings the VPC, no VPC means the in-process cache
    assert load_config("dev", cache="elasticache").vpc is True
    assert load_config("prod", vpc=False).cache == "memory"
    with pytest.raises(ValueError, match="needs vpc=true"):
        load_config("prod", cache="elasticache", vpc=False)
    with pytest.raises(ValueError, match="vector_store"):
        load_config("dev", vector_store="pinecone")
    with pytest.raises(ValueError, match="cache"):
        load_config("dev", cache="memcached")
    # provisioned=true keeps an env's own capacity; snapstart never lands on a PC function
    prod = load_config("prod", provisioned=True, snapstart=True)
    assert prod.provisioned_concurrency == load_config("prod").provisioned_concurrency
    assert set(prod.snapstart_functions).isdisjoint(prod.provisioned_concurrency)
    assert load_config("prod", provisioned=False).snapstart_functions == SNAPSTART_CANDIDATES
    assert load_config("dev").snapstart_functions == ()

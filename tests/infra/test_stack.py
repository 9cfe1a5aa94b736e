"""The CDK stack, synthesised offline for prod and dev, checked against the declaration.

Each test derives what it expects from ``creator_chat.resources.DECLARATION`` (and the
per-env config), so a resource the declaration gains must show up in the stack too.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match
from creator_chat.domain.models import Tier
from creator_chat.resources import DECLARATION, Function
from creator_chat.settings import Settings

from infra_cdk import application
from infra_cdk.application import DependencyLayerMissing, resolve_deps_layer_dir
from infra_cdk.bytecode import load_build_deps
from infra_cdk.config import LLM_WORKER_FUNCTION, METRICS_NAMESPACE, EnvConfig, load_config
from infra_cdk.constructs.functions import DYNAMODB_ACTIONS
from infra_cdk.constructs.queues import check_visibility_timeouts
from infra_cdk.naming import pascal_case

from .conftest import Synthesized, synthesize
from .test_web import WEB_ACKNOWLEDGEMENTS

ROOT = Path(__file__).resolve().parents[2]
STREAMING_FUNCTIONS = {route.function for route in DECLARATION.websocket_routes}

# Every acknowledged cdk-nag finding; a new one must be added here on purpose (with the
# reason in code). Bucket-object wildcards are matched by pattern (the id holds a hash).
EXPECTED_ACKNOWLEDGEMENTS = {
    "AwsSolutions-APIG4",  # public health/docs routes, by declaration
    "AwsSolutions-COG2",  # MFA optional for fans
    "AwsSolutions-COG8",  # no Plus feature plan (cost)
    "AwsSolutions-IAM5[Resource::*]",  # X-Ray and VPC ENI actions only
    "AwsSolutions-L1",  # python3.12 pinned with the dependency layer
} | WEB_ACKNOWLEDGEMENTS  # the web client's CloudFront and upload (see test_web.py)
BUCKET_OBJECTS_ACK = re.compile(r"^AwsSolutions-IAM5\[Resource::<Storage\w+Bucket\w+\.Arn>/\*\]$")
# the streaming functions post to the connections of the WebSocket stage (test_websocket.py)
STREAM_CONNECTIONS_ACK = re.compile(
    r"^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:"
    r"<AWS::AccountId>:<StreamWebSocketApi\w+>/\w+/\*/@connections/\*\]$"
)


# -- helpers ----------------------------------------------------------------------------


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def render(value: Any) -> str:
    """A CloudFormation value as text: ``{"Fn::GetAtt": ["T", "Arn"]}`` → ``<T.Arn>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return f"<{logical_id}.{attribute}>"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(render(part) for part in parts)
    raise AssertionError(f"cannot render {value!r}")


def referenced_ids(value: Any) -> set[str]:
    """Logical ids a value points at through ``Ref`` or ``Fn::GetAtt``."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value:
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for child in value.values():
            found |= referenced_ids(child)
    elif isinstance(value, list):
        for child in value:
            found |= referenced_ids(child)
    return found


def role_statements(s: Synthesized, function: str) -> list[dict[str, Any]]:
    role_id = s.logical_id(f"Functions/{pascal_case(function)}Role")
    statements = [
        statement
        for policy in s.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert statements, f"no policy attached to the {function} role"
    return statements


def statements_with(statements: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [s for s in statements if any(a.startswith(prefix) for a in as_list(s["Action"]))]


def table_id(s: Synthesized, table: str) -> str:
    return s.logical_id(f"Data/{pascal_case(table)}Table")


def queue_id(s: Synthesized, queue: str) -> str:
    return s.logical_id(f"Queues/{pascal_case(queue)}Queue")


def alias_id(s: Synthesized, function: str) -> str:
    return s.logical_id(f"Functions/{pascal_case(function)}Alias")


def http_api_id(s: Synthesized) -> dict[str, str]:
    """``{"Ref": <the HTTP API>}``: what its routes, stage and authorizer point at (the
    WebSocket API of streamed answers has its own, test_websocket.py)."""
    return {"Ref": s.logical_id("Api/HttpApi")}


def of_http_api(s: Synthesized, resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        k: v
        for k, v in s.of_type(resource_type).items()
        if v["Properties"]["ApiId"] == http_api_id(s)
    }


def function_props(s: Synthesized, function: str) -> dict[str, Any]:
    props: dict[str, Any] = s.resources[s.logical_id(f"Functions/{pascal_case(function)}Function")][
        "Properties"
    ]
    return props


# -- the stack --------------------------------------------------------------------------


def test_one_stack_per_environment_named_after_it(synthesized: Synthesized) -> None:
    assert synthesized.stack.stack_name == f"CreatorChat-{synthesized.env}"
    assert synthesized.stack.tags.tag_values()["environment"] == synthesized.env


# -- data -------------------------------------------------------------------------------


def test_one_on_demand_table_per_declared_table_with_its_keys_ttl_and_indexes(
    synthesized: Synthesized,
) -> None:
    tables = synthesized.of_type("AWS::DynamoDB::GlobalTable")
    assert len(tables) == len(DECLARATION.tables)
    for table in DECLARATION.tables:
        props = tables[table_id(synthesized, table.name)]["Properties"]
        expected_keys = [{"AttributeName": table.partition.name, "KeyType": "HASH"}]
        if table.sort:
            expected_keys.append({"AttributeName": table.sort.name, "KeyType": "RANGE"})
        assert props["KeySchema"] == expected_keys, table.name
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["SSESpecification"]["SSEEnabled"] is True
        if table.ttl_attribute:
            assert props["TimeToLiveSpecification"] == {
                "AttributeName": table.ttl_attribute,
                "Enabled": True,
            }, table.name
        else:
            assert "TimeToLiveSpecification" not in props, table.name
        indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
        assert set(indexes) == {index.name for index in table.indexes}, table.name
        for index in table.indexes:
            keys = [{"AttributeName": index.partition.name, "KeyType": "HASH"}]
            if index.sort:
                keys.append({"AttributeName": index.sort.name, "KeyType": "RANGE"})
            assert indexes[index.name]["KeySchema"] == keys, f"{table.name}.{index.name}"
            assert indexes[index.name]["Projection"] == {"ProjectionType": index.projection}


def test_point_in_time_recovery_is_on_in_prod_and_off_in_dev(
    prod: Synthesized, dev: Synthesized
) -> None:
    for synthesized, enabled in ((prod, True), (dev, False)):
        for logical_id, table in synthesized.of_type("AWS::DynamoDB::GlobalTable").items():
            (replica,) = table["Properties"]["Replicas"]
            pitr = replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
            assert pitr is enabled, f"{synthesized.env} {logical_id}"
            assert table.get("DeletionPolicy") == ("Retain" if enabled else "Delete")


# -- queues -----------------------------------------------------------------------------


def test_every_declared_queue_has_its_dlq_with_the_declared_max_receive_count(
    synthesized: Synthesized,
) -> None:
    queues = synthesized.of_type("AWS::SQS::Queue")
    assert len(queues) == 2 * len(DECLARATION.queues)
    for queue in DECLARATION.queues:
        dlq = synthesized.logical_id(f"Queues/{pascal_case(queue.name)}Dlq")
        props = queues[queue_id(synthesized, queue.name)]["Properties"]
        assert props["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
            "maxReceiveCount": queue.max_receive_count,
        }
        assert props["VisibilityTimeout"] == queue.visibility_timeout_s
        assert props["MessageRetentionPeriod"] == queue.retention_s
        assert "RedrivePolicy" not in queues[dlq]["Properties"]


def test_every_queue_refuses_requests_without_tls(synthesized: Synthesized) -> None:
    guarded = set()
    for policy in synthesized.of_type("AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                guarded |= referenced_ids(policy["Properties"]["Queues"])
    assert guarded == set(synthesized.of_type("AWS::SQS::Queue"))


def test_a_visibility_timeout_under_six_function_timeouts_fails_the_synth() -> None:
    short = tuple(
        replace(q, visibility_timeout_s=5 * 60) if q.name == "llm-jobs" else q
        for q in DECLARATION.queues
    )
    with pytest.raises(ValueError, match=r"llm-jobs.*chat-worker"):
        check_visibility_timeouts(replace(DECLARATION, queues=short))
    check_visibility_timeouts(DECLARATION)  # the real declaration passes


# -- workers ----------------------------------------------------------------------------


def test_workers_consume_their_declared_queue_with_partial_batch_failures(
    synthesized: Synthesized,
) -> None:
    mappings = {
        next(iter(referenced_ids(m["Properties"]["EventSourceArn"]))): m["Properties"]
        for m in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()
    }
    assert len(mappings) == len(DECLARATION.workers)
    for worker in DECLARATION.workers:
        props = mappings[queue_id(synthesized, worker.queue)]
        assert referenced_ids(props["FunctionName"]) == {alias_id(synthesized, worker.function)}
        assert props["BatchSize"] == worker.batch_size
        if worker.report_batch_item_failures:
            assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_chat_worker_concurrency_is_the_configured_llm_budget(
    prod: Synthesized, dev: Synthesized
) -> None:
    # The budgets differ per env, so the declaration's default cannot pass by accident.
    assert prod.config.llm_budget != dev.config.llm_budget
    (worker,) = [w for w in DECLARATION.workers if w.function == LLM_WORKER_FUNCTION]
    for synthesized in (prod, dev):
        (mapping,) = [
            m["Properties"]
            for m in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()
            if referenced_ids(m["Properties"]["EventSourceArn"])
            == {queue_id(synthesized, worker.queue)}
        ]
        assert mapping["ScalingConfig"]["MaximumConcurrency"] == synthesized.config.llm_budget


# -- functions --------------------------------------------------------------------------


def test_handler_code_is_the_function_folder_the_local_runtime_runs(
    synthesized: Synthesized,
) -> None:
    ours = [f for f in synthesized.of_type("AWS::Lambda::Function") if f.startswith("Functions")]
    assert len(ours) == len(DECLARATION.functions)
    core_layer = synthesized.logical_id("Functions/CoreLayer")
    deps_layer = synthesized.logical_id("Functions/DependenciesLayer")
    layers = synthesized.of_type("AWS::Lambda::LayerVersion")
    assert layers[core_layer]["Metadata"]["aws:asset:path"] == str(ROOT / "layers" / "core")
    for function in DECLARATION.functions:
        logical_id = synthesized.logical_id(f"Functions/{pascal_case(function.name)}Function")
        resource = synthesized.resources[logical_id]
        assert resource["Metadata"]["aws:asset:path"] == str(
            ROOT / "functions" / function.code_dir
        ), function.name
        assert resource["Metadata"]["aws:asset:property"] == "Code"
        props = resource["Properties"]
        assert props["Handler"] == function.handler
        # The dependency layer is built for the same Python as the runtime.
        assert props["Runtime"] == f"python{load_build_deps().PYTHON_VERSION}" == "python3.12"
        assert props["Architectures"] == ["arm64"]
        assert props["Timeout"] == function.timeout_s
        assert props["MemorySize"] == synthesized.config.memory_for(function)
        assert props["Layers"] == [{"Ref": core_layer}, {"Ref": deps_layer}]
        assert props["TracingConfig"] == {"Mode": "Active"}
        # ...and the handlers' Tracer runs: nothing in the environment turns it off
        env = props["Environment"]["Variables"]
        assert env.get("POWERTOOLS_TRACE_DISABLED", "false") == "false", function.name
        # no scan of every package's entry points for pydantic plugins at a cold start
        assert env["PYDANTIC_DISABLE_PLUGINS"] == "__all__", function.name


def test_function_environment_names_only_the_resources_it_declares(
    synthesized: Synthesized,
) -> None:
    for function in DECLARATION.functions:
        env = function_props(synthesized, function.name)["Environment"]["Variables"]
        names = json.loads(render(env["CREATOR_CHAT_RESOURCE_NAMES"]))
        expected = {
            **{f"table:{t}": f"<{table_id(synthesized, t)}>" for t in function.tables},
            **{
                f"queue:{q}": f"<{queue_id(synthesized, q)}.QueueName>"
                for q in function.queues_send
            },
        }
        buckets = {k: v for k, v in names.items() if k.startswith("bucket:")}
        assert {k: v for k, v in names.items() if not k.startswith("bucket:")} == expected
        assert set(buckets) == {f"bucket:{b}" for b in function.buckets}
        assert env["CREATOR_CHAT_ENV"] == synthesized.env
        assert env["CREATOR_CHAT_RESOURCE_PREFIX"] == f"creator-chat-{synthesized.env}"
        assert env["CREATOR_CHAT_EMBEDDER"] == env["CREATOR_CHAT_GENERATOR"] == "bedrock"
        assert env["CREATOR_CHAT_VECTOR_INDEX"] == synthesized.config.vector_store
        assert env["CREATOR_CHAT_STORAGE"] == "aws"  # never the embedded database in Lambda
        assert env["POWERTOOLS_SERVICE_NAME"] == function.name
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == METRICS_NAMESPACE
        assert env["POWERTOOLS_LOG_LEVEL"] == synthesized.config.log_level
        elasticache = synthesized.config.cache == "elasticache"
        # without it the container falls back to its in-process cache
        assert ("CREATOR_CHAT_REDIS_URL" in env) is (function.uses_cache and elasticache)
        if "CREATOR_CHAT_REDIS_URL" in env:
            assert render(env["CREATOR_CHAT_REDIS_URL"]).startswith("rediss://")
        opensearch = synthesized.config.vector_store == "opensearch"
        assert ("CREATOR_CHAT_OPENSEARCH_ENDPOINT" in env) is (function.uses_index and opensearch)
        assert ("CREATOR_CHAT_S3VECTORS_BUCKET" in env) is (function.uses_index and not opensearch)
        is_authorizer = function.name == DECLARATION.authorizer_function
        for name in (
            "CREATOR_CHAT_JWKS_URL",
            "CREATOR_CHAT_JWT_ISSUER",
            "CREATOR_CHAT_JWT_AUDIENCE",
        ):
            assert (name in env) is is_authorizer, f"{function.name} {name}"
        if is_authorizer:
            assert render(env["CREATOR_CHAT_JWKS_URL"]).endswith("/.well-known/jwks.json")


def test_the_functions_that_count_usage_check_it_against_the_envs_token_budgets(
    synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    budgets = synthesized.config.token_budgets
    if synthesized.env == "prod":  # prod's are the documented defaults: the Settings' own
        defaults = Settings()
        assert [budgets.free, budgets.premium, budgets.enterprise] == [
            defaults.token_budget_for(tier) for tier in Tier
        ]
    for function in DECLARATION.functions:
        env = function_props(synthesized, function.name)["Environment"]["Variables"]
        named = {k for k in env if k.startswith("CREATOR_CHAT_TOKEN_BUDGET_")}
        if "users" not in function.tables:
            assert not named, function.name
            continue
        for key in budgets.environment():  # read as the function reads them
            monkeypatch.setenv(key, render(env[key]))
        settings = Settings()
        assert [settings.token_budget_for(tier) for tier in Tier] == [
            budgets.free,
            budgets.premium,
            budgets.enterprise,
        ], function.name


def test_only_the_functions_that_use_the_cache_or_index_run_in_the_vpc_if_any(
    synthesized: Synthesized,
) -> None:
    has_vpc = synthesized.config.vpc
    assert bool(synthesized.of_type("AWS::EC2::VPC")) is has_vpc
    for function in DECLARATION.functions:
        vpc_config = function_props(synthesized, function.name).get("VpcConfig")
        if has_vpc and (function.uses_cache or function.uses_index):
            assert vpc_config is not None, function.name
            assert referenced_ids(vpc_config["SecurityGroupIds"]) == {
                synthesized.logical_id("Cache/FunctionsSecurityGroup")
            }
        else:
            assert vpc_config is None, function.name
        eni = statements_with(role_statements(synthesized, function.name), "ec2:")
        assert bool(eni) is (vpc_config is not None), function.name


def test_authorizer_and_chat_keep_warm_containers_that_scale_on_utilisation_in_prod_only(
    prod: Synthesized, dev: Synthesized
) -> None:
    configured = prod.config.provisioned_concurrency
    assert set(configured) == {"authorizer", "chat"}  # the synchronous request path
    for name, config in configured.items():
        alias = prod.resources[alias_id(prod, name)]["Properties"]
        assert alias["ProvisionedConcurrencyConfig"] == {
            "ProvisionedConcurrentExecutions": config.minimum
        }, name
        prod.template.has_resource_properties(
            "AWS::ApplicationAutoScaling::ScalableTarget",
            {
                "ScalableDimension": "lambda:function:ProvisionedConcurrency",
                "MinCapacity": config.minimum,
                "MaxCapacity": config.maximum,
            },
        )
    prod.template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", len(configured))
    prod.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "LambdaProvisionedConcurrencyUtilization"
                },
                "TargetValue": configured["chat"].target_utilization,
            },
        },
    )
    dev.template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    for name in configured:
        assert (
            "ProvisionedConcurrencyConfig" not in dev.resources[alias_id(dev, name)]["Properties"]
        )


# -- least privilege --------------------------------------------------------------------


def test_each_role_reaches_only_the_tables_and_indexes_it_declares(
    synthesized: Synthesized,
) -> None:
    table_ids = {t.name: table_id(synthesized, t.name) for t in DECLARATION.tables}
    for function in DECLARATION.functions:
        statements = role_statements(synthesized, function.name)
        reached = {
            name
            for name, logical_id in table_ids.items()
            if any(logical_id in referenced_ids(s["Resource"]) for s in statements)
        }
        assert reached == set(function.tables), function.name
        allowed = {
            resource
            for table in function.tables
            for resource in (
                f"<{table_ids[table]}.Arn>",
                *(
                    f"<{table_ids[table]}.Arn>/index/{index.name}"
                    for index in DECLARATION.table(table).indexes
                ),
            )
        }
        for statement in statements_with(statements, "dynamodb:"):
            assert set(as_list(statement["Action"])) <= set(DYNAMODB_ACTIONS)
            assert {render(r) for r in as_list(statement["Resource"])} <= allowed, function.name


def _check_queues_and_buckets(s: Synthesized, function: Function) -> None:
    statements = role_statements(s, function.name)
    sent_to = set().union(
        *(referenced_ids(st["Resource"]) for st in statements_with(statements, "sqs:SendMessage"))
    )
    assert sent_to == {queue_id(s, q) for q in function.queues_send}, function.name
    consumed = set().union(
        *(
            referenced_ids(st["Resource"])
            for st in statements_with(statements, "sqs:ReceiveMessage")
        )
    )
    worker_queues = {w.queue for w in DECLARATION.workers if w.function == function.name}
    assert consumed == {queue_id(s, q) for q in worker_queues}, function.name
    bucket_ids = {
        b.name: s.logical_id(f"Storage/{pascal_case(b.name)}Bucket") for b in DECLARATION.buckets
    }
    reached = {
        name
        for name, logical_id in bucket_ids.items()
        if any(
            logical_id in referenced_ids(st["Resource"])
            for st in statements_with(statements, "s3:")
        )
    }
    assert reached == set(function.buckets), function.name


def test_each_role_sends_to_reads_and_writes_only_its_declared_queues_and_buckets(
    synthesized: Synthesized,
) -> None:
    for function in DECLARATION.functions:
        _check_queues_and_buckets(synthesized, function)


def test_bedrock_and_vector_index_access_only_where_declared(synthesized: Synthesized) -> None:
    config = synthesized.config
    models = {config.embedding_model_id, config.generation_model_id}
    for function in DECLARATION.functions:
        statements = role_statements(synthesized, function.name)
        bedrock = statements_with(statements, "bedrock:")
        # ConverseStream: only the functions behind WebSocket routes, on the generation model
        streaming = [
            s for s in bedrock if as_list(s["Action"]) == ["bedrock:InvokeModelWithResponseStream"]
        ]
        bedrock = [s for s in bedrock if s not in streaming]
        if function.uses_bedrock and function.name in STREAMING_FUNCTIONS:
            (statement,) = streaming
            (arn,) = {render(r) for r in as_list(statement["Resource"])}
            assert arn.endswith(f"foundation-model/{config.generation_model_id}")
        else:
            assert streaming == [], function.name
        if function.uses_bedrock:
            (statement,) = bedrock
            assert as_list(statement["Action"]) == ["bedrock:InvokeModel"]
            arns = {render(r) for r in as_list(statement["Resource"])}
            assert {arn.rsplit("foundation-model/", 1)[1] for arn in arns} == models
        else:
            assert bedrock == [], function.name
        aoss = statements_with(statements, "aoss:")
        if function.uses_index and config.vector_store == "opensearch":
            (statement,) = aoss
            assert statement["Action"] == "aoss:APIAccessAll"
            assert statement["Resource"] == {
                "Fn::GetAtt": [synthesized.logical_id("Search/Collection"), "Arn"]
            }
        else:
            assert aoss == [], function.name
        for statement in statements:
            for action in as_list(statement["Action"]):
                assert not action.endswith(":*"), f"{function.name}: {action}"


def test_vector_collection_is_private_and_only_index_users_get_data_access(
    prod: Synthesized,
) -> None:
    synthesized = prod
    collections = synthesized.of_type("AWS::OpenSearchServerless::Collection")
    (collection,) = collections.values()
    assert collection["Properties"]["Type"] == "VECTORSEARCH"
    (access,) = synthesized.of_type("AWS::OpenSearchServerless::AccessPolicy").values()
    principals = referenced_ids(access["Properties"]["Policy"])
    assert principals == {
        synthesized.logical_id(f"Functions/{pascal_case(f.name)}Role")
        for f in DECLARATION.functions
        if f.uses_index
    }
    policies = {
        p["Properties"]["Type"]: p["Properties"]["Policy"]
        for p in synthesized.of_type("AWS::OpenSearchServerless::SecurityPolicy").values()
    }
    assert set(policies) == {"encryption", "network"}
    (network_rule,) = json.loads(render(policies["network"]))
    assert network_rule["AllowFromPublic"] is False
    assert network_rule["SourceVPCEs"] == [f"<{synthesized.logical_id('Search/VpcEndpoint')}.Id>"]


def test_serverless_cache_speaks_tls_only_to_the_functions(prod: Synthesized) -> None:
    synthesized = prod
    (cache,) = synthesized.of_type("AWS::ElastiCache::ServerlessCache").values()
    assert cache["Properties"]["Engine"] in {"valkey", "redis"}
    cache_sg = synthesized.logical_id("Cache/CacheSecurityGroup")
    assert referenced_ids(cache["Properties"]["SecurityGroupIds"]) == {cache_sg}
    ingress = [
        rule["Properties"]
        for rule in synthesized.of_type("AWS::EC2::SecurityGroupIngress").values()
        if referenced_ids(rule["Properties"]["GroupId"]) == {cache_sg}
    ]
    assert ingress and all(
        referenced_ids(rule["SourceSecurityGroupId"])
        == {synthesized.logical_id("Cache/FunctionsSecurityGroup")}
        for rule in ingress
    )
    # one NAT, for the stream function's egress subnets alone (tests/infra/test_websocket.py)
    synthesized.template.resource_count_is("AWS::EC2::NatGateway", 1)


# -- api --------------------------------------------------------------------------------


def test_every_declared_route_exists_and_only_public_ones_skip_the_authorizer(
    synthesized: Synthesized,
) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in of_http_api(synthesized, "AWS::ApiGatewayV2::Route").values()
    }
    assert set(routes) == {f"{r.method} {r.path}" for r in DECLARATION.routes}
    (authorizer_id,) = of_http_api(synthesized, "AWS::ApiGatewayV2::Authorizer")
    integrations = synthesized.of_type("AWS::ApiGatewayV2::Integration")
    for route in DECLARATION.routes:
        props = routes[f"{route.method} {route.path}"]
        if route.authorized:
            assert props["AuthorizationType"] == "CUSTOM", route.path
            assert props["AuthorizerId"] == {"Ref": authorizer_id}, route.path
        else:
            assert props.get("AuthorizationType", "NONE") == "NONE", route.path
            assert "AuthorizerId" not in props, route.path
        (integration_id,) = referenced_ids(props["Target"])
        target = integrations[integration_id]["Properties"]["IntegrationUri"]
        assert target == {"Ref": alias_id(synthesized, route.function)}, route.path


def test_authorizer_uses_simple_responses_cached_on_the_authorization_header(
    synthesized: Synthesized,
) -> None:
    synthesized.template.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {
            "AuthorizerType": "REQUEST",
            "EnableSimpleResponses": True,
            "IdentitySource": ["$request.header.Authorization"],
            "AuthorizerResultTtlInSeconds": 60,
            "AuthorizerPayloadFormatVersion": "2.0",
            "AuthorizerUri": Match.object_like(
                {
                    "Fn::Join": Match.array_with(
                        [Match.array_with([{"Ref": alias_id(synthesized, "authorizer")}])]
                    )
                }
            ),
        },
    )


def test_stage_is_throttled_per_env_and_logs_every_request(synthesized: Synthesized) -> None:
    (stage,) = of_http_api(synthesized, "AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] == synthesized.config.api_throttle_rate
    assert settings["ThrottlingBurstLimit"] == synthesized.config.api_throttle_burst
    log_format = json.loads(stage["Properties"]["AccessLogSettings"]["Format"])
    assert {"requestId", "status", "routeKey", "latencyMs"} <= set(log_format)


def test_cors_follows_the_env_config(prod: Synthesized, dev: Synthesized) -> None:
    for synthesized in (prod, dev):
        api = synthesized.resources[http_api_id(synthesized)["Ref"]]
        cors = api["Properties"].get("CorsConfiguration")
        origins = list(synthesized.config.cors_allowed_origins)
        if origins:
            assert cors["AllowOrigins"] == origins
            assert "Authorization" in cors["AllowHeaders"]
        else:
            assert cors is None, synthesized.env


# -- observability ----------------------------------------------------------------------


def test_every_alarm_notifies_the_topic_and_each_dlq_alarms_on_its_first_message(
    synthesized: Synthesized,
) -> None:
    topic = synthesized.logical_id("Observability/AlarmTopic")
    alarms = synthesized.of_type("AWS::CloudWatch::Alarm")
    for logical_id, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}], logical_id
    for queue in DECLARATION.queues:
        dlq = synthesized.logical_id(f"Queues/{pascal_case(queue.name)}Dlq")
        dlq_alarms = [
            a["Properties"]
            for a in alarms.values()
            if dlq in referenced_ids([a["Properties"].get(k) for k in ("Dimensions", "Metrics")])
        ]
        assert [(a["Threshold"], a["ComparisonOperator"]) for a in dlq_alarms] == [
            (1, "GreaterThanOrEqualToThreshold")
        ], queue.name
    functions = len(DECLARATION.functions)
    # 5xx rate + p99, errors + throttles per function, age + DLQ per queue, one per table,
    # WebSocket integration errors.
    expected = 2 + 2 * functions + 2 * len(DECLARATION.queues) + len(DECLARATION.tables) + 1
    assert len(alarms) == expected


def test_dashboard_graphs_the_custom_metrics(synthesized: Synthesized) -> None:
    (dashboard,) = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    body = render(dashboard["Properties"]["DashboardBody"])
    for metric in (
        "CacheHit",
        "CacheMiss",
        "GeneratorInputTokens",
        "GeneratorOutputTokens",
        "GeneratorThrottled",
        "RetrievalUnavailable",
        "ChatQueued",
    ):
        assert f'MetricName=\\"{metric}\\"' in body, metric
    assert METRICS_NAMESPACE in body
    for needle in ("ApproximateAgeOfOldestMessage", "p99", "5xx", "Throttles"):
        assert needle in body


# -- cdk-nag ----------------------------------------------------------------------------


def test_cdk_nag_reports_no_unacknowledged_findings(synthesized: Synthesized) -> None:
    assert synthesized.validation_error is None, synthesized.validation_error
    for report in synthesized.validation_report.get("pluginReports", []):
        assert report["violations"] == [], report["pluginName"]
    errors = Annotations.from_stack(synthesized.stack).find_error(
        "*", Match.string_like_regexp("AwsSolutions-.*")
    )
    assert errors == []


def test_every_nag_acknowledgement_is_expected_and_has_a_reason(
    synthesized: Synthesized,
) -> None:
    acknowledged: set[str] = set()
    for resource in synthesized.resources.values():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            if rule["id"].startswith("AwsSolutions-"):
                assert len(rule["reason"]) >= 20, rule
                acknowledged.add(rule["id"])
    unexpected = {
        rule
        for rule in acknowledged - EXPECTED_ACKNOWLEDGEMENTS
        if not (BUCKET_OBJECTS_ACK.match(rule) or STREAM_CONNECTIONS_ACK.match(rule))
    }
    assert unexpected == set()
    assert acknowledged >= EXPECTED_ACKNOWLEDGEMENTS


def test_cdk_nag_fails_the_synth_on_a_new_finding(tmp_path: Path, deps_layer_dir: Path) -> None:
    # A queue without a DLQ or TLS enforcement must not slip through.
    result = synthesize(
        "dev",
        tmp_path,
        deps_layer_dir,
        customize=lambda _app, stack: sqs.Queue(stack, "UncheckedQueue", enforce_ssl=False),
    )
    assert result.validation_error is not None
    (report,) = result.validation_report["pluginReports"]
    found = {v["ruleName"] for v in report["violations"]}
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= found


def test_an_inference_profile_is_granted_with_its_models_in_every_region(
    tmp_path: Path, deps_layer_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a cross-region inference profile as the generation model
    profile = "us.anthropic.claude-3-5-haiku-20241022-v1:0"

    def with_profile(env: str, **overrides: Any) -> EnvConfig:
        return replace(load_config(env, **overrides), generation_model_id=profile)

    monkeypatch.setattr(application, "load_config", with_profile)
    # When the app is synthesised
    result = synthesize("dev", tmp_path, deps_layer_dir)
    # Then the chat role may invoke the profile and its model in any region, nothing else,
    # and the resulting wildcard is acknowledged with a reason (the synth passes cdk-nag).
    assert result.validation_error is None, result.validation_error
    (statement,) = statements_with(role_statements(result, "chat"), "bedrock:")
    arns = {render(r) for r in as_list(statement["Resource"])}
    assert arns == {
        "arn:<AWS::Partition>:bedrock:<AWS::Region>::foundation-model/"
        + result.config.embedding_model_id,
        f"arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:inference-profile/{profile}",
        "arn:<AWS::Partition>:bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0",
    }


# -- config and the dependency layer ----------------------------------------------------


def test_config_rejects_unknown_envs_and_undeclared_function_names() -> None:
    with pytest.raises(ValueError, match="unknown env"):
        load_config("qa")
    config = load_config("prod")
    config.check_against(DECLARATION)
    renamed = replace(
        DECLARATION,
        functions=tuple(
            replace(f, name="chat-v2") if f.name == "chat" else f for f in DECLARATION.functions
        ),
    )
    with pytest.raises(ValueError, match="chat"):
        config.check_against(renamed)


def test_a_missing_dependency_layer_fails_with_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(DependencyLayerMissing, match=r"python layers/build_deps\.py"):
        resolve_deps_layer_dir(None, default=tmp_path / "deps-layer")
    (tmp_path / "deps-layer" / "python").mkdir(parents=True)
    build_deps = load_build_deps()
    build_deps.write_stamp(tmp_path / "deps-layer", build_deps.runtime_requirements())
    assert resolve_deps_layer_dir(None, default=tmp_path / "deps-layer") == tmp_path / "deps-layer"
    with pytest.raises(DependencyLayerMissing, match="no such folder"):
        resolve_deps_layer_dir(str(tmp_path / "nowhere"))


def test_a_layer_built_before_pyproject_changed_is_refused_with_the_build_command(
    tmp_path: Path,
) -> None:
    """A layer built from older requirements (this once shipped without the X-Ray SDK the
    Tracer imports) would deploy functions that fail at import: synth refuses it."""
    build_deps = load_build_deps()
    layer = tmp_path / "deps-layer"
    (layer / "python").mkdir(parents=True)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\nversion = "0"\ndependencies = ["aws-lambda-powertools>=3.0"]\n'
    )
    with pytest.raises(DependencyLayerMissing, match="python layers/build_deps"):
        resolve_deps_layer_dir(None, default=layer, pyproject=pyproject)  # no stamp: unknown
    build_deps.write_stamp(layer, build_deps.runtime_requirements(pyproject))
    assert resolve_deps_layer_dir(None, default=layer, pyproject=pyproject) == layer
    pyproject.write_text(
        '[project]\nname = "x"\nversion = "0"\n'
        'dependencies = ["aws-lambda-powertools[tracer]>=3.0"]\n'
    )
    with pytest.raises(DependencyLayerMissing, match="other requirements"):
        resolve_deps_layer_dir(None, default=layer, pyproject=pyproject)


def test_dependency_layer_installs_the_runtime_group_for_lambda(tmp_path: Path) -> None:
    build_deps = load_build_deps()
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\nversion = "0"\n'
        'dependencies = ["boto3>=1.35", "PyJWT[crypto]>=2.9", "pydantic>=2.7"]\n'
        '[project.optional-dependencies]\ninfra = ["aws-cdk-lib"]\n'
    )
    requirements = build_deps.runtime_requirements(pyproject)
    assert requirements == ["boto3>=1.35", "PyJWT[crypto]>=2.9", "pydantic>=2.7"]
    command = build_deps.pip_command(requirements, tmp_path / "out")
    joined = " ".join(command)
    assert "--platform manylinux2014_aarch64" in joined
    assert "--only-binary=:all:" in command
    assert "--python-version 3.12" in joined and "--implementation cp" in joined
    assert command[-3:] == requirements


def test_export_files_expire_after_a_day_and_keep_no_old_versions(prod: Synthesized) -> None:
    """GDPR export files: the bucket's lifecycle deletes them a day after they were written,
    and no version outlives a delete (an erasure), even in prod where buckets are versioned."""
    exports = next(b for b in DECLARATION.buckets if b.name == "exports")
    props = prod.resources[prod.logical_id("Storage/ExportsBucket")]["Properties"]
    rules = props["LifecycleConfiguration"]["Rules"]
    assert {"ExpirationInDays": exports.expiration_days, "Status": "Enabled"}.items() <= next(
        r for r in rules if "ExpirationInDays" in r
    ).items()
    assert exports.expiration_days == 1
    assert "VersioningConfiguration" not in props
    raw = prod.resources[prod.logical_id("Storage/RawUploadsBucket")]["Properties"]
    assert raw["VersioningConfiguration"] == {"Status": "Enabled"}  # the others keep theirs


def test_a_rerank_model_set_in_context_is_granted_and_configured_where_bedrock_is_used(
    tmp_path_factory: pytest.TempPathFactory, deps_layer_dir: Path
) -> None:
    """Issue 16: the rerank stage is off unless a model is named (offered in some regions
    only); named, the Bedrock functions get its id and exactly Rerank + InvokeModel on it."""
    synthesized = synthesize(
        "staging",
        tmp_path_factory.mktemp("cdk-rerank"),
        deps_layer_dir,
        extra_context={"rerank_model_id": "amazon.rerank-v1:0"},
    )
    assert synthesized.validation_error is None, synthesized.validation_error
    for function in DECLARATION.functions:
        statements = role_statements(synthesized, function.name)
        rerank = statements_with(statements, "bedrock:Rerank")
        invoke = [
            s
            for s in statements_with(statements, "bedrock:InvokeModel")
            if as_list(s["Action"]) == ["bedrock:InvokeModel"]
        ]
        env = function_props(synthesized, function.name)["Environment"]["Variables"]
        if not function.uses_bedrock:
            assert rerank == [] and invoke == [], function.name
            assert "CREATOR_CHAT_RERANKER" not in env
            continue
        assert [as_list(s["Resource"]) for s in rerank] == [["*"]]
        (statement,) = invoke
        arns = {render(r) for r in as_list(statement["Resource"])}
        assert any(a.endswith("foundation-model/amazon.rerank-v1:0") for a in arns), arns
        assert env["CREATOR_CHAT_RERANKER"] == "bedrock"
        assert env["CREATOR_CHAT_RERANK_MODEL_ID"] == "amazon.rerank-v1:0"


def test_without_a_rerank_model_no_function_is_granted_rerank(synthesized: Synthesized) -> None:
    for function in DECLARATION.functions:
        assert statements_with(role_statements(synthesized, function.name), "bedrock:Rerank") == []

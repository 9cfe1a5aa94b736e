"""The WebSocket API of streamed answers, synthesised offline for prod and dev: its routes
from the declaration, the authorizer on $connect, the streaming function's least privilege,
the connections table, logs that never hold the token, throttling, alarms and the output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from creator_chat.adapters.aws.websocket_sender import CALLBACK_URL_ENV
from creator_chat.resources import DECLARATION

from infra_cdk.constructs.websocket import IDENTITY_SOURCE, STAGE_NAME
from infra_cdk.naming import pascal_case

from .conftest import Synthesized, synthesize
from .test_stack import (
    alias_id,
    as_list,
    function_props,
    referenced_ids,
    render,
    role_statements,
    statements_with,
    table_id,
)

STREAMING_FUNCTIONS = sorted({route.function for route in DECLARATION.websocket_routes})
PSEUDO = {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::URLSuffix"}


def alarm_metric(alarm: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(namespace, metric name, dimensions) of a one-metric alarm, in either of the forms
    CloudFormation takes (a labelled metric is written as ``Metrics``)."""
    metric = alarm
    if "Metrics" in alarm:
        if len(alarm["Metrics"]) != 1:  # a math expression over several metrics
            return "", "", {}
        metric = alarm["Metrics"][0]["MetricStat"]["Metric"]
    dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
    return metric.get("Namespace", ""), metric.get("MetricName", ""), dimensions


def ws_api_id(s: Synthesized) -> str:
    return s.logical_id("Stream/WebSocketApi")


def of_ws_api(s: Synthesized, resource_type: str) -> dict[str, dict[str, Any]]:
    api = {"Ref": ws_api_id(s)}
    return {k: v for k, v in s.of_type(resource_type).items() if v["Properties"]["ApiId"] == api}


def ws_stage(s: Synthesized) -> dict[str, Any]:
    (stage,) = of_ws_api(s, "AWS::ApiGatewayV2::Stage").values()
    props: dict[str, Any] = stage["Properties"]
    return props


def test_the_websocket_api_selects_routes_by_the_bodys_action(synthesized: Synthesized):
    api = synthesized.resources[ws_api_id(synthesized)]["Properties"]
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.action"


def test_every_declared_websocket_route_exists_and_integrates_its_function(
    synthesized: Synthesized,
):
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in of_ws_api(synthesized, "AWS::ApiGatewayV2::Route").values()
    }
    assert set(routes) == {r.route_key for r in DECLARATION.websocket_routes}
    assert {"$connect", "$disconnect", "chat", "$default"} <= set(routes)
    integrations = of_ws_api(synthesized, "AWS::ApiGatewayV2::Integration")
    for route in DECLARATION.websocket_routes:
        (integration_id,) = referenced_ids(routes[route.route_key]["Target"])
        integration = integrations[integration_id]["Properties"]
        assert integration["IntegrationType"] == "AWS_PROXY", route.route_key
        assert referenced_ids(integration["IntegrationUri"]) - PSEUDO == {
            alias_id(synthesized, route.function)
        }, route.route_key
    # API Gateway may invoke the alias behind the routes, from this API only
    for function in STREAMING_FUNCTIONS:
        permissions = [
            p["Properties"]
            for p in synthesized.of_type("AWS::Lambda::Permission").values()
            if p["Properties"]["FunctionName"] == {"Ref": alias_id(synthesized, function)}
            and ws_api_id(synthesized) in referenced_ids(p["Properties"]["SourceArn"])
        ]
        assert permissions and all(
            p["Principal"] == "apigateway.amazonaws.com" for p in permissions
        )


def test_only_connect_is_authorized_by_the_authorizer_function_on_the_token_query_param(
    synthesized: Synthesized,
):
    (authorizer_id, authorizer) = next(
        iter(of_ws_api(synthesized, "AWS::ApiGatewayV2::Authorizer").items())
    )
    props = authorizer["Properties"]
    assert props["AuthorizerType"] == "REQUEST"
    assert props["IdentitySource"] == [IDENTITY_SOURCE] == ["route.request.querystring.token"]
    assert referenced_ids(props["AuthorizerUri"]) - PSEUDO == {alias_id(synthesized, "authorizer")}
    for route in of_ws_api(synthesized, "AWS::ApiGatewayV2::Route").values():
        route_props = route["Properties"]
        if route_props["RouteKey"] == "$connect":
            assert route_props["AuthorizationType"] == "CUSTOM"
            assert route_props["AuthorizerId"] == {"Ref": authorizer_id}
        else:
            assert route_props.get("AuthorizationType", "NONE") == "NONE"


def test_the_streaming_function_may_manage_this_stages_connections_only(
    synthesized: Synthesized,
):
    for function in STREAMING_FUNCTIONS:
        statements = role_statements(synthesized, function)
        (statement,) = statements_with(statements, "execute-api:")
        assert as_list(statement["Action"]) == ["execute-api:ManageConnections"]
        (resource,) = as_list(statement["Resource"])
        arn = render(resource)
        assert arn.endswith(f":<{ws_api_id(synthesized)}>/{STAGE_NAME}/*/@connections/*"), arn
        assert "*" not in arn.split("/@connections/")[0].split(":execute-api:")[0]
    # and no other function may
    for decl in DECLARATION.functions:
        if decl.name not in STREAMING_FUNCTIONS:
            assert statements_with(role_statements(synthesized, decl.name), "execute-api:") == []
    # the wildcard over connection ids is acknowledged with its reason
    acknowledged = {
        rule["id"]
        for resource in synthesized.resources.values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    }
    assert any("@connections/*" in rule for rule in acknowledged)


def test_the_streaming_function_learns_the_stages_callback_url(synthesized: Synthesized):
    for function in STREAMING_FUNCTIONS:
        env = function_props(synthesized, function)["Environment"]["Variables"]
        url = render(env[CALLBACK_URL_ENV])
        assert url.startswith(f"https://<{ws_api_id(synthesized)}>.execute-api.")
        assert url.endswith(f"/{STAGE_NAME}")
    for decl in DECLARATION.functions:
        if decl.name not in STREAMING_FUNCTIONS:
            env = function_props(synthesized, decl.name)["Environment"]["Variables"]
            assert CALLBACK_URL_ENV not in env, decl.name


def test_the_connections_table_has_its_user_index_and_a_ttl(synthesized: Synthesized):
    table = synthesized.resources[table_id(synthesized, "connections")]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "connection_id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_user"
    assert index["KeySchema"] == [{"AttributeName": "user_id", "KeyType": "HASH"}]


def test_the_stage_is_throttled_and_logs_without_the_query_string(synthesized: Synthesized):
    stage = ws_stage(synthesized)
    assert stage["StageName"] == STAGE_NAME
    assert stage["AutoDeploy"] is True
    settings = stage["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] == synthesized.config.api_throttle_rate
    assert settings["ThrottlingBurstLimit"] == synthesized.config.api_throttle_burst
    assert settings["DetailedMetricsEnabled"] is True
    log_settings = stage["AccessLogSettings"]
    assert referenced_ids(log_settings["DestinationArn"]) == {
        synthesized.logical_id("Stream/AccessLogs")
    }
    text = log_settings["Format"]
    fields = json.loads(text)
    assert {"requestId", "eventType", "routeKey", "connectionId", "status"} <= set(fields)
    # nothing that can carry request input: the token is in the query string on $connect
    for forbidden in ("querystring", "$request", "$input", "token", "path", "$method"):
        assert forbidden not in text.lower(), forbidden
    for value in fields.values():
        assert value.startswith("$context."), value


def test_the_websocket_log_group_keeps_the_envs_retention(synthesized: Synthesized):
    logs = synthesized.resources[synthesized.logical_id("Stream/AccessLogs")]["Properties"]
    assert logs["RetentionInDays"] > 0


def test_alarms_on_integration_errors_and_the_streaming_functions_errors(
    synthesized: Synthesized,
):
    topic = {"Ref": synthesized.logical_id("Observability/AlarmTopic")}
    alarms = [a["Properties"] for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()]
    integration = [
        a for a in alarms if alarm_metric(a)[:2] == ("AWS/ApiGateway", "IntegrationError")
    ]
    (alarm,) = integration
    assert alarm_metric(alarm)[2] == {"ApiId": {"Ref": ws_api_id(synthesized)}, "Stage": STAGE_NAME}
    assert alarm["AlarmActions"] == [topic]
    assert alarm["Threshold"] == synthesized.config.alarms.lambda_errors
    for function in STREAMING_FUNCTIONS:
        function_id = synthesized.logical_id(f"Functions/{pascal_case(function)}Function")
        errors = [
            a
            for a in alarms
            if alarm_metric(a)[:2] == ("AWS/Lambda", "Errors")
            and function_id in referenced_ids(alarm_metric(a)[2])
        ]
        assert len(errors) == 1 and errors[0]["AlarmActions"] == [topic], function


def test_the_dashboard_graphs_connects_messages_errors_and_the_streaming_function(
    synthesized: Synthesized,
):
    (dashboard,) = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    body = render(dashboard["Properties"]["DashboardBody"])
    for metric in ("ConnectCount", "MessageCount", "IntegrationError", "ClientError"):
        assert f'"{metric}"' in body, metric
    assert f"<{ws_api_id(synthesized)}>" in body
    for function in STREAMING_FUNCTIONS:
        assert f"{function} function (streamed answers)" in body


def test_the_websocket_url_is_an_output_and_the_web_page_may_connect_to_it_where_it_streams(
    synthesized: Synthesized,
):
    outputs = synthesized.template.to_json()["Outputs"]
    url = render(outputs["WebSocketUrl"]["Value"])
    assert url.startswith(f"wss://<{ws_api_id(synthesized)}>.execute-api.")
    assert url.endswith(f"/{STAGE_NAME}")
    web = synthesized.stack.node.find_child("Web")
    config = synthesized.stack.resolve(web.client_config)  # type: ignore[attr-defined]
    policies = synthesized.of_type("AWS::CloudFront::ResponseHeadersPolicy").values()
    csp = [
        json.dumps(p["Properties"]) for p in policies if "ContentSecurityPolicy" in json.dumps(p)
    ]
    assert csp
    # every profile streams: in the VPC the stream function posts through the NAT
    assert ws_api_id(synthesized) in json.dumps(config["stream_url"])
    assert all("wss://" in c and ws_api_id(synthesized) in c for c in csp)


def _subnet_names(synthesized: Synthesized, subnet_refs: list[Any]) -> set[str]:
    """The aws-cdk:subnet-name tag of each subnet a function is placed in."""
    names = set()
    for ref in subnet_refs:
        subnet = synthesized.resources[ref["Ref"]]
        tags = {t["Key"]: t["Value"] for t in subnet["Properties"].get("Tags", [])}
        names.add(tags["aws-cdk:subnet-name"])
    return names


def test_in_the_vpc_only_the_streaming_function_has_a_route_out_through_one_nat(
    prod: Synthesized, dev: Synthesized, tmp_path: Path, deps_layer_dir: Path
):
    """The management API (PostToConnection) is a public endpoint no VPC endpoint serves:
    in prod the stream function runs in subnets routed through one NAT gateway; every other
    function stays in the isolated subnets; dev has no VPC and no NAT at all."""
    prod.template.resource_count_is("AWS::EC2::NatGateway", 1)
    dev.template.resource_count_is("AWS::EC2::NatGateway", 0)
    for function in STREAMING_FUNCTIONS:
        props = function_props(prod, function)
        assert _subnet_names(prod, props["VpcConfig"]["SubnetIds"]) == {"egress"}
        assert "VpcConfig" not in function_props(dev, function)
    for decl in DECLARATION.functions:
        if decl.name in STREAMING_FUNCTIONS:
            continue
        vpc = function_props(prod, decl.name).get("VpcConfig")
        if vpc:
            assert _subnet_names(prod, vpc["SubnetIds"]) == {"private"}, decl.name
    # the gateway endpoints (DynamoDB, S3) serve the egress subnets' route tables too
    for endpoint in prod.of_type("AWS::EC2::VPCEndpoint").values():
        if endpoint["Properties"].get("VpcEndpointType", "Gateway") == "Gateway":
            assert len(endpoint["Properties"]["RouteTableIds"]) >= 4
    # -c nat=false: no NAT, and the page is not told to stream (it asks over HTTP)
    no_nat = synthesize("prod", tmp_path / "cdk", deps_layer_dir, extra_context={"nat": "false"})
    no_nat.template.resource_count_is("AWS::EC2::NatGateway", 0)
    web = no_nat.stack.node.find_child("Web")
    config = no_nat.stack.resolve(web.client_config)  # type: ignore[attr-defined]
    assert config.get("stream_url") is None

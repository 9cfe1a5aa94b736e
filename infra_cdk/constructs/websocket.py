"""API Gateway WebSocket API: streamed answers (``docs/architecture.md`` "Streaming answers").

The routes come from ``DECLARATION.websocket_routes`` (route selection
``$request.body.action``): ``$connect`` is checked by the same authorizer function as the HTTP
API (a REQUEST authorizer on the ``token`` query parameter: browsers cannot set headers on a
WebSocket), the other routes ride on the connection it allowed. The functions behind the
routes may manage this stage's connections (``execute-api:ManageConnections`` on
``{api}/{stage}/*/@connections/*`` only) and learn the management endpoint from
``CREATOR_CHAT_WEBSOCKET_CALLBACK_URL``; those that use Bedrock may also stream from the
generation model (``bedrock:InvokeModelWithResponseStream``, ConverseStream).

Access logs never hold the query string, so never the token: the format below names only
``$context`` variables that carry no request input.

A function behind the routes that runs in the VPC (staging, prod) reaches the management
API, a public endpoint, through the VPC's NAT gateway (``egress``); with ``-c nat=false``
it cannot: ``delivers`` is then False and the stack gives the web page no ``stream_url``
(the page asks over HTTP).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnElement, Stack
from aws_cdk import aws_apigateway as apigw_v1
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from creator_chat.adapters.aws.websocket_sender import CALLBACK_URL_ENV
from creator_chat.resources import Declaration

from infra_cdk.config import EnvConfig
from infra_cdk.constructs.api import AccessLogSettings
from infra_cdk.constructs.functions import bedrock_model_arns
from infra_cdk.nag import acknowledge
from infra_cdk.naming import pascal_case

STAGE_NAME = "live"
ROUTE_SELECTION_EXPRESSION = "$request.body.action"
# Browsers cannot set headers on a WebSocket: the token travels as ?token=… on $connect.
# API Gateway answers 401 to a connect without it, before invoking the authorizer.
IDENTITY_SOURCE = "route.request.querystring.token"
# One JSON line per connect, message and disconnect. Only $context variables that carry no
# request input: no query string (the token), no headers, no body.
ACCESS_LOG_FORMAT = apigw_v1.AccessLogFormat.custom(
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"requestTime":"$context.requestTime","eventType":"$context.eventType",'
    '"routeKey":"$context.routeKey","connectionId":"$context.connectionId",'
    '"status":"$context.status","messageDirection":"$context.messageDirection",'
    '"integrationStatus":"$context.integration.status",'
    '"integrationLatencyMs":"$context.integration.latency",'
    '"integrationError":"$context.integration.error",'
    '"authorizeStatus":"$context.authorize.status",'
    '"authorizerLatencyMs":"$context.authorizer.latency",'
    '"authorizerError":"$context.authorizer.error",'
    '"error":"$context.error.message",'
    '"userId":"$context.authorizer.user_id"}'
)


class WebSocketConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        declaration: Declaration,
        config: EnvConfig,
        handlers: Mapping[str, lambda_.IFunction],
        functions: Mapping[str, lambda_.Function],
        roles: Mapping[str, iam.Role],
        egress: bool = False,
    ) -> None:
        super().__init__(scope, id)
        routes = declaration.websocket_routes
        self.authorizer = authorizers.WebSocketLambdaAuthorizer(
            "Authorizer",
            handlers[declaration.authorizer_function],
            authorizer_name=f"{config.resource_prefix}-websocket-authorizer",
            identity_source=[IDENTITY_SOURCE],
        )
        self.api = apigw.WebSocketApi(
            self,
            "WebSocketApi",
            api_name=f"{config.resource_prefix}-stream",
            description=f"creator-chat {config.name}: streamed answers",
            route_selection_expression=ROUTE_SELECTION_EXPRESSION,
        )
        integration_by_function: dict[str, integrations.WebSocketLambdaIntegration] = {}
        for route in routes:
            integration = integration_by_function.get(route.function)
            if integration is None:
                integration = integrations.WebSocketLambdaIntegration(
                    f"{pascal_case(route.function)}Integration", handlers[route.function]
                )
                integration_by_function[route.function] = integration
            if route.authorized and route.route_key != "$connect":
                raise ValueError(
                    f"WebSocket route {route.route_key}: only $connect can be authorized"
                )
            ws_route = self.api.add_route(
                route.route_key,
                integration=integration,
                authorizer=self.authorizer if route.authorized else None,
            )
            if not route.authorized:
                acknowledge(
                    ws_route,
                    "AwsSolutions-APIG4",
                    f"WebSocket route {route.route_key} needs no authorizer of its own: API "
                    "Gateway authorizes a WebSocket once, on $connect, and every later message "
                    "rides on that connection (with the authorizer's context).",
                )

        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        self.stage = apigw.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=STAGE_NAME,
            auto_deploy=True,
            detailed_metrics_enabled=True,
            throttle=apigw.ThrottleSettings(
                rate_limit=config.api_throttle_rate, burst_limit=config.api_throttle_burst
            ),
            access_log_settings=AccessLogSettings(self.access_logs, ACCESS_LOG_FORMAT),
        )

        stream_models, _ = bedrock_model_arns(config.generation_model_id)
        # False when a function behind the routes cannot reach the management API (below)
        self.delivers = True
        for name in dict.fromkeys(route.function for route in routes):
            role = roles[name]
            self.stage.grant_management_api_access(role)
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{self._connections_arn_for_nag()}]",
                "Connection ids exist only at run time: the grant covers the connections of "
                "this one API stage (POST, GET and DELETE on @connections).",
            )
            functions[name].add_environment(CALLBACK_URL_ENV, self.stage.callback_url)
            if functions[name].is_bound_to_vpc and not egress:
                # The execute-api VPC endpoint serves private REST APIs only: from the VPC,
                # PostToConnection reaches API Gateway only through a NAT (``nat=true``).
                self.delivers = False
            decl = declaration.function(name)
            if decl.uses_bedrock:
                role.add_to_principal_policy(
                    iam.PolicyStatement(
                        actions=["bedrock:InvokeModelWithResponseStream"],
                        resources=stream_models,
                    )
                )

    def _connections_arn_for_nag(self) -> str:
        """How cdk-nag spells the stage's connections ARN in a finding id."""
        return (
            "arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:"
            f"<{_logical_id(self.api)}>/{STAGE_NAME}/*/@connections/*"
        )

    @property
    def url(self) -> str:
        """``wss://{api id}.execute-api.{region}.amazonaws.com/{stage}``"""
        return self.stage.url

    @property
    def callback_url(self) -> str:
        return self.stage.callback_url


def _logical_id(construct: Construct) -> str:
    child = construct.node.default_child
    if not isinstance(child, CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return str(Stack.of(construct).resolve(Stack.of(construct).get_logical_id(child)))

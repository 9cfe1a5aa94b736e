"""API Gateway HTTP API: the declared routes, the Lambda authorizer, throttling, CORS, logs."""

from __future__ import annotations

from collections.abc import Mapping

import jsii
from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw_v1
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from creator_chat.resources import Declaration, Route

from infra_cdk.config import EnvConfig
from infra_cdk.nag import acknowledge
from infra_cdk.naming import pascal_case

AUTHORIZER_CACHE_TTL = Duration.seconds(60)
# One JSON line per request; requestId joins it to the functions' logs.
_ACCESS_LOG_FORMAT = apigw_v1.AccessLogFormat.custom(
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"requestTime":"$context.requestTime","routeKey":"$context.routeKey",'
    '"status":"$context.status","protocol":"$context.protocol",'
    '"responseLength":"$context.responseLength",'
    '"latencyMs":"$context.responseLatency",'
    '"integrationLatencyMs":"$context.integrationLatency",'
    '"integrationError":"$context.integrationErrorMessage",'
    '"authorizerError":"$context.authorizer.error",'
    '"userId":"$context.authorizer.user_id"}'
)


@jsii.implements(apigw.IAccessLogSettings)
class AccessLogSettings:
    """A stage's access log: a log group and a format (the HTTP and the WebSocket API's)."""

    def __init__(
        self, log_group: logs.ILogGroup, log_format: apigw_v1.AccessLogFormat = _ACCESS_LOG_FORMAT
    ) -> None:
        self._destination = apigw.LogGroupLogDestination(log_group)
        self._format = log_format

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw_v1.AccessLogFormat:
        return self._format


def _methods(route: Route) -> list[apigw.HttpMethod]:
    return [apigw.HttpMethod(route.method.upper())]


class ApiConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        declaration: Declaration,
        config: EnvConfig,
        handlers: Mapping[str, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, id)
        self.authorizer = authorizers.HttpLambdaAuthorizer(
            "Authorizer",
            handlers[declaration.authorizer_function],
            authorizer_name=f"{config.resource_prefix}-authorizer",
            response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
            identity_source=["$request.header.Authorization"],
            results_cache_ttl=AUTHORIZER_CACHE_TTL,
        )
        cors = (
            apigw.CorsPreflightOptions(
                allow_origins=list(config.cors_allowed_origins),
                allow_methods=[apigw.CorsHttpMethod.ANY],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
                expose_headers=["Retry-After", "Location"],
                max_age=Duration.hours(1),
            )
            if config.cors_allowed_origins
            else None
        )
        self.http_api = apigw.HttpApi(
            self,
            "HttpApi",
            api_name=config.resource_prefix,
            description=f"creator-chat {config.name}",
            cors_preflight=cors,
            create_default_stage=False,
        )
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        self.stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            detailed_metrics_enabled=True,
            throttle=apigw.ThrottleSettings(
                rate_limit=config.api_throttle_rate, burst_limit=config.api_throttle_burst
            ),
            access_log_settings=AccessLogSettings(self.access_logs),
        )

        integration_by_function: dict[str, integrations.HttpLambdaIntegration] = {}
        for route in declaration.routes:
            integration = integration_by_function.get(route.function)
            if integration is None:
                integration = integrations.HttpLambdaIntegration(
                    f"{pascal_case(route.function)}Integration", handlers[route.function]
                )
                integration_by_function[route.function] = integration
            http_routes = self.http_api.add_routes(
                path=route.path,
                methods=_methods(route),
                integration=integration,
                authorizer=self.authorizer if route.authorized else None,
            )
            if not route.authorized:
                for http_route in http_routes:
                    acknowledge(
                        http_route,
                        "AwsSolutions-APIG4",
                        f"{route.method} {route.path} is public by declaration "
                        "(health, docs, OpenAPI schema); it serves no user data.",
                    )

    @property
    def url(self) -> str:
        return self.stage.url

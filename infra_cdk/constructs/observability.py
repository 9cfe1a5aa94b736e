"""CloudWatch: one dashboard and the alarms, all of which notify one encrypted SNS topic."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from creator_chat.resources import Declaration

from infra_cdk.config import CUSTOM_METRICS, METRICS_NAMESPACE, EnvConfig
from infra_cdk.naming import pascal_case

PERIOD = Duration.minutes(5)
_WIDTH = 12  # half of the dashboard's 24 columns


class ObservabilityConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        declaration: Declaration,
        config: EnvConfig,
        http_api: apigw.HttpApi,
        functions: Mapping[str, lambda_.Function],
        websocket_api: apigw.WebSocketApi | None = None,
        websocket_stage: apigw.WebSocketStage | None = None,
        queues: Mapping[str, sqs.IQueue],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        tables: Mapping[str, dynamodb.TableV2],
    ) -> None:
        super().__init__(scope, id)
        self._config = config
        # CloudWatch alarms can publish to an encrypted topic only when the key lets the
        # CloudWatch service use it, which the AWS-managed SNS key does not.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"creator-chat {config.name} alarm topic",
            enable_key_rotation=True,
            removal_policy=config.removal_policy,
        )
        key.grant_encrypt_decrypt(iam.ServicePrincipal("cloudwatch.amazonaws.com"))
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"creator-chat {config.name} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self._action = actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{config.resource_prefix}-overview",
            default_interval=Duration.hours(3),
        )
        self._api(http_api)
        self._functions(functions)
        if websocket_api is not None and websocket_stage is not None:
            self._websocket(declaration, websocket_api, websocket_stage, functions)
        self._queues(declaration, queues, dead_letter_queues)
        self._tables(tables)
        self._custom_metrics()

    # -- sections -------------------------------------------------------------------------

    def _api(self, http_api: apigw.HttpApi) -> None:
        thresholds = self._config.alarms
        requests = http_api.metric_count(period=PERIOD, statistic="Sum")
        errors_4xx = http_api.metric_client_error(period=PERIOD, statistic="Sum")
        errors_5xx = http_api.metric_server_error(period=PERIOD, statistic="Sum")
        p50 = http_api.metric_latency(period=PERIOD, statistic="p50")
        p99 = http_api.metric_latency(period=PERIOD, statistic="p99")
        rate_5xx = cloudwatch.MathExpression(
            expression="IF(requests > 0, 100 * errors / requests, 0)",
            using_metrics={"errors": errors_5xx, "requests": requests},
            label="5xx rate (%)",
            period=PERIOD,
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[requests],
                right=[errors_4xx, errors_5xx],
                width=_WIDTH,
            ),
            cloudwatch.GraphWidget(title="API latency (ms)", left=[p50, p99], width=_WIDTH),
        )
        self._alarm(
            "Api5xxRate",
            rate_5xx,
            thresholds.api_5xx_rate_percent,
            f"API 5xx rate above {thresholds.api_5xx_rate_percent}%",
        )
        self._alarm(
            "ApiLatencyP99",
            p99,
            thresholds.api_p99_latency_ms,
            f"API p99 latency above {thresholds.api_p99_latency_ms} ms",
        )

    def _functions(self, functions: Mapping[str, lambda_.Function]) -> None:
        thresholds = self._config.alarms
        errors, throttles, durations = [], [], []
        for name, function in functions.items():
            error_metric = function.metric_errors(period=PERIOD, statistic="Sum", label=name)
            throttle_metric = function.metric_throttles(period=PERIOD, statistic="Sum", label=name)
            errors.append(error_metric)
            throttles.append(throttle_metric)
            durations.append(
                function.metric_duration(period=PERIOD, statistic="p99", label=f"{name} p99")
            )
            base = pascal_case(name)
            self._alarm(
                f"{base}Errors",
                error_metric,
                thresholds.lambda_errors,
                f"{name}: {thresholds.lambda_errors}+ errors in 5 minutes",
                at_least=True,
            )
            self._alarm(
                f"{base}Throttles",
                throttle_metric,
                thresholds.lambda_throttles,
                f"{name}: {thresholds.lambda_throttles}+ throttles in 5 minutes",
                at_least=True,
            )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Lambda errors", left=errors, width=8),
            cloudwatch.GraphWidget(title="Lambda throttles", left=throttles, width=8),
            cloudwatch.GraphWidget(title="Lambda duration p99 (ms)", left=durations, width=8),
        )

    def _websocket(
        self,
        declaration: Declaration,
        api: apigw.WebSocketApi,
        stage: apigw.WebSocketStage,
        functions: Mapping[str, lambda_.Function],
    ) -> None:
        """Streamed answers: connections, messages and errors of the WebSocket stage, and the
        functions behind its routes (their errors and throttles alarm with every function's).
        """
        thresholds = self._config.alarms

        def metric(name: str, label: str, statistic: str = "Sum") -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name=name,
                dimensions_map={"ApiId": api.api_id, "Stage": stage.stage_name},
                period=PERIOD,
                statistic=statistic,
                label=label,
            )

        integration_errors = metric("IntegrationError", "integration errors")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="WebSocket connects and messages",
                left=[metric("ConnectCount", "connects"), metric("MessageCount", "messages")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="WebSocket errors",
                left=[
                    integration_errors,
                    metric("ClientError", "client errors (4xx, refused connects)"),
                    metric("ExecutionError", "execution errors"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="WebSocket integration latency (ms)",
                left=[metric("IntegrationLatency", "p99", "p99")],
                width=8,
            ),
        )
        for name in dict.fromkeys(route.function for route in declaration.websocket_routes):
            function = functions[name]
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title=f"{name} function (streamed answers): errors and throttles",
                    left=[
                        function.metric_errors(period=PERIOD, statistic="Sum", label="errors"),
                        function.metric_throttles(
                            period=PERIOD, statistic="Sum", label="throttles"
                        ),
                    ],
                    width=_WIDTH,
                ),
                cloudwatch.GraphWidget(
                    title=f"{name} function (streamed answers): duration (ms)",
                    left=[
                        function.metric_duration(period=PERIOD, statistic="p50", label="p50"),
                        function.metric_duration(period=PERIOD, statistic="p99", label="p99"),
                        function.metric_duration(period=PERIOD, statistic="Maximum", label="max"),
                    ],
                    width=_WIDTH,
                ),
            )
        self._alarm(
            "WebSocketIntegrationErrors",
            integration_errors,
            thresholds.lambda_errors,
            f"WebSocket API: {thresholds.lambda_errors}+ integration errors in 5 minutes",
            at_least=True,
        )

    def _queues(
        self,
        declaration: Declaration,
        queues: Mapping[str, sqs.IQueue],
        dead_letter_queues: Mapping[str, sqs.IQueue],
    ) -> None:
        thresholds = self._config.alarms
        depth, age, dead = [], [], []
        for queue_decl in declaration.queues:
            name, queue = queue_decl.name, queues[queue_decl.name]
            base = pascal_case(name)
            visible = queue.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum", label=name
            )
            oldest = queue.metric_approximate_age_of_oldest_message(
                period=PERIOD, statistic="Maximum", label=name
            )
            dlq_visible = dead_letter_queues[name].metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum", label=queue_decl.dlq_name
            )
            depth.append(visible)
            age.append(oldest)
            dead.append(dlq_visible)
            # A message retried once is legitimately as old as one visibility timeout.
            max_age = max(thresholds.queue_oldest_message_age_s, queue_decl.visibility_timeout_s)
            self._alarm(
                f"{base}OldestMessageAge",
                oldest,
                max_age,
                f"{name}: oldest message older than {max_age} s",
            )
            self._alarm(
                f"{base}DlqNotEmpty",
                dlq_visible,
                1,
                f"{queue_decl.dlq_name}: messages failed {queue_decl.max_receive_count} times",
                at_least=True,
                evaluation_periods=1,
            )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Queue depth", left=depth, width=8),
            cloudwatch.GraphWidget(title="Oldest message age (s)", left=age, width=8),
            cloudwatch.GraphWidget(title="Dead-letter queues", left=dead, width=8),
        )

    def _tables(self, tables: Mapping[str, dynamodb.TableV2]) -> None:
        thresholds = self._config.alarms
        lines = []
        for index, (name, table) in enumerate(tables.items()):
            # Metric ids must be unique within the dashboard widget they share.
            reads, writes = f"reads{index}", f"writes{index}"
            throttled = cloudwatch.MathExpression(
                expression=f"{reads} + {writes}",
                using_metrics={
                    reads: _table_metric(table, "ReadThrottleEvents"),
                    writes: _table_metric(table, "WriteThrottleEvents"),
                },
                label=name,
                period=PERIOD,
            )
            lines.append(throttled)
            self._alarm(
                f"{pascal_case(name)}TableThrottles",
                throttled,
                thresholds.dynamodb_throttle_events,
                f"table {name}: {thresholds.dynamodb_throttle_events}+ throttled requests",
                at_least=True,
            )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="DynamoDB throttle events", left=lines, width=24)
        )

    def _custom_metrics(self) -> None:
        # SEARCH finds each metric whatever dimensions the functions emit it with
        # (Powertools adds ``service``), so the dashboard does not need to know them.
        def search(metric_name: str) -> cloudwatch.MathExpression:
            query = f'Namespace="{METRICS_NAMESPACE}" MetricName="{metric_name}"'
            return cloudwatch.MathExpression(
                expression=f"SEARCH('{query}', 'Sum', 300)",
                using_metrics={},
                label=metric_name,
                period=PERIOD,
            )

        groups = (
            ("Caches", ("CacheHit", "CacheMiss")),
            ("Generator tokens", ("GeneratorInputTokens", "GeneratorOutputTokens")),
            (
                "Generator throttled / retrieval unavailable / chats queued",
                ("GeneratorThrottled", "RetrievalUnavailable", "ChatQueued"),
            ),
        )
        if {m for _, names in groups for m in names} != set(CUSTOM_METRICS):
            raise ValueError("every custom metric needs a place on the dashboard")
        self.dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"{title} ({METRICS_NAMESPACE})",
                    left=[search(name) for name in names],
                    width=8,
                )
                for title, names in groups
            )
        )

    # -- helpers --------------------------------------------------------------------------

    def _alarm(
        self,
        id: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        *,
        at_least: bool = False,
        evaluation_periods: int | None = None,
    ) -> None:
        thresholds = self._config.alarms
        periods = evaluation_periods or thresholds.evaluation_periods
        alarm = cloudwatch.Alarm(
            self,
            id,
            metric=metric,
            threshold=threshold,
            comparison_operator=(
                cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
                if at_least
                else cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
            ),
            evaluation_periods=periods,
            datapoints_to_alarm=min(thresholds.datapoints_to_alarm, periods),
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"creator-chat {self._config.name}: {description}",
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)


def _table_metric(table: dynamodb.TableV2, metric_name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/DynamoDB",
        metric_name=metric_name,
        dimensions_map={"TableName": table.table_name},
        period=PERIOD,
        statistic="Sum",
    )

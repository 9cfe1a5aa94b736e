"""The private network and the serverless Redis-protocol cache (ElastiCache Valkey).

Each half follows the env's profile: the VPC exists with ``vpc=true``, the cache with
``cache=elasticache`` (which needs the VPC). Without either (dev's $0-idle profile) this
construct is empty: the functions run outside any VPC and keep an in-process cache.

One exception, with ``egress`` (a function that ``reaches_internet`` runs here, and
``nat=true``): a public subnet with one NAT gateway and private subnets routed through it,
for the stream function alone, which posts to API Gateway's management API — a public
endpoint no VPC endpoint serves (the ``execute-api`` endpoint serves private REST APIs).
One NAT in one AZ: if that AZ fails, streamed answers fail over to the HTTP route.

The functions that use the cache or the vector index run in this VPC, in isolated subnets
with no internet route: the AWS services those functions call are reached through VPC
endpoints (gateway endpoints for DynamoDB and S3, interface endpoints for SQS, Bedrock
runtime and, with ``vector_store=s3vectors``, S3 Vectors; the OpenSearch Serverless
endpoint lives in the search construct). The VPC stays in this construct (not a network
construct of its own) so that its logical ids, and so prod's network, never change.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra_cdk.config import EnvConfig

REDIS_PORTS = ec2.Port.tcp_range(6379, 6380)  # serverless primary and reader endpoints
HTTPS = ec2.Port.tcp(443)


class CacheConstruct(Construct):
    vpc: ec2.Vpc | None = None
    subnets: ec2.SubnetSelection | None = None
    subnet_ids: list[str]
    function_security_group: ec2.SecurityGroup | None = None
    endpoint_security_group: ec2.SecurityGroup | None = None
    cache: elasticache.CfnServerlessCache | None = None
    # rediss://host:port of the serverless cache; None: the functions' in-process cache.
    redis_url: str | None = None
    _cache_security_group: ec2.SecurityGroup | None = None
    # subnets with a NAT route, for the functions that must reach a public endpoint
    egress_subnets: ec2.SubnetSelection | None = None

    def __init__(
        self, scope: Construct, id: str, *, config: EnvConfig, egress: bool = False
    ) -> None:
        super().__init__(scope, id)
        self.subnet_ids = []
        if config.vpc:
            self._build_network(config, egress=egress)
        if config.cache == "elasticache":
            self._build_cache(config)

    def _build_network(self, config: EnvConfig, *, egress: bool) -> None:
        flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        subnets = [
            ec2.SubnetConfiguration(
                name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22
            )
        ]
        if egress:
            subnets += [
                ec2.SubnetConfiguration(
                    name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=26
                ),
                ec2.SubnetConfiguration(
                    name="egress", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24
                ),
            ]
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=config.max_azs,
            nat_gateways=1 if egress else 0,
            subnet_configuration=subnets,
            # Nothing is attached to the default security group; closing it would add a
            # custom-resource Lambda to the stack for no gain.
            restrict_default_security_group=False,
            flow_logs={
                "Rejected": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
                    traffic_type=ec2.FlowLogTrafficType.REJECT,
                )
            },
        )
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        if egress:
            self.egress_subnets = ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
            )
        self.subnet_ids: list[str] = self.vpc.select_subnets(
            subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
        ).subnet_ids

        self.function_security_group = ec2.SecurityGroup(
            self,
            "FunctionsSecurityGroup",
            vpc=self.vpc,
            description="Lambda functions that use the cache",
            allow_all_outbound=False,
        )
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointsSecurityGroup",
            vpc=self.vpc,
            description="Interface VPC endpoints (SQS, Bedrock runtime, OpenSearch Serverless)",
            allow_all_outbound=False,
        )
        self._cache_security_group = (
            ec2.SecurityGroup(
                self,
                "CacheSecurityGroup",
                vpc=self.vpc,
                description="ElastiCache Serverless",
                allow_all_outbound=False,
            )
            if config.cache == "elasticache"
            else None
        )
        self.endpoint_security_group.add_ingress_rule(
            self.function_security_group, HTTPS, "HTTPS from the functions"
        )
        if self._cache_security_group is not None:
            self._cache_security_group.add_ingress_rule(
                self.function_security_group, REDIS_PORTS, "Redis (TLS) from the functions"
            )
            self.function_security_group.add_egress_rule(
                self._cache_security_group, REDIS_PORTS, "Redis (TLS) to the cache"
            )
        # 443 to any address: the gateway endpoints (DynamoDB, S3) are reached on public
        # prefix lists whose ids would need an AWS lookup. The subnets have no internet
        # route, so this reaches the VPC endpoints only.
        self.function_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), HTTPS, "HTTPS to the VPC endpoints"
        )

        for name, gateway_service in (
            ("DynamoDb", ec2.GatewayVpcEndpointAwsService.DYNAMODB),
            ("S3", ec2.GatewayVpcEndpointAwsService.S3),
        ):
            self.vpc.add_gateway_endpoint(
                f"{name}Endpoint",
                service=gateway_service,
                subnets=[self.subnets, *([self.egress_subnets] if self.egress_subnets else [])],
            )
        interface_services = [
            ("Sqs", ec2.InterfaceVpcEndpointAwsService.SQS),
            ("BedrockRuntime", ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME),
        ]
        if config.vector_store == "s3vectors":
            interface_services.append(("S3Vectors", ec2.InterfaceVpcEndpointAwsService.S3_VECTORS))
        for name, interface_service in interface_services:
            self.vpc.add_interface_endpoint(
                f"{name}Endpoint",
                service=interface_service,
                subnets=self.subnets,
                security_groups=[self.endpoint_security_group],
                private_dns_enabled=True,
                open=False,
            )

    def _build_cache(self, config: EnvConfig) -> None:
        cache_security_group = self._cache_security_group
        if cache_security_group is None:
            raise ValueError("cache=elasticache needs vpc=true")
        self.cache = elasticache.CfnServerlessCache(
            self,
            "ServerlessCache",
            engine="valkey",
            major_engine_version="8",
            serverless_cache_name=config.resource_prefix,
            description=f"creator-chat {config.name}: embedding, retrieval and response caches",
            subnet_ids=self.subnet_ids,
            security_group_ids=[cache_security_group.security_group_id],
            cache_usage_limits=elasticache.CfnServerlessCache.CacheUsageLimitsProperty(
                data_storage=elasticache.CfnServerlessCache.DataStorageProperty(
                    unit="GB", maximum=config.cache_max_storage_gb
                ),
                ecpu_per_second=elasticache.CfnServerlessCache.ECPUPerSecondProperty(
                    maximum=config.cache_max_ecpu_per_second
                ),
            ),
        )
        # Only derived, recomputable data lives in the cache: never worth retaining.
        self.cache.apply_removal_policy(RemovalPolicy.DESTROY)
        # Serverless caches only accept TLS connections, hence rediss://.
        self.redis_url = (
            f"rediss://{self.cache.attr_endpoint_address}:{self.cache.attr_endpoint_port}"
        )

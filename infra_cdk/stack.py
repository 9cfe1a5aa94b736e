"""One stack per environment. It only composes the constructs; each concern lives in one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct
from creator_chat.resources import Declaration

from infra_cdk.config import INDEX_WRITERS, EnvConfig
from infra_cdk.constructs.api import ApiConstruct
from infra_cdk.constructs.cache import CacheConstruct
from infra_cdk.constructs.data import DataConstruct
from infra_cdk.constructs.functions import FunctionDependencies, FunctionsConstruct
from infra_cdk.constructs.identity import IdentityConstruct
from infra_cdk.constructs.observability import ObservabilityConstruct
from infra_cdk.constructs.queues import QueuesConstruct
from infra_cdk.constructs.search import S3VectorsConstruct, SearchConstruct, VectorStore
from infra_cdk.constructs.storage import StorageConstruct
from infra_cdk.constructs.web import WebConstruct
from infra_cdk.constructs.websocket import WebSocketConstruct


class CreatorChatStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvConfig,
        declaration: Declaration,
        repo_root: Path,
        deps_layer_dir: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            id,
            stack_name=config.stack_name,
            description=f"creator-chat ({config.name}): multi-tenant RAG chat",
            termination_protection=config.is_prod,
            **kwargs,
        )
        config.check_against(declaration)
        self.config = config

        data = DataConstruct(self, "Data", declaration=declaration, config=config)
        queues = QueuesConstruct(self, "Queues", declaration=declaration, config=config)
        storage = StorageConstruct(self, "Storage", declaration=declaration, config=config)
        # a NAT for the functions that must reach a public endpoint from the VPC (streaming)
        egress = (
            config.vpc
            and config.nat
            and any(
                f.reaches_internet and (f.uses_cache or f.uses_index) for f in declaration.functions
            )
        )
        cache = CacheConstruct(self, "Cache", config=config, egress=egress)
        search: VectorStore = (
            SearchConstruct(
                self,
                "Search",
                config=config,
                vpc=cache.vpc,
                subnet_ids=cache.subnet_ids,
                security_group=cache.endpoint_security_group,
            )
            if config.vector_store == "opensearch"
            else S3VectorsConstruct(self, "Vectors", config=config)
        )
        identity = IdentityConstruct(self, "Identity", config=config)
        functions = FunctionsConstruct(
            self,
            "Functions",
            declaration=declaration,
            config=config,
            dependencies=FunctionDependencies(
                tables=data.tables,
                queues=queues.queues,
                buckets=storage.buckets,
                search=search,
                cache=cache,
                identity=identity,
            ),
            repo_root=repo_root,
            deps_layer_dir=deps_layer_dir,
        )
        index_users = {
            f.name: functions.roles[f.name] for f in declaration.functions if f.uses_index
        }
        if isinstance(search, SearchConstruct):  # S3 Vectors: IAM alone (functions construct)
            search.grant_data_access(
                readers={n: r for n, r in index_users.items() if n not in INDEX_WRITERS},
                writers={n: r for n, r in index_users.items() if n in INDEX_WRITERS},
            )
        api = ApiConstruct(
            self, "Api", declaration=declaration, config=config, handlers=functions.aliases
        )
        websocket = WebSocketConstruct(
            self,
            "Stream",
            declaration=declaration,
            config=config,
            handlers=functions.aliases,
            functions=functions.functions,
            roles=functions.roles,
            egress=cache.egress_subnets is not None,
        )
        WebConstruct(
            self,
            "Web",
            config=config,
            api_url=api.url,
            # the page streams only where deltas can reach it (docs/architecture.md); without
            # a stream_url it asks over HTTP
            stream_url=websocket.url if websocket.delivers else None,
            upload_bucket=storage.buckets["raw-uploads"],
        )
        observability = ObservabilityConstruct(
            self,
            "Observability",
            declaration=declaration,
            config=config,
            http_api=api.http_api,
            websocket_api=websocket.api,
            websocket_stage=websocket.stage,
            functions=functions.functions,
            queues=queues.queues,
            dead_letter_queues=queues.dead_letter_queues,
            tables=data.tables,
        )

        CfnOutput(self, "ApiUrl", value=api.url)
        CfnOutput(
            self,
            "WebSocketUrl",
            value=websocket.url,
            description="WebSocket URL of streamed answers (connect with ?token=<JWT>)",
        )
        CfnOutput(self, "UserPoolId", value=identity.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=identity.client.user_pool_client_id)
        CfnOutput(self, "JwtIssuer", value=identity.issuer)
        CfnOutput(self, "AlarmTopicArn", value=observability.topic.topic_arn)
        CfnOutput(self, "DashboardName", value=observability.dashboard.dashboard_name)

"""Lambda: one function per declared ``Function``, each with its own least-privilege role.

Code comes from ``functions/<code_dir>`` (the folders the local runtime runs), the core
library from the ``layers/core`` layer and third-party packages from the dependency layer
built by ``layers/build_deps.py``. Every function is reached through its ``live`` alias
(API routes, SQS event sources), which points at the published version and carries
provisioned concurrency where configured. SnapStart (``EnvConfig.snapstart_functions``)
snapshots that published version after its init; the alias then resumes from it.

The functions that use the cache or the vector index run in the VPC when the profile has
one (``vpc=true``); otherwise every function runs outside any VPC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Annotations, Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from creator_chat.resources import FUNCTION_ENVIRONMENT, Declaration, Worker
from creator_chat.resources import Function as FunctionDecl

from infra_cdk.bytecode import compiled_code
from infra_cdk.config import (
    INDEX_WRITERS,
    LLM_WORKER_FUNCTION,
    METRICS_NAMESPACE,
    EnvConfig,
)
from infra_cdk.constructs.cache import CacheConstruct
from infra_cdk.constructs.identity import IdentityConstruct
from infra_cdk.constructs.search import VectorStore
from infra_cdk.nag import acknowledge
from infra_cdk.naming import pascal_case

# The dependency layer is built for this exact version (layers/build_deps.py PYTHON_VERSION).
RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
ALIAS_NAME = "live"

# Data-plane actions only: no table management, no streams, no PartiQL.
DYNAMODB_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
)
S3_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
# What Lambda needs to attach a function to the VPC; EC2 offers no resource-level scoping
# for the Describe* actions and Lambda's own managed policy uses "*" for all of them.
VPC_ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
# Cross-region inference profile ids start with a geography (``us.anthropic...``).
_INFERENCE_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "global.")


@dataclass(frozen=True)
class FunctionDependencies:
    """The resources the functions are wired to, by declared logical name."""

    tables: Mapping[str, dynamodb.TableV2]
    queues: Mapping[str, sqs.IQueue]
    buckets: Mapping[str, s3.IBucket]
    search: VectorStore
    cache: CacheConstruct
    identity: IdentityConstruct


def bedrock_model_arns(model_id: str) -> tuple[list[str], bool]:
    """The ARNs ``bedrock:InvokeModel`` needs for ``model_id``; True when one has a wildcard.

    A foundation model id maps to one regional ARN. An inference-profile id also needs the
    underlying model in every region the profile may route to.
    """
    foundation = f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{model_id}"
    if not model_id.startswith(_INFERENCE_PROFILE_PREFIXES):
        return [foundation], False
    base_model = model_id.split(".", 1)[1]
    return [
        f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}:{Aws.ACCOUNT_ID}:inference-profile/{model_id}",
        f"arn:{Aws.PARTITION}:bedrock:*::foundation-model/{base_model}",
    ], True


class FunctionsConstruct(Construct):
    """The functions, their aliases and roles, by declared name."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        declaration: Declaration,
        config: EnvConfig,
        dependencies: FunctionDependencies,
        repo_root: Path,
        deps_layer_dir: Path,
    ) -> None:
        super().__init__(scope, id)
        self._declaration = declaration
        self._config = config
        self._deps = dependencies
        self._repo_root = repo_root
        self._code: dict[str, lambda_.Code] = {}

        self.core_layer = lambda_.LayerVersion(
            self,
            "CoreLayer",
            code=compiled_code(
                _existing_dir(repo_root / "layers" / "core", "the core library layer"),
                runtime=RUNTIME,
                mounted_at="/opt",
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="creator_chat core library (layers/core)",
        )
        self.dependencies_layer = lambda_.LayerVersion(
            self,
            "DependenciesLayer",
            code=lambda_.Code.from_asset(str(deps_layer_dir)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="third-party runtime dependencies (layers/build_deps.py)",
        )

        self.functions: dict[str, lambda_.Function] = {}
        self.aliases: dict[str, lambda_.Alias] = {}
        self.roles: dict[str, iam.Role] = {}
        for function in declaration.functions:
            self._build_function(function)
        for worker in declaration.workers:
            self._connect_worker(worker)

    # -- one function ---------------------------------------------------------------------

    def _build_function(self, decl: FunctionDecl) -> None:
        config = self._config
        base = pascal_case(decl.name)
        log_group = logs.LogGroup(
            self,
            f"{base}Logs",
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        role = self._build_role(decl, base, log_group)
        in_vpc = self._in_vpc(decl)
        cache = self._deps.cache
        snapstart = decl.name in config.snapstart_functions
        function = lambda_.Function(
            self,
            f"{base}Function",
            description=f"creator-chat {config.name}: {decl.name}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=self._code_for(decl.code_dir),
            handler=decl.handler,
            timeout=Duration.seconds(decl.timeout_s),
            memory_size=config.memory_for(decl),
            role=role,
            layers=[self.core_layer, self.dependencies_layer],
            environment=self._environment(decl),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            vpc=cache.vpc if in_vpc else None,
            vpc_subnets=(
                (cache.egress_subnets if decl.reaches_internet else None) or cache.subnets
                if in_vpc
                else None
            ),
            security_groups=(
                [cache.function_security_group]
                if in_vpc and cache.function_security_group
                else None
            ),
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snapstart else None,
            # A SnapStart version keeps its snapshot cached (billed) while it exists: delete
            # the version an update replaces instead of keeping every one ever published.
            current_version_options=(
                lambda_.VersionOptions(removal_policy=RemovalPolicy.DESTROY) if snapstart else None
            ),
        )
        if snapstart:
            Annotations.of(function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "Published: the live alias below points at current_version, which every "
                "deploy publishes, and every caller (routes, event sources) uses the alias.",
            )
        provisioned = config.provisioned_concurrency.get(decl.name)
        alias = lambda_.Alias(
            self,
            f"{base}Alias",
            alias_name=ALIAS_NAME,
            version=function.current_version,
            provisioned_concurrent_executions=provisioned.minimum if provisioned else None,
        )
        if provisioned:
            scaling = alias.add_auto_scaling(
                min_capacity=provisioned.minimum, max_capacity=provisioned.maximum
            )
            scaling.scale_on_utilization(utilization_target=provisioned.target_utilization)
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Pinned to python3.12: the dependency layer is built for exactly this version "
            "(layers/build_deps.py --python-version 3.12); upgrade both together.",
        )
        self.functions[decl.name] = function
        self.aliases[decl.name] = alias
        self.roles[decl.name] = role

    def _in_vpc(self, decl: FunctionDecl) -> bool:
        return self._deps.cache.vpc is not None and (decl.uses_cache or decl.uses_index)

    def _code_for(self, code_dir: str) -> lambda_.Code:
        # Functions sharing a folder (chat and chat-worker) share one asset.
        if code_dir not in self._code:
            folder = _existing_dir(self._repo_root / "functions" / code_dir, "function code")
            self._code[code_dir] = compiled_code(folder, runtime=RUNTIME, mounted_at="/var/task")
        return self._code[code_dir]

    def _environment(self, decl: FunctionDecl) -> dict[str, str]:
        config, deps = self._config, self._deps
        names: dict[str, str] = {}
        for table in decl.tables:
            names[f"table:{table}"] = deps.tables[table].table_name
        for queue in decl.queues_send:
            names[f"queue:{queue}"] = deps.queues[queue].queue_name
        for bucket in decl.buckets:
            names[f"bucket:{bucket}"] = deps.buckets[bucket].bucket_name
        env = {
            **FUNCTION_ENVIRONMENT,
            "CREATOR_CHAT_ENV": config.name,
            "CREATOR_CHAT_RESOURCE_PREFIX": config.resource_prefix,
            "CREATOR_CHAT_RESOURCE_NAMES": Stack.of(self).to_json_string(names),
            # The AWS backends everywhere, so no function falls back to a local default.
            "CREATOR_CHAT_STORAGE": "aws",
            "CREATOR_CHAT_EMBEDDER": "bedrock",
            "CREATOR_CHAT_GENERATOR": "bedrock",
            "CREATOR_CHAT_VECTOR_INDEX": config.vector_store,
            "POWERTOOLS_SERVICE_NAME": decl.name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": config.log_level,
        }
        if decl.uses_bedrock:
            env["CREATOR_CHAT_EMBEDDING_MODEL_ID"] = config.embedding_model_id
            env["CREATOR_CHAT_GENERATION_MODEL_ID"] = config.generation_model_id
            if config.rerank_model_id:
                env["CREATOR_CHAT_RERANKER"] = "bedrock"
                env["CREATOR_CHAT_RERANK_MODEL_ID"] = config.rerank_model_id
        if "users" in decl.tables:  # the functions that count usage check it against these
            env.update(config.token_budgets.environment())
        if decl.uses_index:
            env.update(deps.search.environment())
        # Unset: the container's in-process cache (cache=memory).
        if decl.uses_cache and deps.cache.redis_url:
            env["CREATOR_CHAT_REDIS_URL"] = deps.cache.redis_url
        if decl.name == self._declaration.authorizer_function:
            env["CREATOR_CHAT_JWKS_URL"] = deps.identity.jwks_url
            env["CREATOR_CHAT_JWT_ISSUER"] = deps.identity.issuer
            env["CREATOR_CHAT_JWT_AUDIENCE"] = deps.identity.audience
        return env

    # -- least privilege --------------------------------------------------------------------

    def _build_role(self, decl: FunctionDecl, base: str, log_group: logs.ILogGroup) -> iam.Role:
        """Exactly what ``decl`` declares: its tables (and their indexes), the queues it sends
        to, its buckets, the vector collection and the configured Bedrock models."""
        deps = self._deps
        role = iam.Role(
            self,
            f"{base}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"creator-chat {self._config.name} {decl.name} function",
        )
        log_group.grant_write(role)
        for table_name in decl.tables:
            table = deps.tables[table_name]
            index_arns = [
                f"{table.table_arn}/index/{index.name}"
                for index in self._declaration.table(table_name).indexes
            ]
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=list(DYNAMODB_ACTIONS), resources=[table.table_arn, *index_arns]
                )
            )
        for queue_name in decl.queues_send:
            deps.queues[queue_name].grant_send_messages(role)
        for bucket_name in decl.buckets:
            bucket = deps.buckets[bucket_name]
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
            )
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=list(S3_OBJECT_ACTIONS), resources=[bucket.arn_for_objects("*")]
                )
            )
            bucket_id = Stack.of(self).get_logical_id(_cfn(bucket))
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
                f"Object keys in {bucket_name} are per creator and document, known only at "
                "run time; the grant covers the objects of this one bucket.",
            )
        if decl.uses_index:
            deps.search.grant_api_access(role, writer=decl.name in INDEX_WRITERS)
        if decl.uses_bedrock:
            self._grant_bedrock(role)
        in_vpc = self._in_vpc(decl)
        if in_vpc:
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=list(VPC_ENI_ACTIONS), resources=["*"])
            )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "'*' only for actions without resource-level permissions: X-Ray "
            "PutTraceSegments/PutTelemetryRecords (active tracing)"
            + (
                ", bedrock:Rerank (the reranking model is granted by InvokeModel)"
                if decl.uses_bedrock and self._config.rerank_model_id
                else ""
            )
            + (
                " and the EC2 network-interface actions Lambda needs to attach the function "
                "to the VPC."
                if in_vpc
                else "."
            ),
        )
        return role

    def _grant_bedrock(self, role: iam.Role) -> None:
        resources: list[str] = []
        for model_id in self._config.bedrock_model_ids:
            arns, wildcard = bedrock_model_arns(model_id)
            resources.extend(arns)
            if wildcard:
                acknowledge(
                    role,
                    f"AwsSolutions-IAM5[Resource::{_nag_resource(arns[1])}]",
                    f"Inference profile {model_id} routes to the same model in several "
                    "regions; InvokeModel must be allowed on that model in each of them.",
                )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=resources)
        )
        if self._config.rerank_model_id:
            # Rerank has no resource-level permissions; the model itself is InvokeModel above
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=["bedrock:Rerank"], resources=["*"])
            )

    # -- workers --------------------------------------------------------------------------

    def _connect_worker(self, worker: Worker) -> None:
        """The SQS event source of a worker; the LLM worker is capped at the LLM budget."""
        max_concurrency = (
            self._config.llm_budget
            if worker.function == LLM_WORKER_FUNCTION
            else worker.max_concurrency
        )
        self.aliases[worker.function].add_event_source(
            event_sources.SqsEventSource(
                self._deps.queues[worker.queue],
                batch_size=worker.batch_size,
                report_batch_item_failures=worker.report_batch_item_failures,
                max_concurrency=max_concurrency,
            )
        )


def _existing_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"{what}: folder {path} does not exist")
    return path


def _cfn(bucket: s3.IBucket) -> s3.CfnBucket:
    child = bucket.node.default_child
    if not isinstance(child, s3.CfnBucket):
        raise TypeError(f"{bucket.node.path} is not a bucket defined in this app")
    return child


def _nag_resource(arn: str) -> str:
    """How cdk-nag spells an ARN with pseudo parameters in a finding id."""
    return (
        arn.replace(Aws.PARTITION, "<AWS::Partition>")
        .replace(Aws.REGION, "<AWS::Region>")
        .replace(Aws.ACCOUNT_ID, "<AWS::AccountId>")
    )

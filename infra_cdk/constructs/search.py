"""The vector store, one of two by the env's profile (``vector_store``).

``SearchConstruct``: OpenSearch Serverless, one VECTORSEARCH collection. Three AOSS policies
guard it: encryption (AWS-owned key), network (with ``vpc=true`` private, through this
construct's AOSS VPC endpoint only; without a VPC the public endpoint, still SigV4-signed
and limited by the data access policy) and data access (only the roles of the functions
that use the index; readers read, writers also create and write the index).

``S3VectorsConstruct``: S3 Vectors, one vector bucket holding one index (no hourly charge:
billed per request and GB stored). IAM alone guards it: each index user's role may act on
that one index ARN, readers query and get, writers also put, list and delete.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_opensearchserverless as aoss
from aws_cdk import aws_s3vectors as s3vectors
from constructs import Construct

from infra_cdk.config import (
    OPENSEARCH_INDEX,
    S3VECTORS_INDEX,
    S3VECTORS_NON_FILTERABLE_METADATA,
    VECTOR_DIMENSION,
    VECTOR_DISTANCE_METRIC,
    EnvConfig,
    s3vectors_index_name,
)

_READ = ("aoss:DescribeIndex", "aoss:ReadDocument")
_WRITE = (*_READ, "aoss:CreateIndex", "aoss:UpdateIndex", "aoss:WriteDocument")
# QueryVectors with a metadata filter or returned metadata also needs GetVectors.
S3VECTORS_READ = ("s3vectors:GetVectors", "s3vectors:QueryVectors")
S3VECTORS_WRITE = (
    *S3VECTORS_READ,
    "s3vectors:DeleteVectors",
    "s3vectors:ListVectors",
    "s3vectors:PutVectors",
)


class SearchConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvConfig,
        vpc: ec2.IVpc | None,
        subnet_ids: Sequence[str],
        security_group: ec2.ISecurityGroup | None,
    ) -> None:
        super().__init__(scope, id)
        # Collection and policy names: 3-32 lowercase letters, digits and hyphens.
        self.collection_name = config.resource_prefix
        collection_resource = [f"collection/{self.collection_name}"]

        encryption = aoss.CfnSecurityPolicy(
            self,
            "EncryptionPolicy",
            name=f"{self.collection_name}-enc",
            type="encryption",
            policy=json.dumps(
                {
                    "Rules": [{"ResourceType": "collection", "Resource": collection_resource}],
                    "AWSOwnedKey": True,
                }
            ),
        )
        self.vpc_endpoint: aoss.CfnVpcEndpoint | None = None
        access: dict[str, object] = {"AllowFromPublic": True}  # no VPC: IAM + data policy
        if vpc is not None and security_group is not None:
            self.vpc_endpoint = aoss.CfnVpcEndpoint(
                self,
                "VpcEndpoint",
                name=f"{self.collection_name}-vpce",
                vpc_id=vpc.vpc_id,
                subnet_ids=list(subnet_ids),
                security_group_ids=[security_group.security_group_id],
            )
            access = {"AllowFromPublic": False, "SourceVPCEs": [self.vpc_endpoint.attr_id]}
        network = aoss.CfnSecurityPolicy(
            self,
            "NetworkPolicy",
            name=f"{self.collection_name}-net",
            type="network",
            policy=Stack.of(self).to_json_string(
                [
                    {
                        "Rules": [{"ResourceType": "collection", "Resource": collection_resource}],
                        **access,
                    }
                ]
            ),
        )
        self.collection = aoss.CfnCollection(
            self,
            "Collection",
            name=self.collection_name,
            type="VECTORSEARCH",
            standby_replicas="ENABLED" if config.search_standby_replicas else "DISABLED",
            description=f"creator-chat {config.name}: chunk vectors, filtered by creator_id",
        )
        # AOSS refuses to create a collection no encryption policy covers.
        self.collection.add_resource_dependency(encryption)
        self.collection.add_resource_dependency(network)
        self.collection.apply_removal_policy(config.removal_policy)
        self.endpoint = self.collection.attr_collection_endpoint
        self.collection_arn = self.collection.attr_arn

    def environment(self) -> dict[str, str]:
        """What an index user's adapter reads (``Settings``)."""
        return {
            "CREATOR_CHAT_OPENSEARCH_ENDPOINT": self.endpoint,
            "CREATOR_CHAT_OPENSEARCH_INDEX": OPENSEARCH_INDEX,
        }

    def grant_api_access(self, role: iam.IRole, *, writer: bool = False) -> None:
        """IAM side: lets ``role`` call this collection's data plane (the AOSS data access
        policy then limits what it may do there)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["aoss:APIAccessAll"], resources=[self.collection_arn])
        )

    def grant_data_access(
        self, *, readers: Mapping[str, iam.IRole], writers: Mapping[str, iam.IRole]
    ) -> None:
        """AOSS side: the data access policy naming exactly these roles."""
        index_resource = [f"index/{self.collection_name}/{OPENSEARCH_INDEX}*"]
        rules = []
        for roles, permissions in ((readers, _READ), (writers, _WRITE)):
            if roles:
                rules.append(
                    {
                        "Rules": [
                            {
                                "ResourceType": "index",
                                "Resource": index_resource,
                                "Permission": list(permissions),
                            }
                        ],
                        "Principal": [role.role_arn for _, role in sorted(roles.items())],
                        "Description": "writers" if permissions is _WRITE else "readers",
                    }
                )
        aoss.CfnAccessPolicy(
            self,
            "DataAccessPolicy",
            name=f"{self.collection_name}-data",
            type="data",
            policy=Stack.of(self).to_json_string(rules),
        )


class S3VectorsConstruct(Construct):
    """One vector bucket (``<resource prefix>-vectors``) and its index of chunk vectors."""

    def __init__(self, scope: Construct, id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, id)
        # Vector bucket names are unique per account and region, like the collection's.
        self.bucket_name = f"{config.resource_prefix}-vectors"
        self.index_name = s3vectors_index_name()
        # Encrypted at rest with SSE-S3 unless told otherwise; no public access exists.
        self.bucket = s3vectors.CfnVectorBucket(
            self, "VectorBucket", vector_bucket_name=self.bucket_name
        )
        self.bucket.apply_removal_policy(config.removal_policy)
        self.index = s3vectors.CfnIndex(
            self,
            "Index",
            vector_bucket_arn=self.bucket.attr_vector_bucket_arn,
            index_name=self.index_name,
            data_type="float32",
            dimension=VECTOR_DIMENSION,
            distance_metric=VECTOR_DISTANCE_METRIC,
            metadata_configuration=s3vectors.CfnIndex.MetadataConfigurationProperty(
                non_filterable_metadata_keys=list(S3VECTORS_NON_FILTERABLE_METADATA)
            ),
        )
        self.index.apply_removal_policy(config.removal_policy)
        self.index_arn = self.index.attr_index_arn

    def environment(self) -> dict[str, str]:
        """What an index user's adapter reads (``Settings``)."""
        return {
            "CREATOR_CHAT_S3VECTORS_BUCKET": self.bucket_name,
            # the base name: the adapter appends the embedding dimension (= index_name)
            "CREATOR_CHAT_S3VECTORS_INDEX": S3VECTORS_INDEX,
        }

    def grant_api_access(self, role: iam.IRole, *, writer: bool = False) -> None:
        """Exactly the vector actions on this one index: readers query (and get the
        metadata a filtered query returns), writers also put, list and delete."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(S3VECTORS_WRITE if writer else S3VECTORS_READ),
                resources=[self.index_arn],
            )
        )


VectorStore = SearchConstruct | S3VectorsConstruct

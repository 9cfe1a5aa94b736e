"""OpenSearch Serverless: one VECTORSEARCH collection, reachable only from the VPC.

Three AOSS policies guard it: encryption (AWS-owned key), network (private, through this
construct's AOSS VPC endpoint only) and data access (only the roles of the functions that
use the index; readers read, writers also create and write the index).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_opensearchserverless as aoss
from constructs import Construct

from infra_cdk.config import OPENSEARCH_INDEX, EnvConfig

_READ = ("aoss:DescribeIndex", "aoss:ReadDocument")
_WRITE = (*_READ, "aoss:CreateIndex", "aoss:UpdateIndex", "aoss:WriteDocument")


class SearchConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvConfig,
        vpc: ec2.IVpc,
        subnet_ids: Sequence[str],
        security_group: ec2.ISecurityGroup,
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
        self.vpc_endpoint = aoss.CfnVpcEndpoint(
            self,
            "VpcEndpoint",
            name=f"{self.collection_name}-vpce",
            vpc_id=vpc.vpc_id,
            subnet_ids=list(subnet_ids),
            security_group_ids=[security_group.security_group_id],
        )
        network = aoss.CfnSecurityPolicy(
            self,
            "NetworkPolicy",
            name=f"{self.collection_name}-net",
            type="network",
            policy=Stack.of(self).to_json_string(
                [
                    {
                        "Rules": [{"ResourceType": "collection", "Resource": collection_resource}],
                        "AllowFromPublic": False,
                        "SourceVPCEs": [self.vpc_endpoint.attr_id],
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

    def grant_api_access(self, role: iam.IRole) -> None:
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

"""S3: the declared buckets, private, TLS-only, encrypted, with lifecycle rules."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct
from creator_chat.resources import Bucket, Declaration

from infra_cdk.config import EnvConfig
from infra_cdk.naming import pascal_case


def private_bucket(scope: Construct, id: str, *, config: EnvConfig, **specifics: Any) -> s3.Bucket:
    """A bucket with what none of ours may lack: no public access, encrypted, TLS only, the
    environment's removal policy (emptied on delete where that is DESTROY) and, unless
    ``specifics`` says otherwise, ACLs off. ``specifics``: lifecycle, logging, versioning."""
    settings: dict[str, Any] = {
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        **specifics,
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "encryption": s3.BucketEncryption.S3_MANAGED,
        "enforce_ssl": True,
        "removal_policy": config.removal_policy,
        "auto_delete_objects": config.removal_policy == RemovalPolicy.DESTROY,
    }
    return s3.Bucket(scope, id, **settings)


class StorageConstruct(Construct):
    """The declared buckets by logical name, plus one bucket for their server access logs."""

    def __init__(
        self, scope: Construct, id: str, *, declaration: Declaration, config: EnvConfig
    ) -> None:
        super().__init__(scope, id)
        self.access_logs = private_bucket(
            self,
            "AccessLogsBucket",
            config=config,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(config.access_log_expiration_days))
            ],
        )
        self.buckets: dict[str, s3.Bucket] = {
            bucket.name: self._build_bucket(bucket, config) for bucket in declaration.buckets
        }

    def _build_bucket(self, bucket: Bucket, config: EnvConfig) -> s3.Bucket:
        if bucket.expiration_days is not None:
            # short-lived files (exports): no versions, so a deleted object is gone at once
            # (an erasure leaves no noncurrent copy), and every object expires on its own
            return private_bucket(
                self,
                f"{pascal_case(bucket.name)}Bucket",
                config=config,
                versioned=False,
                lifecycle_rules=[
                    s3.LifecycleRule(
                        abort_incomplete_multipart_upload_after=Duration.days(1),
                        expiration=Duration.days(bucket.expiration_days),
                    )
                ],
                server_access_logs_bucket=self.access_logs,
                server_access_logs_prefix=f"{bucket.name}/",
            )
        rules = [
            s3.LifecycleRule(
                abort_incomplete_multipart_upload_after=Duration.days(1),
                noncurrent_version_expiration=Duration.days(30),
            ),
        ]
        if config.raw_upload_expiration_days is None:
            rules.append(
                s3.LifecycleRule(
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(30),
                        )
                    ]
                )
            )
        else:
            rules.append(
                s3.LifecycleRule(expiration=Duration.days(config.raw_upload_expiration_days))
            )
        return private_bucket(
            self,
            f"{pascal_case(bucket.name)}Bucket",
            config=config,
            versioned=config.is_prod,
            lifecycle_rules=rules,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{bucket.name}/",
        )

"""Create the declared resources (idempotently) on whatever endpoint the settings name."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from creator_chat.adapters.aws.clients import AwsClients
from creator_chat.resources import DECLARATION, Declaration, Table
from creator_chat.settings import Settings


def _key_schema(partition: Any, sort: Any) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition.name, "KeyType": "HASH"}]
    if sort is not None:
        schema.append({"AttributeName": sort.name, "KeyType": "RANGE"})
    return schema


def _create_table(ddb: Any, name: str, table: Table) -> None:
    attrs = {table.partition.name: table.partition.type}
    if table.sort:
        attrs[table.sort.name] = table.sort.type
    for index in table.indexes:
        attrs[index.partition.name] = index.partition.type
        if index.sort:
            attrs[index.sort.name] = index.sort.type
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": _key_schema(table.partition, table.sort),
        "AttributeDefinitions": [
            {"AttributeName": k, "AttributeType": v} for k, v in attrs.items()
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if table.indexes:
        kwargs["GlobalSecondaryIndexes"] = [
            {
                "IndexName": i.name,
                "KeySchema": _key_schema(i.partition, i.sort),
                "Projection": {"ProjectionType": i.projection},
            }
            for i in table.indexes
        ]
    try:
        ddb.create_table(**kwargs)
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceInUseException":
            raise
        return
    ddb.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
    )
    if table.ttl_attribute:
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
        )


def provision(
    settings: Settings,
    declaration: Declaration = DECLARATION,
    *,
    visibility_timeout_s: int | None = None,
) -> dict[str, str]:
    """Create tables, queues (with DLQs and redrive) and buckets; returns queue URLs by name."""
    aws = AwsClients(settings)
    ddb, sqs, s3 = aws.client("dynamodb"), aws.client("sqs"), aws.client("s3")
    for table in declaration.tables:
        _create_table(ddb, settings.physical_name("table", table.name), table)
    urls: dict[str, str] = {}
    for queue in declaration.queues:
        dlq_url = sqs.create_queue(
            QueueName=settings.physical_name("queue", queue.dlq_name),
            Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)},
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        visibility = (
            visibility_timeout_s if visibility_timeout_s is not None else queue.visibility_timeout_s
        )
        url = sqs.create_queue(QueueName=settings.physical_name("queue", queue.name))["QueueUrl"]
        sqs.set_queue_attributes(
            QueueUrl=url,
            Attributes={
                "VisibilityTimeout": str(visibility),
                "MessageRetentionPeriod": str(queue.retention_s),
                "RedrivePolicy": json.dumps(
                    {
                        "deadLetterTargetArn": dlq_arn,
                        "maxReceiveCount": str(queue.max_receive_count),
                    }
                ),
            },
        )
        urls[queue.name], urls[queue.dlq_name] = url, dlq_url
    for bucket in declaration.buckets:
        try:
            s3.create_bucket(Bucket=settings.physical_name("bucket", bucket.name))
        except ClientError as err:
            if err.response["Error"]["Code"] not in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                raise
    return urls

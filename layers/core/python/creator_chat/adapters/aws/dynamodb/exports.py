"""DynamoDB Table ``exports``: GDPR export jobs by (user, export id), with a TTL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creator_chat.adapters.aws.dynamodb.base import (
    _is_conditional_failure,
    _raise_for,
    _TableAdapter,
)
from creator_chat.domain.models import ExportJob, ExportStatus
from creator_chat.errors import Conflict


class DynamoExportStore(_TableAdapter):
    """One item per export, keyed by its user: reading another user's export is a miss."""

    def create_export(self, job: ExportJob) -> None:
        item = {**asdict(job), "status": job.status.value}
        try:
            self._put(item, ConditionExpression="attribute_not_exists(export_id)")
        except ClientError as err:
            if _is_conditional_failure(err):
                raise Conflict("export already exists") from err
            raise

    def get_export(self, user_id: str, export_id: str) -> ExportJob | None:
        item = self._get({"user_id": user_id, "export_id": export_id})
        return _export(item) if item and self._live(item) else None

    def list_exports(self, user_id: str, *, include_expired: bool = False) -> list[ExportJob]:
        items = self._query_all(KeyConditionExpression=Key("user_id").eq(user_id))
        jobs = [_export(i) for i in items if include_expired or self._live(i)]
        return sorted(jobs, key=lambda j: (j.created_at, j.export_id))

    def set_status(
        self,
        user_id: str,
        export_id: str,
        status: ExportStatus,
        *,
        expected: Sequence[ExportStatus],
        blob_key: str | None = None,
        size_bytes: int | None = None,
        failure_reason: str | None = None,
    ) -> bool:
        now = self._now()
        sets = ["#s = :s", "updated_at = :now"]
        values: dict[str, Any] = {":s": status.value, ":now": now}
        for attr, value in (
            ("blob_key", blob_key),
            ("size_bytes", size_bytes),
            ("failure_reason", failure_reason),
        ):
            if value is not None:
                sets.append(f"{attr} = :{attr}")
                values[f":{attr}"] = value
        expected_names = [f":e{i}" for i in range(len(expected))]
        values.update({n: e.value for n, e in zip(expected_names, expected, strict=True)})
        condition = "attribute_exists(export_id) AND expires_at > :now"
        if expected_names:
            condition += f" AND #s IN ({', '.join(expected_names)})"
        try:
            self._table.update_item(
                Key={"user_id": user_id, "export_id": export_id},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                return False
            _raise_for(err)
            raise
        return True

    def delete_user_exports(self, user_id: str) -> int:
        keys = [
            {"user_id": i["user_id"], "export_id": i["export_id"]}
            for i in self._query_all(
                KeyConditionExpression=Key("user_id").eq(user_id),
                ProjectionExpression="user_id, export_id",
            )
        ]
        self._delete_keys(keys)
        return len(keys)


def _export(item: Mapping[str, Any]) -> ExportJob:
    fields = ExportJob.__dataclass_fields__
    data = {k: v for k, v in item.items() if k in fields}
    data["status"] = ExportStatus(data["status"])
    return ExportJob(**data)

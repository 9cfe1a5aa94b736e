"""DynamoDB Table ``creators``: creators by id and their slug claims."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from creator_chat.adapters.aws.dynamodb.base import (
    _is_conditional_failure,
    _raise_for,
    _TableAdapter,
    _to_ddb,
)
from creator_chat.domain.models import (
    PROFILE_FIELDS,
    Creator,
)
from creator_chat.errors import Conflict, NotFound


class DynamoCreatorStore(_TableAdapter):
    """Table ``creators``: creator items keyed by id, plus ``slug:<slug>`` claim items."""

    def create_creator(self, creator: Creator) -> None:
        item = {"kind": "creator", **asdict(creator)}
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": _to_ddb(item),
                            "ConditionExpression": "attribute_not_exists(creator_id)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": _to_ddb(
                                {
                                    "creator_id": f"slug:{creator.slug}",
                                    "kind": "slug_claim",
                                    "owner": creator.creator_id,
                                }
                            ),
                            "ConditionExpression": "attribute_not_exists(creator_id)",
                        }
                    },
                ]
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                raise Conflict(f"creator id or slug '{creator.slug}' already exists") from err
            _raise_for(err)
            raise

    def update_creator(
        self, creator_id: str, changes: Mapping[str, Any], *, updated_at: int
    ) -> Creator:
        """Only the changed fields, in one conditional ``UpdateItem``: concurrent edits of
        other fields and content-version bumps are never written back from an older read."""
        fields = {k: v for k, v in changes.items() if k in PROFILE_FIELDS}
        fields["updated_at"] = updated_at
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(_to_ddb(fields).values())}
        values[":kind"] = "creator"
        try:
            item = self._table.update_item(
                Key={"creator_id": creator_id},
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                ConditionExpression="attribute_exists(creator_id) AND kind = :kind",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as err:
            if _is_conditional_failure(err):
                raise NotFound("creator not found") from err
            _raise_for(err)
            raise
        return _creator(item)

    def get_creator(self, creator_id: str) -> Creator | None:
        item = self._get({"creator_id": creator_id})
        if not item or item.get("kind") != "creator":
            return None
        return _creator(item)

    def get_creator_by_slug(self, slug: str) -> Creator | None:
        claim = self._get({"creator_id": f"slug:{slug}"})
        return self.get_creator(claim["owner"]) if claim else None

    def list_creators(self, *, active_only: bool = True) -> list[Creator]:
        items = self._scan_all(FilterExpression=Attr("kind").eq("creator"))
        creators = [_creator(i) for i in items]
        if active_only:
            creators = [c for c in creators if c.active]
        return sorted(creators, key=lambda c: c.slug)

    def bump_content_version(self, creator_id: str) -> int:
        out = self._table.update_item(
            Key={"creator_id": creator_id},
            UpdateExpression="ADD content_version :one SET updated_at = :now",
            ConditionExpression="attribute_exists(creator_id)",
            ExpressionAttributeValues={":one": 1, ":now": self._now()},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["content_version"])


def _creator(item: Mapping[str, Any]) -> Creator:
    fields = Creator.__dataclass_fields__
    return Creator(**{k: v for k, v in item.items() if k in fields})

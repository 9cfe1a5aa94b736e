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

    def put_creator(self, creator: Creator) -> None:
        """Update an existing creator's profile; the slug is immutable (it is in fans' URLs)
        and the content version is not written here: it only moves by
        ``bump_content_version``'s atomic increment, so an edit made from an older read can
        never roll it back (and serve answers cached for deleted content)."""
        fields = {
            k: v
            for k, v in _to_ddb(asdict(creator)).items()
            if k not in ("creator_id", "slug", "content_version")
        }
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(fields.values())}
        values[":s"] = creator.slug
        try:
            self._table.update_item(
                Key={"creator_id": creator.creator_id},
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                ConditionExpression="attribute_exists(creator_id) AND slug = :s",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                raise NotFound("creator not found (or slug changed)") from err
            _raise_for(err)
            raise

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

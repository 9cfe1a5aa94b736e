"""DynamoDB Table ``users``: fan profiles and usage per month."""

from __future__ import annotations

from dataclasses import asdict

from boto3.dynamodb.conditions import Key

from creator_chat.adapters.aws.dynamodb.base import (
    _TableAdapter,
)
from creator_chat.domain.models import (
    FanProfile,
    Usage,
)


class DynamoUsageStore(_TableAdapter):
    """Table ``users``: ``PROFILE`` and ``USAGE#YYYY-MM`` items per user."""

    def add_usage(
        self, user_id: str, month: str, *, requests: int, input_tokens: int, output_tokens: int
    ) -> None:
        self._table.update_item(
            Key={"user_id": user_id, "sk": f"USAGE#{month}"},
            UpdateExpression="ADD requests :r, input_tokens :i, output_tokens :o",
            ExpressionAttributeValues={":r": requests, ":i": input_tokens, ":o": output_tokens},
        )

    def get_usage(self, user_id: str, month: str) -> Usage:
        item = self._get({"user_id": user_id, "sk": f"USAGE#{month}"}) or {}
        return Usage(
            user_id,
            month,
            int(item.get("requests", 0)),
            int(item.get("input_tokens", 0)),
            int(item.get("output_tokens", 0)),
        )

    def list_usage(self, user_id: str) -> list[Usage]:
        items = self._query_all(
            KeyConditionExpression=Key("user_id").eq(user_id) & Key("sk").begins_with("USAGE#")
        )
        return [
            Usage(
                user_id,
                i["sk"].removeprefix("USAGE#"),
                int(i.get("requests", 0)),
                int(i.get("input_tokens", 0)),
                int(i.get("output_tokens", 0)),
            )
            for i in items
        ]

    def put_profile(self, profile: FanProfile) -> None:
        self._put({"sk": "PROFILE", **asdict(profile)})

    def get_profile(self, user_id: str) -> FanProfile | None:
        item = self._get({"user_id": user_id, "sk": "PROFILE"})
        if not item:
            return None
        return FanProfile(**{k: v for k, v in item.items() if k in FanProfile.__dataclass_fields__})

    def delete_user(self, user_id: str) -> int:
        keys = [
            {"user_id": i["user_id"], "sk": i["sk"]}
            for i in self._query_all(KeyConditionExpression=Key("user_id").eq(user_id))
        ]
        self._delete_keys(keys)
        return len(keys)

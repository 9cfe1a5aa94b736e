"""DynamoDB Table ``rate_limits``: fixed-window counters."""

from __future__ import annotations

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from creator_chat.adapters.aws.dynamodb.base import (
    _is_conditional_failure,
    _raise_for,
    _TableAdapter,
)
from creator_chat.domain.models import (
    QuotaDecision,
)


class DynamoRateLimiter(_TableAdapter):
    """Table ``rate_limits``: one counter per (key, fixed window), TTL at the window's end.

    ``ADD`` under the condition ``count < limit`` is atomic in DynamoDB, so N parallel
    requests against a limit L admit exactly min(N, L).
    """

    def hit(self, key: str, *, limit: int, window_s: int) -> QuotaDecision:
        now = self._now()
        window_start = now - now % window_s
        reset = window_start + window_s
        try:
            out = self._table.update_item(
                Key={"key": f"{key}#{window_start}"},
                UpdateExpression="ADD #c :one SET expires_at = :reset",
                ConditionExpression="attribute_not_exists(#c) OR #c < :limit",
                ExpressionAttributeNames={"#c": "count"},
                ExpressionAttributeValues={":one": 1, ":limit": limit, ":reset": reset},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                return QuotaDecision(False, limit, 0, reset, max(1, reset - now))
            _raise_for(err)
            raise
        used = int(out["Attributes"]["count"])
        return QuotaDecision(True, limit, max(0, limit - used), reset, 0)

    def delete_user_counters(self, user_id: str) -> int:
        keys = [
            {"key": i["key"]}
            for i in self._scan_all(
                FilterExpression=Attr("key").begins_with(f"chat:{user_id}#"),
                ProjectionExpression="#k",
                ExpressionAttributeNames={"#k": "key"},
            )
        ]
        self._delete_keys(keys)
        return len(keys)

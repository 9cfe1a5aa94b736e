"""DynamoDB Table ``creator_stats``: counters per (creator, UTC day), no user id."""

from __future__ import annotations

from collections.abc import Mapping

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creator_chat.adapters.aws.dynamodb.base import _raise_for, _TableAdapter
from creator_chat.domain.insights import INSIGHTS_RETENTION_S, day_end

_RESERVED = frozenset({"creator_id", "day", "expires_at"})


class DynamoCreatorStatsStore(_TableAdapter):
    """Table ``creator_stats`` (``creator_id``, ``day``): one item per creator and day whose
    counters are attributes, all added by one ``UpdateItem`` (``ADD``), so they never lose
    each other's counts; TTL 90 days after the day."""

    def add(self, creator_id: str, day: str, counts: Mapping[str, int]) -> None:
        counts = {n: int(v) for n, v in counts.items() if v and n not in _RESERVED}
        if not counts:
            return
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values: dict[str, int] = {f":c{i}": n for i, n in enumerate(counts.values())}
        values[":exp"] = day_end(day) + INSIGHTS_RETENTION_S
        try:
            self._table.update_item(
                Key={"creator_id": creator_id, "day": day},
                UpdateExpression="ADD "
                + ", ".join(f"{name} :c{i}" for i, name in enumerate(names))
                + " SET expires_at = :exp",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as err:
            _raise_for(err)
            raise

    def days(self, creator_id: str, first: str, last: str) -> dict[str, dict[str, int]]:
        items = self._query_all(
            KeyConditionExpression=Key("creator_id").eq(creator_id)
            & Key("day").between(first, last)
        )
        return {
            str(i["day"]): {
                k: int(v) for k, v in i.items() if k not in _RESERVED and isinstance(v, int)
            }
            for i in items
            if self._live(i)
        }

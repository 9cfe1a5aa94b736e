"""DynamoDB Table ``trending``: question counts per creator and week."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creator_chat.adapters.aws.dynamodb.base import (
    _is_conditional_failure,
    _TableAdapter,
)
from creator_chat.adapters.week_secrets import WeekSecretCache
from creator_chat.ports import Clock

TRENDING_RETENTION_S = 60 * 24 * 3600
SECRET_PARTITION = "_secret"  # noqa: S105 (a key name; not a creator id, those start "cr_")


class DynamoTrendingStore(_TableAdapter):
    """Table ``trending``: per creator and week, a counter per question and one marker per
    (question, asker) — keyed by hashes, never by the question's words.

    A question's text is stored only once ``min_askers`` different fans have asked it, so a
    creator never reads what a single fan asked (that belongs to the fan's thread), and a
    question nobody else asked leaves no text behind outside the thread (which erasure
    removes). Markers hold a per-creator-and-week pseudonym of the fan, only to count each
    fan once; everything expires after ``TRENDING_RETENTION_S``.
    """

    def __init__(
        self, resource: Any, table_name: str, clock: Clock, *, min_askers: int = 3
    ) -> None:
        super().__init__(resource, table_name, clock)
        self.min_askers = min_askers
        self._secrets = WeekSecretCache(self._load_week_secret, self._now)

    def record_question(self, creator_id: str, week: str, question: str, asker: str) -> None:
        text = question[:200]
        qhash = hashlib.sha256(text.encode()).hexdigest()[:32]
        expires = self._now() + TRENDING_RETENTION_S
        new_asker = 1
        try:
            self._table.put_item(
                Item={
                    "creator_id": creator_id,
                    "sk": f"{week}#a#{qhash}#{asker}",
                    "expires_at": expires,
                },
                ConditionExpression="attribute_not_exists(sk)",
            )
        except ClientError as err:
            if not _is_conditional_failure(err):
                raise
            new_asker = 0  # this fan asked it before this week
        key = {"creator_id": creator_id, "sk": f"{week}#q#{qhash}"}
        out = self._table.update_item(
            Key=key,
            UpdateExpression="ADD asked :one, askers :new SET expires_at = :exp",
            ExpressionAttributeValues={":one": 1, ":new": new_asker, ":exp": expires},
            ReturnValues="ALL_NEW",
        )
        item = out.get("Attributes", {})
        if int(item.get("askers", 0)) >= self.min_askers and "question" not in item:
            self._table.update_item(
                Key=key,
                UpdateExpression="SET question = :q",
                ExpressionAttributeValues={":q": text},
            )

    def week_secret(self, week: str, *, expires_at: int) -> bytes:
        return self._secrets.get(week, expires_at)

    def _load_week_secret(self, week: str, expires_at: int) -> tuple[bytes, int]:
        """An item ``(_secret, <week>)`` with a TTL: written once (conditionally, so concurrent
        first askers agree), read back consistently; an expired one is replaced."""
        key = {"creator_id": SECRET_PARTITION, "sk": week}
        try:
            self._table.put_item(
                Item={**key, "secret": secrets.token_hex(32), "expires_at": expires_at},
                ConditionExpression="attribute_not_exists(sk) OR expires_at <= :now",
                ExpressionAttributeValues={":now": self._now()},
            )
        except ClientError as err:
            if not _is_conditional_failure(err):
                raise
        item = self._table.get_item(Key=key, ConsistentRead=True).get("Item") or {}
        return bytes.fromhex(str(item["secret"])), int(item["expires_at"])

    def top_questions(self, creator_id: str, week: str, *, limit: int) -> list[tuple[str, int]]:
        items = self._query_all(
            KeyConditionExpression=Key("creator_id").eq(creator_id)
            & Key("sk").begins_with(f"{week}#q#")
        )
        ranked = sorted(
            (
                (i["question"], int(i["asked"]))
                for i in items
                if self._live(i) and "question" in i and int(i["askers"]) >= self.min_askers
            ),
            key=lambda qa: (-qa[1], qa[0]),
        )
        return ranked[:limit]

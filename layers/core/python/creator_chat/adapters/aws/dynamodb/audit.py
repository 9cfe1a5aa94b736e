"""DynamoDB Table ``audit``: the audit log."""

from __future__ import annotations

from dataclasses import asdict

from boto3.dynamodb.conditions import Key

from creator_chat.adapters.aws.dynamodb.base import (
    _TableAdapter,
)
from creator_chat.domain.models import (
    AuditEntry,
)
from creator_chat.ids import random_id

AUDIT_RETENTION_S = 400 * 24 * 3600


class DynamoAuditLog(_TableAdapter):
    """Table ``audit``: ``ACTOR#<user>`` / ``<epoch>#<id>``, kept ~13 months."""

    def record(self, entry: AuditEntry) -> None:
        item = {
            "pk": f"ACTOR#{entry.actor_id}",
            "sk": f"{entry.at:012d}#{random_id()}",
            **asdict(entry),
            "expires_at": entry.at + AUDIT_RETENTION_S,
        }
        self._put(item)

    def delete_actor(self, actor_id: str) -> int:
        keys = [
            {"pk": i["pk"], "sk": i["sk"]}
            for i in self._query_all(KeyConditionExpression=Key("pk").eq(f"ACTOR#{actor_id}"))
        ]
        self._delete_keys(keys)
        return len(keys)

    def entries_for(self, actor_id: str) -> list[AuditEntry]:
        items = self._query_all(KeyConditionExpression=Key("pk").eq(f"ACTOR#{actor_id}"))
        fields = AuditEntry.__dataclass_fields__
        # expired = absent, also in a GDPR export (DynamoDB's TTL deletes only eventually)
        return [
            AuditEntry(**{k: v for k, v in i.items() if k in fields})
            for i in items
            if self._live(i)
        ]

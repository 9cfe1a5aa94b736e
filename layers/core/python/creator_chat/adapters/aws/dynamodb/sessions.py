"""DynamoDB Table ``sessions``: sessions by id, with a TTL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creator_chat.adapters.aws.dynamodb.base import (
    _is_conditional_failure,
    _TableAdapter,
)
from creator_chat.domain.models import (
    Session,
)
from creator_chat.errors import Conflict


class DynamoSessionStore(_TableAdapter):
    """Table ``sessions``: one item per session, ``expires_at`` = created + 24 h."""

    def put_session(self, session: Session, *, replace: bool = False) -> None:
        if replace:
            self._put(asdict(session))
            return
        try:
            self._put(asdict(session), ConditionExpression="attribute_not_exists(session_id)")
        except ClientError as err:
            if _is_conditional_failure(err):
                raise Conflict("session exists") from err
            raise

    def get_session(self, session_id: str) -> Session | None:
        item = self._get({"session_id": session_id})
        if not item or not self._live(item):
            return None
        return _session(item)

    def get_sessions(self, session_ids: Sequence[str]) -> dict[str, Session]:
        items = self._batch_get([{"session_id": sid} for sid in dict.fromkeys(session_ids)])
        return {item["session_id"]: _session(item) for item in items if self._live(item)}

    def revoke_session(self, session_id: str, user_id: str) -> bool:
        try:
            self._table.update_item(
                Key={"session_id": session_id},
                UpdateExpression="SET revoked = :t",
                ConditionExpression="attribute_exists(session_id) AND user_id = :u",
                ExpressionAttributeValues={":t": True, ":u": user_id},
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                return False
            raise
        return True

    def list_sessions(self, user_id: str) -> list[Session]:
        items = self._query_all(
            IndexName="by_user", KeyConditionExpression=Key("user_id").eq(user_id)
        )
        fields = Session.__dataclass_fields__
        return [
            Session(**{k: v for k, v in i.items() if k in fields}) for i in items if self._live(i)
        ]

    def revoke_user_sessions(self, user_id: str, *, new_owner: str) -> int:
        items = list(
            self._query_all(IndexName="by_user", KeyConditionExpression=Key("user_id").eq(user_id))
        )
        for item in items:
            try:
                self._table.update_item(
                    Key={"session_id": item["session_id"]},
                    UpdateExpression="SET revoked = :t, user_id = :o",
                    ConditionExpression="attribute_exists(session_id)",
                    ExpressionAttributeValues={":t": True, ":o": new_owner},
                )
            except ClientError as err:
                # a conditional failure: gone since the query (TTL), nothing to revoke
                if not _is_conditional_failure(err):
                    raise
        return len(items)


def _session(item: Mapping[str, Any]) -> Session:
    return Session(**{k: v for k, v in item.items() if k in Session.__dataclass_fields__})

"""DynamoDB Table ``connections``: open WebSocket connections by id, with a TTL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creator_chat.adapters.aws.dynamodb.base import (
    _is_conditional_failure,
    _raise_for,
    _TableAdapter,
)
from creator_chat.domain.models import Connection
from creator_chat.errors import Conflict

_FIELDS = frozenset(Connection.__dataclass_fields__)


class DynamoConnectionStore(_TableAdapter):
    """Table ``connections``: one item per open connection, ``expires_at`` = API Gateway's
    2 h cap; GSI ``by_user`` (``user_id``) lists a user's connections.

    A connection id belongs to the user who opened it for good: putting it again (a retried
    ``$connect``, a record updated with the creator) replaces it only for the same user, or
    once the old record has expired; another user's put is a :class:`Conflict`.
    """

    def put_connection(self, connection: Connection) -> None:
        try:
            self._put(
                asdict(connection),
                ConditionExpression=(
                    "attribute_not_exists(connection_id) OR user_id = :u OR expires_at <= :now"
                ),
                ExpressionAttributeValues={":u": connection.user_id, ":now": self._now()},
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                raise Conflict("connection belongs to another user") from err
            raise

    def get_connection(self, connection_id: str) -> Connection | None:
        item = self._get({"connection_id": connection_id})
        if not item or not self._live(item):
            return None
        return _connection(item)

    def delete_connection(self, connection_id: str) -> None:
        # idempotent: $disconnect may arrive for a connection never recorded (or twice)
        try:
            self._table.delete_item(Key={"connection_id": connection_id})
        except ClientError as err:
            _raise_for(err)
            raise

    def list_user_connections(self, user_id: str) -> list[Connection]:
        items = self._query_all(
            IndexName="by_user", KeyConditionExpression=Key("user_id").eq(user_id)
        )
        live = [_connection(i) for i in items if self._live(i)]
        return sorted(live, key=lambda c: (c.connected_at, c.connection_id))


def _connection(item: Mapping[str, Any]) -> Connection:
    return Connection(**{k: v for k, v in item.items() if k in _FIELDS})

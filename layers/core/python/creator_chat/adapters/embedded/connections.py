"""Embedded table ``connections``: open WebSocket connections (the local gateway's
``/v1/stream``) by id, with a TTL."""

from __future__ import annotations

from creator_chat.adapters.embedded.base import EmbeddedStore, from_json, to_json
from creator_chat.domain.models import Connection
from creator_chat.errors import Conflict


class EmbeddedConnectionStore(EmbeddedStore):
    """One row per connection (``user_id``, ``connected_at``, ``expires_at`` as columns, the
    rest JSON). An expired row reads as absent until the purge deletes it. As in DynamoDB, a
    connection id stays its user's: a put by another user is a :class:`Conflict` while the
    old row is live."""

    def put_connection(self, connection: Connection) -> None:
        cur = self._db.execute(
            "INSERT INTO connections (connection_id, user_id, connected_at, expires_at, data)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (connection_id) DO UPDATE SET user_id = excluded.user_id,"
            " connected_at = excluded.connected_at, expires_at = excluded.expires_at,"
            " data = excluded.data"
            " WHERE connections.user_id = excluded.user_id OR connections.expires_at <= ?",
            (
                connection.connection_id,
                connection.user_id,
                connection.connected_at,
                connection.expires_at,
                to_json(connection),
                self._now(),
            ),
        )
        if cur.rowcount == 0:
            raise Conflict("connection belongs to another user")

    def get_connection(self, connection_id: str) -> Connection | None:
        row = self._db.query_one(
            "SELECT data FROM connections WHERE connection_id = ? AND expires_at > ?",
            (connection_id, self._now()),
        )
        return from_json(Connection, row["data"]) if row else None

    def delete_connection(self, connection_id: str) -> None:
        self._db.execute("DELETE FROM connections WHERE connection_id = ?", (connection_id,))

    def list_user_connections(self, user_id: str) -> list[Connection]:
        rows = self._db.query(
            "SELECT data FROM connections WHERE user_id = ? AND expires_at > ?"
            " ORDER BY connected_at, connection_id",
            (user_id, self._now()),
        )
        return [from_json(Connection, r["data"]) for r in rows]

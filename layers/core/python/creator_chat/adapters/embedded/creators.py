"""Embedded table ``creators``: creators by id, with a unique slug and their content version."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from creator_chat.adapters.embedded.base import EmbeddedStore, from_json, to_json
from creator_chat.domain.models import PROFILE_FIELDS, Creator
from creator_chat.errors import Conflict, NotFound


class EmbeddedCreatorStore(EmbeddedStore):
    """Creators (``slug``, ``active``, ``content_version`` as columns, the rest JSON); the
    UNIQUE constraints on id and slug make creating one a single conditional write."""

    def create_creator(self, creator: Creator) -> None:
        try:
            self._db.execute(
                "INSERT INTO creators (creator_id, slug, active, content_version, updated_at, data)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    creator.creator_id,
                    creator.slug,
                    int(creator.active),
                    creator.content_version,
                    creator.updated_at,
                    to_json(creator),
                ),
            )
        except sqlite3.IntegrityError as err:
            raise Conflict(f"creator id or slug '{creator.slug}' already exists") from err

    def update_creator(
        self, creator_id: str, changes: Mapping[str, Any], *, updated_at: int
    ) -> Creator:
        fields = {k: v for k, v in changes.items() if k in PROFILE_FIELDS}
        paths = "".join(f", '$.{k}', json(?)" for k in fields)
        params: list[Any] = [json.dumps(v) for v in fields.values()]
        active = "active = ?, " if "active" in fields else ""
        with self._db.transaction() as conn:
            row = conn.execute(
                f"UPDATE creators SET {active}updated_at = ?,"  # noqa: S608 (PROFILE_FIELDS names)
                f" data = json_set(data, '$.updated_at', ?{paths})"
                " WHERE creator_id = ? RETURNING data",
                (
                    *([int(fields["active"])] if active else []),
                    updated_at,
                    updated_at,
                    *params,
                    creator_id,
                ),
            ).fetchone()
        if row is None:
            raise NotFound("creator not found")
        return from_json(Creator, row["data"])

    def get_creator(self, creator_id: str) -> Creator | None:
        row = self._db.query_one("SELECT data FROM creators WHERE creator_id = ?", (creator_id,))
        return from_json(Creator, row["data"]) if row else None

    def get_creator_by_slug(self, slug: str) -> Creator | None:
        row = self._db.query_one("SELECT data FROM creators WHERE slug = ?", (slug,))
        return from_json(Creator, row["data"]) if row else None

    def list_creators(self, *, active_only: bool = True) -> list[Creator]:
        sql = "SELECT data FROM creators"
        if active_only:
            sql += " WHERE active = 1"
        rows = self._db.query(sql + " ORDER BY slug")
        return [from_json(Creator, r["data"]) for r in rows]

    def bump_content_version(self, creator_id: str) -> int:
        now = self._now()
        with self._db.transaction() as conn:
            # fetchall: a RETURNING statement must run to its end before the COMMIT
            rows = conn.execute(
                "UPDATE creators SET content_version = content_version + 1, updated_at = ?,"
                " data = json_set(data, '$.content_version', content_version + 1,"
                " '$.updated_at', ?)"
                " WHERE creator_id = ? RETURNING content_version",
                (now, now, creator_id),
            ).fetchall()
        if not rows:
            raise NotFound("creator not found")
        return int(rows[0]["content_version"])

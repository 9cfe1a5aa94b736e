"""Embedded tables ``profiles`` and ``usage``: fan profiles and usage per month."""

from __future__ import annotations

from creator_chat.adapters.embedded.base import EmbeddedStore, from_json, to_json
from creator_chat.domain.models import FanProfile, Usage


class EmbeddedUsageStore(EmbeddedStore):
    """A profile per user and a usage row per (user, month) whose counters only add up."""

    def add_usage(
        self, user_id: str, month: str, *, requests: int, input_tokens: int, output_tokens: int
    ) -> None:
        # one upsert: concurrent answers of the same user never lose each other's counts
        self._db.execute(
            "INSERT INTO usage (user_id, month, requests, input_tokens, output_tokens)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id, month) DO UPDATE SET"
            " requests = requests + excluded.requests,"
            " input_tokens = input_tokens + excluded.input_tokens,"
            " output_tokens = output_tokens + excluded.output_tokens",
            (user_id, month, requests, input_tokens, output_tokens),
        )

    def get_usage(self, user_id: str, month: str) -> Usage:
        row = self._db.query_one(
            "SELECT requests, input_tokens, output_tokens FROM usage"
            " WHERE user_id = ? AND month = ?",
            (user_id, month),
        )
        if row is None:
            return Usage(user_id, month)
        return Usage(user_id, month, row["requests"], row["input_tokens"], row["output_tokens"])

    def list_usage(self, user_id: str) -> list[Usage]:
        rows = self._db.query(
            "SELECT month, requests, input_tokens, output_tokens FROM usage"
            " WHERE user_id = ? ORDER BY month",
            (user_id,),
        )
        return [
            Usage(user_id, r["month"], r["requests"], r["input_tokens"], r["output_tokens"])
            for r in rows
        ]

    def put_profile(self, profile: FanProfile) -> None:
        self._db.execute(
            "INSERT INTO profiles (user_id, data) VALUES (?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET data = excluded.data",
            (profile.user_id, to_json(profile)),
        )

    def get_profile(self, user_id: str) -> FanProfile | None:
        row = self._db.query_one("SELECT data FROM profiles WHERE user_id = ?", (user_id,))
        return from_json(FanProfile, row["data"]) if row else None

    def delete_user(self, user_id: str) -> int:
        with self._db.transaction() as conn:
            profiles = conn.execute("DELETE FROM profiles WHERE user_id = ?", (user_id,))
            usage = conn.execute("DELETE FROM usage WHERE user_id = ?", (user_id,))
            return profiles.rowcount + usage.rowcount

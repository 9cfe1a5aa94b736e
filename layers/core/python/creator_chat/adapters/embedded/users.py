"""Embedded tables ``profiles``, ``usage`` and ``token_holds``: fan profiles, usage per
month and the month's token budget."""

from __future__ import annotations

import sqlite3

from creator_chat.adapters.embedded.base import EmbeddedStore, from_json, to_json
from creator_chat.domain.models import BudgetDecision, FanProfile, TokenHold, Usage

_USAGE_COLUMNS = "requests, input_tokens, output_tokens, charged_tokens, reserved_tokens"
_GET_USAGE = f"SELECT {_USAGE_COLUMNS} FROM usage WHERE user_id = ? AND month = ?"  # noqa: S608

# The reservation, one statement: SQLite runs it under the write lock, so N parallel
# reservations admit exactly as many as fit. The WHERE makes the update a no-op when the
# tokens do not fit, and a no-op upsert returns no row: that is the refusal. (A first
# reservation inserts the row; the caller has checked that it fits an empty month.)
_RESERVE = """
INSERT INTO usage (user_id, month, reserved_tokens) VALUES (:user, :month, :tokens)
ON CONFLICT (user_id, month) DO UPDATE SET reserved_tokens = usage.reserved_tokens + :tokens
WHERE usage.charged_tokens + usage.reserved_tokens + :tokens <= :budget
RETURNING charged_tokens, reserved_tokens
"""


class EmbeddedUsageStore(EmbeddedStore):
    """A profile per user and a usage row per (user, month) whose counters only add up;
    each answer in flight holds a row of ``token_holds``, removed in the same transaction
    that settles or releases it (so that happens at most once)."""

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

    def reserve_tokens(
        self,
        user_id: str,
        month: str,
        *,
        hold_id: str,
        tokens: int,
        budget: int,
        expires_at: int,
    ) -> BudgetDecision:
        hold = TokenHold(user_id, month, hold_id, tokens, expires_at)
        with self._db.transaction() as conn:
            admitted = _reserve(conn, hold, budget)
            # room may appear once holds that were never settled are given back
            if admitted is None and self._give_back_expired(conn, user_id, month):
                admitted = _reserve(conn, hold, budget)
            if admitted is not None:
                return admitted
            usage = _usage(user_id, month, _usage_row(conn, user_id, month))
        return BudgetDecision(False, budget, usage.charged_tokens, usage.reserved_tokens)

    def settle_tokens(self, hold: TokenHold, *, input_tokens: int, output_tokens: int) -> bool:
        with self._db.transaction() as conn:
            held = _take_hold(conn, hold)
            if held is None:
                return False
            conn.execute(
                "UPDATE usage SET requests = requests + 1,"
                " input_tokens = input_tokens + :input, output_tokens = output_tokens + :output,"
                " charged_tokens = charged_tokens + :charged,"
                " reserved_tokens = reserved_tokens - :held"
                " WHERE user_id = :user AND month = :month",
                {
                    "input": input_tokens,
                    "output": output_tokens,
                    "charged": min(input_tokens + output_tokens, held),
                    "held": held,
                    "user": hold.user_id,
                    "month": hold.month,
                },
            )
        return True

    def release_tokens(self, hold: TokenHold) -> bool:
        with self._db.transaction() as conn:
            held = _take_hold(conn, hold)
            if held is None:
                return False
            _unreserve(conn, hold.user_id, hold.month, held)
        return True

    def _give_back_expired(self, conn: sqlite3.Connection, user_id: str, month: str) -> bool:
        """Release the month's holds that expired unsettled; whether any was."""
        rows = conn.execute(
            "DELETE FROM token_holds WHERE user_id = ? AND month = ? AND expires_at <= ?"
            " RETURNING tokens",
            (user_id, month, self._now()),
        ).fetchall()
        if rows:
            _unreserve(conn, user_id, month, sum(int(r["tokens"]) for r in rows))
        return bool(rows)

    def get_usage(self, user_id: str, month: str) -> Usage:
        return _usage(user_id, month, self._db.query_one(_GET_USAGE, (user_id, month)))

    def list_usage(self, user_id: str) -> list[Usage]:
        rows = self._db.query(
            f"SELECT month, {_USAGE_COLUMNS} FROM usage WHERE user_id = ? ORDER BY month",  # noqa: S608
            (user_id,),
        )
        return [_usage(user_id, r["month"], r) for r in rows]

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
            # holds are parts of the usage rows: gone with them, not counted apart
            conn.execute("DELETE FROM token_holds WHERE user_id = ?", (user_id,))
            return profiles.rowcount + usage.rowcount


def _reserve(conn: sqlite3.Connection, hold: TokenHold, budget: int) -> BudgetDecision | None:
    if hold.tokens > budget:
        return None
    params = {"user": hold.user_id, "month": hold.month, "tokens": hold.tokens, "budget": budget}
    # fetched at once: the statement must be finished before anything else runs
    rows = conn.execute(_RESERVE, params).fetchall()
    if not rows:
        return None
    conn.execute(
        "INSERT INTO token_holds (user_id, month, hold_id, tokens, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (hold.user_id, hold.month, hold.hold_id, hold.tokens, hold.expires_at),
    )
    charged, reserved = int(rows[0]["charged_tokens"]), int(rows[0]["reserved_tokens"])
    return BudgetDecision(True, budget, charged, reserved, hold)


def _take_hold(conn: sqlite3.Connection, hold: TokenHold) -> int | None:
    """Remove the hold; the tokens it held, or ``None`` when it was gone."""
    rows = conn.execute(
        "DELETE FROM token_holds WHERE user_id = ? AND month = ? AND hold_id = ? RETURNING tokens",
        (hold.user_id, hold.month, hold.hold_id),
    ).fetchall()
    return int(rows[0]["tokens"]) if rows else None


def _unreserve(conn: sqlite3.Connection, user_id: str, month: str, tokens: int) -> None:
    conn.execute(
        "UPDATE usage SET reserved_tokens = reserved_tokens - ? WHERE user_id = ? AND month = ?",
        (tokens, user_id, month),
    )


def _usage_row(conn: sqlite3.Connection, user_id: str, month: str) -> sqlite3.Row | None:
    rows = conn.execute(_GET_USAGE, (user_id, month)).fetchall()
    return rows[0] if rows else None


def _usage(user_id: str, month: str, row: sqlite3.Row | None) -> Usage:
    if row is None:
        return Usage(user_id, month)
    return Usage(
        user_id,
        month,
        row["requests"],
        row["input_tokens"],
        row["output_tokens"],
        charged_tokens=row["charged_tokens"],
        reserved_tokens=row["reserved_tokens"],
    )

"""DynamoDB Table ``users``: fan profiles and usage per month."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creator_chat.adapters.aws.dynamodb.base import (
    _from_ddb,
    _is_conditional_failure,
    _raise_for,
    _TableAdapter,
)
from creator_chat.domain.models import (
    BudgetDecision,
    FanProfile,
    TokenHold,
    Usage,
)

HOLD_PREFIX = "hold#"
# the budget's counters: COMMITTED = charged + reserved, the one number the reservation's
# condition can compare (a condition cannot add two attributes up)
COMMITTED, RESERVED = "committed_tokens", "reserved_tokens"


class DynamoUsageStore(_TableAdapter):
    """Table ``users``: ``PROFILE`` and ``USAGE#YYYY-MM`` items per user.

    A month's item also holds its token budget: ``committed_tokens`` (charged + reserved)
    and ``reserved_tokens`` counters, and one ``hold#<id>`` attribute (``{tokens,
    expires_at}``) per answer in flight. Every budget write is one conditional
    ``UpdateItem`` of that item — atomic, so N parallel reservations admit exactly as many as
    fit — and settling or releasing a hold is conditional on the hold still being there (with
    the tokens it holds), so it happens at most once (a repeated settle, a release after a
    settle: no-ops).
    """

    def add_usage(
        self, user_id: str, month: str, *, requests: int, input_tokens: int, output_tokens: int
    ) -> None:
        self._table.update_item(
            Key=_usage_key(user_id, month),
            UpdateExpression="ADD requests :r, input_tokens :i, output_tokens :o",
            ExpressionAttributeValues={":r": requests, ":i": input_tokens, ":o": output_tokens},
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
        admitted = self._reserve(hold, budget)
        if admitted is None:
            item = self._get(_usage_key(user_id, month)) or {}
            # room may appear once holds that were never settled are given back
            if self._give_back_expired(user_id, month, item):
                admitted = self._reserve(hold, budget)
                if admitted is None:
                    item = self._get(_usage_key(user_id, month)) or {}
        if admitted is not None:
            return admitted
        usage = _usage(user_id, month, item)
        return BudgetDecision(False, budget, usage.charged_tokens, usage.reserved_tokens)

    def _reserve(self, hold: TokenHold, budget: int) -> BudgetDecision | None:
        if hold.tokens > budget:
            return None
        out = self._update_if(
            hold,
            UpdateExpression="SET #h = :hold ADD #c :n, #r :n",
            ConditionExpression="attribute_not_exists(#c) OR #c <= :room",
            ExpressionAttributeNames={"#c": COMMITTED, "#r": RESERVED},
            ExpressionAttributeValues={
                ":hold": {"tokens": hold.tokens, "expires_at": hold.expires_at},
                ":n": hold.tokens,
                ":room": budget - hold.tokens,
            },
            ReturnValues="UPDATED_NEW",
        )
        if out is None:
            return None
        committed, reserved = int(out[COMMITTED]), int(out[RESERVED])
        return BudgetDecision(True, budget, committed - reserved, reserved, hold)

    def settle_tokens(self, hold: TokenHold, *, input_tokens: int, output_tokens: int) -> bool:
        charged = min(input_tokens + output_tokens, hold.tokens)
        out = self._update_if(
            hold,
            UpdateExpression="REMOVE #h ADD requests :one, input_tokens :i, output_tokens :o,"
            " #c :delta, #r :minus",
            ConditionExpression="#h.tokens = :held",  # false once the hold is gone
            ExpressionAttributeNames={"#c": COMMITTED, "#r": RESERVED},
            ExpressionAttributeValues={
                ":held": hold.tokens,
                ":one": 1,
                ":i": input_tokens,
                ":o": output_tokens,
                ":delta": charged - hold.tokens,
                ":minus": -hold.tokens,
            },
        )
        return out is not None

    def release_tokens(self, hold: TokenHold) -> bool:
        out = self._update_if(
            hold,
            UpdateExpression="REMOVE #h ADD #c :minus, #r :minus",
            ConditionExpression="#h.tokens = :held",
            ExpressionAttributeNames={"#c": COMMITTED, "#r": RESERVED},
            ExpressionAttributeValues={":held": hold.tokens, ":minus": -hold.tokens},
        )
        return out is not None

    def _give_back_expired(self, user_id: str, month: str, item: Mapping[str, Any]) -> bool:
        """Release the month's holds that expired unsettled; whether any was."""
        now = self._now()
        released = False
        for name, value in item.items():
            if name.startswith(HOLD_PREFIX) and int(value["expires_at"]) <= now:
                hold_id = name.removeprefix(HOLD_PREFIX)
                hold = TokenHold(
                    user_id, month, hold_id, int(value["tokens"]), int(value["expires_at"])
                )
                released = self.release_tokens(hold) or released
        return released

    def _update_if(self, hold: TokenHold, **kwargs: Any) -> dict[str, Any] | None:
        """One conditional update of the hold's month item (``#h`` names the hold): the
        attributes asked for, or ``None`` when the condition was false."""
        kwargs["ExpressionAttributeNames"]["#h"] = HOLD_PREFIX + hold.hold_id
        try:
            out = self._table.update_item(Key=_usage_key(hold.user_id, hold.month), **kwargs)
        except ClientError as err:
            if _is_conditional_failure(err):
                return None
            _raise_for(err)
            raise
        return _from_ddb(out.get("Attributes", {}))  # type: ignore[no-any-return]

    def get_usage(self, user_id: str, month: str) -> Usage:
        return _usage(user_id, month, self._get(_usage_key(user_id, month)) or {})

    def list_usage(self, user_id: str) -> list[Usage]:
        items = self._query_all(
            KeyConditionExpression=Key("user_id").eq(user_id) & Key("sk").begins_with("USAGE#")
        )
        return [_usage(user_id, i["sk"].removeprefix("USAGE#"), i) for i in items]

    def put_profile(self, profile: FanProfile) -> None:
        self._put({"sk": "PROFILE", **asdict(profile)})

    def get_profile(self, user_id: str) -> FanProfile | None:
        item = self._get({"user_id": user_id, "sk": "PROFILE"})
        if not item:
            return None
        return FanProfile(**{k: v for k, v in item.items() if k in FanProfile.__dataclass_fields__})

    def delete_user(self, user_id: str) -> int:
        keys = [
            {"user_id": i["user_id"], "sk": i["sk"]}
            for i in self._query_all(KeyConditionExpression=Key("user_id").eq(user_id))
        ]
        self._delete_keys(keys)
        return len(keys)


def _usage_key(user_id: str, month: str) -> dict[str, str]:
    return {"user_id": user_id, "sk": f"USAGE#{month}"}


def _usage(user_id: str, month: str, item: Mapping[str, Any]) -> Usage:
    reserved = int(item.get(RESERVED, 0))
    return Usage(
        user_id,
        month,
        int(item.get("requests", 0)),
        int(item.get("input_tokens", 0)),
        int(item.get("output_tokens", 0)),
        charged_tokens=int(item.get(COMMITTED, 0)) - reserved,
        reserved_tokens=reserved,
    )

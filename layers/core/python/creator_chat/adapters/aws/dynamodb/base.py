"""What every DynamoDB store shares: value conversion, error mapping, the table base class.

Two rules hold in every store of this package:
- an item whose ``expires_at`` has passed is treated as absent (DynamoDB's TTL deletes
  only eventually, moto never), and
- writes that two requests could race are conditional.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from creator_chat.errors import DependencyUnavailable
from creator_chat.ports import Clock

_THROTTLE_CODES = {
    "ProvisionedThroughputExceededException",
    "TransactionConflictException",
    "TransactionCanceledException",  # reached only when no condition failed: a conflict
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
}


_BATCH_ATTEMPTS = 8


def _to_ddb(value: Any) -> Any:
    """Python → DynamoDB: floats become Decimal, None values are dropped from maps."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(str(value)) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _to_ddb(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_ddb(v) for v in value]
    return value


def _from_ddb(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _from_ddb(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_ddb(v) for v in value]
    return value


def _is_conditional_failure(err: ClientError) -> bool:
    """A condition was false (not a conflict with a concurrent transaction)."""
    code = err.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = err.response.get("CancellationReasons", [])
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return False


def _raise_for(err: ClientError) -> None:
    """Throttling and service faults become DependencyUnavailable; the rest propagate."""
    code = err.response.get("Error", {}).get("Code", "")
    if code in _THROTTLE_CODES:
        raise DependencyUnavailable(f"DynamoDB unavailable ({code})") from err


class _TableAdapter:
    def __init__(self, resource: Any, table_name: str, clock: Clock) -> None:
        self._table = resource.Table(table_name)
        # the resource's client (de)serialises plain Python values, like the Table API
        self._client = resource.meta.client
        self.table_name = table_name
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock.now())

    def _live(self, item: Mapping[str, Any] | None) -> bool:
        if not item:
            return False
        expires = item.get("expires_at")
        return expires is None or int(expires) > self._now()

    def _query_all(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            try:
                page = self._table.query(**kwargs)
            except ClientError as err:
                _raise_for(err)
                raise
            yield from (_from_ddb(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _scan_all(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = self._table.scan(**kwargs)
            yield from (_from_ddb(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _get(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            item = self._table.get_item(Key=dict(key), ConsistentRead=True).get("Item")
        except ClientError as err:
            _raise_for(err)
            raise
        return _from_ddb(item) if item else None

    def _put(self, item: Mapping[str, Any], **kwargs: Any) -> None:
        try:
            self._table.put_item(Item=_to_ddb(item), **kwargs)
        except ClientError as err:
            _raise_for(err)
            raise

    def _batch_get(self, keys: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The items of ``keys`` that exist (strongly consistent), in no particular order:
        100 keys a request, unprocessed keys asked again."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self.table_name: {"Keys": [dict(k) for k in keys[start : start + 100]]}
            }
            request[self.table_name]["ConsistentRead"] = True
            for attempt in range(_BATCH_ATTEMPTS):
                if attempt:
                    time.sleep(min(0.05 * 2**attempt, 1.0))  # keys left over: throttled
                try:
                    page = self._client.batch_get_item(RequestItems=request)
                except ClientError as err:
                    _raise_for(err)
                    raise
                out.extend(_from_ddb(i) for i in page.get("Responses", {}).get(self.table_name, []))
                request = page.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise DependencyUnavailable("DynamoDB left keys of a batch read unprocessed")
        return out

    def _delete_keys(self, keys: Sequence[Mapping[str, Any]]) -> None:
        with self._table.batch_writer() as batch:
            for key in keys:
                batch.delete_item(Key=dict(key))

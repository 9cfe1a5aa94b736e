"""Powertools idempotency records in the embedded database (the ``idempotency`` table).

The same semantics as Powertools' ``DynamoDBPersistenceLayer``, so a worker behaves alike on
both families: saving INPROGRESS is a conditional put, made atomic by one ``BEGIN IMMEDIATE``
transaction — it succeeds if there is no record, or the record has expired, or it is
INPROGRESS and its ``in_progress_expiration`` (epoch milliseconds: the Lambda deadline of the
invocation that wrote it) has passed; otherwise it raises ``IdempotencyItemAlreadyExistsError``
carrying the existing record, and Powertools answers with the saved result or "in progress".
Times are wall time, as Powertools computes them (``expiration`` in epoch seconds). An expired
record reads as absent (DynamoDB's TTL deletes lazily; ``Database.purge_expired`` does here).
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (
    STATUS_CONSTANTS,
    DataRecord,
)

from creator_chat.adapters.embedded.database import Database

_COLUMNS = "id, status, expiration, in_progress_expiration, response_data, payload_hash"


class SqlitePersistenceLayer(BasePersistenceLayer):
    """Idempotency records in SQLite, with the DynamoDB persistence layer's conditional put."""

    def __init__(self, db: Database) -> None:
        self._db = db
        super().__init__()  # type: ignore[no-untyped-call]

    def _get_record(self, idempotency_key: str) -> DataRecord:
        row = self._db.query_one(
            f"SELECT {_COLUMNS} FROM idempotency WHERE id = ?",  # noqa: S608
            (idempotency_key,),
        )
        if row is None or _expired(row, time.time()):
            raise IdempotencyItemNotFoundError
        return _record(row)

    def _put_record(self, data_record: DataRecord) -> None:
        payload_hash = data_record.payload_hash if self.payload_validation_enabled else None
        with self._db.transaction() as conn:
            now = time.time()
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM idempotency WHERE id = ?",  # noqa: S608
                (data_record.idempotency_key,),
            ).fetchone()
            if row is None or _replaceable(row, now):
                conn.execute(
                    f"INSERT OR REPLACE INTO idempotency ({_COLUMNS})"  # noqa: S608
                    " VALUES (?, ?, ?, ?, NULL, ?)",
                    (
                        data_record.idempotency_key,
                        data_record.status,
                        data_record.expiry_timestamp,
                        data_record.in_progress_expiry_timestamp,
                        payload_hash or None,
                    ),
                )
                return
        # as the DynamoDB layer does with ReturnValuesOnConditionCheckFailure=ALL_OLD: a payload
        # that does not match raises IdempotencyValidationError instead
        old = _record(row)
        self._validate_payload(data_payload=data_record, stored_data_record=old)
        self._save_to_cache(data_record=old)
        raise IdempotencyItemAlreadyExistsError(old_data_record=old)

    def _update_record(self, data_record: DataRecord) -> None:
        # an upsert, as DynamoDB's UpdateItem is; in_progress_expiration is left as it was
        validation = self.payload_validation_enabled
        self._db.execute(
            f"INSERT INTO idempotency ({_COLUMNS}) VALUES (?, ?, ?, NULL, ?, ?)"  # noqa: S608
            " ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
            " expiration = excluded.expiration, response_data = excluded.response_data"
            + (", payload_hash = excluded.payload_hash" if validation else ""),
            (
                data_record.idempotency_key,
                data_record.status,
                data_record.expiry_timestamp,
                data_record.response_data,
                (data_record.payload_hash or None) if validation else None,
            ),
        )

    def _delete_record(self, data_record: DataRecord) -> None:
        self._db.execute("DELETE FROM idempotency WHERE id = ?", (data_record.idempotency_key,))

    def release_in_progress(self) -> int:
        """Forget every INPROGRESS record; returns how many. For the local runtime at start,
        beside ``EmbeddedJobQueue.release_inflight``: the invocations that wrote them died with
        the previous process, and the jobs handed back at once would otherwise be refused as
        "in progress" until the dead invocation's deadline (Lambda's SQS redelivery comes after
        that deadline; the early hand-back does not)."""
        cur = self._db.execute(
            "DELETE FROM idempotency WHERE status = ?", (STATUS_CONSTANTS["INPROGRESS"],)
        )
        return int(cur.rowcount)


def _expired(row: Any, now: float) -> bool:
    # DynamoDB layer's condition, "#expiry < :now" with :now in whole seconds
    return row["expiration"] is not None and int(row["expiration"]) < int(now)


def _replaceable(row: Any, now: float) -> bool:
    """The DynamoDB layer's put condition, for a record that exists."""
    if _expired(row, now):
        return True
    in_progress_until = row["in_progress_expiration"]
    return (
        row["status"] == STATUS_CONSTANTS["INPROGRESS"]
        and in_progress_until is not None
        and int(in_progress_until) < int(now * 1000)
    )


def _record(row: Any) -> DataRecord:
    return DataRecord(
        idempotency_key=row["id"],
        status=row["status"],
        expiry_timestamp=row["expiration"],
        in_progress_expiry_timestamp=row["in_progress_expiration"],
        response_data=row["response_data"] or "",
        payload_hash=row["payload_hash"] or "",
    )

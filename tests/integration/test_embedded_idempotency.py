"""Powertools idempotency on the embedded database: the workers' exactly-once-per-key runs
(``SqlitePersistenceLayer`` behaves as the DynamoDB persistence layer does)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from creator_chat.adapters.embedded.database import Database
from creator_chat.adapters.embedded.idempotency import SqlitePersistenceLayer


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "creator-chat.sqlite3")
    yield database
    database.close()


@pytest.fixture
def persistence(db: Database) -> SqlitePersistenceLayer:
    return SqlitePersistenceLayer(db)


def idempotent(
    persistence: SqlitePersistenceLayer, body: Callable[[dict[str, Any]], Any], **config: Any
) -> Callable[..., Any]:
    """``body(job)`` once per ``job["job_id"]``, as the workers wrap their handlers."""

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="job",
        persistence_store=persistence,
        config=IdempotencyConfig(
            event_key_jmespath="job_id", raise_on_no_idempotency_key=True, **config
        ),
    )
    def run(*, job: dict[str, Any]) -> Any:
        return body(job)

    return run  # type: ignore[no-any-return]


def test_a_repeat_gets_the_saved_result_and_the_function_runs_once(
    persistence: SqlitePersistenceLayer,
) -> None:
    calls: list[str] = []

    def ingest(job: dict[str, Any]) -> dict[str, Any]:
        calls.append(job["job_id"])
        return {"chunks": 12, "run": len(calls)}

    run = idempotent(persistence, ingest)

    assert run(job={"job_id": "j1"}) == {"chunks": 12, "run": 1}
    assert run(job={"job_id": "j1"}) == {"chunks": 12, "run": 1}  # saved, not re-run
    assert run(job={"job_id": "j2"}) == {"chunks": 12, "run": 2}  # another key runs
    assert calls == ["j1", "j2"]


def test_the_function_runs_again_once_its_record_expired(
    db: Database, persistence: SqlitePersistenceLayer
) -> None:
    calls: list[str] = []

    def count(job: dict[str, Any]) -> int:
        calls.append(job["job_id"])
        return len(calls)

    run = idempotent(persistence, count)
    assert run(job={"job_id": "j1"}) == 1
    assert run(job={"job_id": "j1"}) == 1

    # expire it: the record's TTL is hours, and Powertools stamps it with wall time
    db.execute("UPDATE idempotency SET expiration = ?", (int(time.time()) - 5,))

    assert run(job={"job_id": "j1"}) == 2
    assert run(job={"job_id": "j1"}) == 2
    assert calls == ["j1", "j1"]


def test_a_failed_run_leaves_no_record_and_is_retried(persistence: SqlitePersistenceLayer) -> None:
    attempts: list[int] = []

    def flaky(job: dict[str, Any]) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("bedrock throttled")
        return "done"

    run = idempotent(persistence, flaky)
    with pytest.raises(RuntimeError):
        run(job={"job_id": "j1"})
    assert run(job={"job_id": "j1"}) == "done"
    assert len(attempts) == 2


def test_a_run_in_progress_refuses_a_concurrent_one(persistence: SqlitePersistenceLayer) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow(job: dict[str, Any]) -> str:
        entered.set()
        release.wait(10)
        return "done"

    run = idempotent(persistence, slow)
    results: list[Any] = []
    first = threading.Thread(target=lambda: results.append(run(job={"job_id": "j1"})))
    first.start()
    try:
        assert entered.wait(10)
        with pytest.raises(IdempotencyAlreadyInProgressError):
            run(job={"job_id": "j1"})
    finally:
        release.set()
        first.join(10)
    assert results == ["done"]
    assert run(job={"job_id": "j1"}) == "done"


# -- the conditional put, record by record (what the decorator relies on) -----------------
def record(
    status: str, *, expires_in_s: int = 3600, in_progress_ms: int | None = None
) -> DataRecord:
    now = time.time()
    return DataRecord(
        idempotency_key="fn#key",
        status=status,
        expiry_timestamp=int(now + expires_in_s),
        in_progress_expiry_timestamp=(
            int(now * 1000 + in_progress_ms) if in_progress_ms is not None else None
        ),
    )


def test_put_refuses_a_valid_record_and_hands_it_back(persistence: SqlitePersistenceLayer) -> None:
    persistence._put_record(record("INPROGRESS"))
    persistence._update_record(
        DataRecord("fn#key", "COMPLETED", int(time.time()) + 3600, response_data='{"ok": 1}')
    )

    with pytest.raises(IdempotencyItemAlreadyExistsError) as caught:
        persistence._put_record(record("INPROGRESS"))

    old = caught.value.old_data_record
    assert old is not None
    assert (old.status, old.response_data) == ("COMPLETED", '{"ok": 1}')
    assert persistence._get_record("fn#key").response_json_as_dict() == {"ok": 1}


def test_put_refuses_an_in_progress_record_until_its_lambda_deadline(
    persistence: SqlitePersistenceLayer,
) -> None:
    persistence._put_record(record("INPROGRESS", in_progress_ms=60_000))
    with pytest.raises(IdempotencyItemAlreadyExistsError):
        persistence._put_record(record("INPROGRESS"))

    # the invocation that wrote it timed out (its deadline passed): another may take over
    persistence._delete_record(DataRecord("fn#key"))
    persistence._put_record(record("INPROGRESS", in_progress_ms=-1_000))
    persistence._put_record(record("INPROGRESS", in_progress_ms=60_000))
    assert persistence._get_record("fn#key").status == "INPROGRESS"


def test_an_expired_record_is_absent_and_replaceable(persistence: SqlitePersistenceLayer) -> None:
    persistence._put_record(record("COMPLETED", expires_in_s=-10))

    with pytest.raises(IdempotencyItemNotFoundError):
        persistence._get_record("fn#key")
    persistence._put_record(record("INPROGRESS"))
    assert persistence._get_record("fn#key").status == "INPROGRESS"


def test_payload_validation_rejects_another_payload_for_the_same_key(
    persistence: SqlitePersistenceLayer,
) -> None:
    run = idempotent(persistence, lambda job: job["size"], payload_validation_jmespath="size")
    assert run(job={"job_id": "j1", "size": 1}) == 1
    with pytest.raises(IdempotencyValidationError):
        run(job={"job_id": "j1", "size": 2})


def test_release_in_progress_frees_the_claims_of_a_dead_process(
    persistence: SqlitePersistenceLayer,
) -> None:
    """What the local runtime does at start: a job handed back after a crash must not be
    refused as "in progress" by the claim its dead invocation left behind."""
    persistence._put_record(record("INPROGRESS", in_progress_ms=300_000))
    persistence._update_record(DataRecord("fn#done", "COMPLETED", int(time.time()) + 3600))

    assert persistence.release_in_progress() == 1

    persistence._put_record(record("INPROGRESS", in_progress_ms=300_000))  # taken over
    assert persistence._get_record("fn#done").status == "COMPLETED"  # results are kept

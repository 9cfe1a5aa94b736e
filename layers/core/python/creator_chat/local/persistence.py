"""Keeping the embedded emulator's data in the data directory across restarts.

moto keeps everything in memory, so the local runtime snapshots what matters — every
declared DynamoDB table (as DynamoDB JSON lines) and every declared bucket's objects — to the
data directory every few seconds and on shutdown, and restores it at start. The vector index
persists itself under the same directory. SQS messages are not snapshotted: after a restart,
``recover_inflight`` re-queues every document still ``queued``/``processing`` and every answer
still ``pending``, so no accepted work is lost (the workers are idempotent).

What this does not promise: a hard kill loses the writes of the last few seconds (at most
``interval_s``) — the same trade any write-behind cache makes. LocalStack or AWS keep their
own data; this is only for the embedded emulator.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from creator_chat.adapters.aws.clients import AwsClients
from creator_chat.container import Container
from creator_chat.domain.models import DocumentStatus, MessageStatus
from creator_chat.observability import logger
from creator_chat.resources import Declaration
from creator_chat.settings import Settings


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class EmulatorSnapshot:
    def __init__(
        self,
        settings: Settings,
        declaration: Declaration,
        data_dir: Path,
        *,
        interval_s: float = 5.0,
    ) -> None:
        self._settings = settings
        self._declaration = declaration
        self._dir = data_dir / "emulator"
        self._interval_s = interval_s
        aws = AwsClients(settings)
        self._ddb = aws.client("dynamodb")
        self._s3 = aws.client("s3")
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def _tables(self) -> list[Any]:
        # Idempotency records are not kept: an "in progress" record of a job cut off by the
        # restart would block its re-run; the use cases are idempotent by business id anyway.
        return [t for t in self._declaration.tables if t.name != "idempotency"]

    # -- restore
    def restore(self) -> int:
        """Load the last snapshot into the (freshly provisioned) emulator; returns items."""
        restored = 0
        for table in self._tables():
            path = self._dir / "dynamodb" / f"{table.name}.jsonl"
            if not path.exists():
                continue
            name = self._settings.physical_name("table", table.name)
            items = [
                json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line
            ]
            for start in range(0, len(items), 25):
                batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
                pending: dict[str, Any] = {name: batch}
                while pending:
                    out = self._ddb.batch_write_item(RequestItems=pending)
                    pending = out.get("UnprocessedItems") or {}
            restored += len(items)
        for bucket in self._declaration.buckets:
            root = self._dir / "s3" / bucket.name
            if not root.exists():
                continue
            name = self._settings.physical_name("bucket", bucket.name)
            for file in root.rglob("*"):
                if file.is_file():
                    key = file.relative_to(root).as_posix()
                    self._s3.put_object(Bucket=name, Key=key, Body=file.read_bytes())
                    restored += 1
        return restored

    # -- save
    def save(self) -> None:
        with self._lock:
            for table in self._tables():
                name = self._settings.physical_name("table", table.name)
                lines: list[str] = []
                kwargs: dict[str, Any] = {"TableName": name}
                while True:
                    page = self._ddb.scan(**kwargs)
                    lines.extend(
                        json.dumps(i, separators=(",", ":")) for i in page.get("Items", [])
                    )
                    if "LastEvaluatedKey" not in page:
                        break
                    kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
                _atomic_write(
                    self._dir / "dynamodb" / f"{table.name}.jsonl",
                    ("\n".join(lines) + "\n").encode(),
                )
            for bucket in self._declaration.buckets:
                self._save_bucket(bucket.name)

    def _save_bucket(self, logical: str) -> None:
        name = self._settings.physical_name("bucket", logical)
        root = self._dir / "s3" / logical
        keys: set[str] = set()
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                keys.add(key)
                target = root / key
                if not target.resolve().is_relative_to(root.resolve()):
                    continue  # a key like ../x must never write outside the data directory
                if not target.exists() or target.stat().st_size != obj["Size"]:
                    body = self._s3.get_object(Bucket=name, Key=key)["Body"].read()
                    _atomic_write(target, body)
        if root.exists():
            for file in root.rglob("*"):
                if file.is_file() and file.relative_to(root).as_posix() not in keys:
                    file.unlink()

    # -- background
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="snapshot", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.save()
            except Exception:
                logger.exception("snapshot failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.save()


def recover_inflight(c: Container) -> tuple[int, int]:
    """Re-queue work whose SQS message did not survive a restart; returns (docs, answers)."""
    docs = 0
    for creator in c.creators.list_creators(active_only=False):
        for doc in c.documents.list_documents(creator.creator_id):
            if doc.status in (DocumentStatus.QUEUED, DocumentStatus.PROCESSING) and doc.job_id:
                c.ingest_queue.send(
                    {
                        "job_id": doc.job_id,
                        "creator_id": doc.creator_id,
                        "document_id": doc.document_id,
                    }
                )
                docs += 1
    answers = 0
    table = c.aws.resource("dynamodb").Table(c.settings.physical_name("table", "conversations"))
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        for item in page.get("Items", []):
            if item.get("kind") == "message" and item.get("status") == MessageStatus.PENDING.value:
                c.llm_queue.send(
                    {
                        "message_id": item["message_id"],
                        "thread_id": item["thread_id"],
                        "user_id": item["user_id"],
                        "creator_id": item["creator_id"],
                    }
                )
                answers += 1
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return docs, answers

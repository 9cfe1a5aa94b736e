"""Importing a data dir written by the moto-backed runtime (before the embedded database).

That runtime kept ``emulator/dynamodb/<table>.jsonl`` (DynamoDB JSON, snapshotted every 5 s),
``emulator/s3/raw-uploads/…`` and the vector index as ``index/*.npz``. At the first start on
such a data dir, ``creator-chat serve`` imports it into the database in one transaction —
creators, documents and their chunks, threads and messages, sessions, profiles, usage and the
audit log — re-queues the work that was still queued, and renames the old folders to
``*.imported`` (nothing is deleted). Left out: this hour's rate-limit windows and this week's
trending counters (both start again from zero) and idempotency records.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from creator_chat.domain.models import (
    AuditEntry,
    Chunk,
    DocumentStatus,
    FanProfile,
    Message,
    MessageStatus,
    Session,
)
from creator_chat.observability import logger
from creator_chat.settings import Settings

IMPORTED_KEY = "legacy_snapshot_imported"


def _items(path: Path) -> Iterator[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    from creator_chat.adapters.aws.dynamodb.base import _from_ddb

    if not path.exists():
        return
    deserializer = TypeDeserializer()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            yield _from_ddb({k: deserializer.deserialize(v) for k, v in raw.items()})


def has_legacy_data(data_dir: Path) -> bool:
    return (data_dir / "emulator" / "dynamodb").is_dir()


def import_legacy_data_dir(settings: Settings) -> dict[str, int] | None:
    """Import the old snapshot format if the data dir holds one; returns what was imported."""
    data_dir = settings.data_dir
    if data_dir is None or not has_legacy_data(data_dir):
        return None
    from creator_chat.container import Container

    container = Container(settings.replace(storage="embedded"))
    try:
        counts = _import(container, data_dir)
    finally:
        container.close()
    for name in ("emulator", "index"):
        old = data_dir / name
        if old.exists():
            old.rename(data_dir / f"{name}.imported")
    logger.warning("imported a data dir written by an older creator-chat", extra=counts)
    print(f"imported the older data dir format in {data_dir}: {counts}", flush=True)
    return counts


def _import(c: Any, data_dir: Path) -> dict[str, int]:
    from creator_chat.adapters.aws.dynamodb.creators import _creator
    from creator_chat.adapters.aws.dynamodb.documents import _document
    from creator_chat.adapters.aws.dynamodb.threads import _message, _thread

    tables = data_dir / "emulator" / "dynamodb"
    counts = dict.fromkeys(
        ("creators", "documents", "chunks", "threads", "messages", "sessions", "users", "audit"),
        0,
    )
    now = int(c.clock.now())
    db = c.database
    if db.query_one("SELECT value FROM meta WHERE key = ?", (IMPORTED_KEY,)) is not None:
        return counts
    with c.unit_of_work():
        for item in _items(tables / "creators.jsonl"):
            if item.get("kind") == "creator":
                creator = _creator(item)
                c.creators.create_creator(creator)
                db.execute(
                    "UPDATE creators SET content_version = ? WHERE creator_id = ?",
                    (creator.content_version, creator.creator_id),
                )
                counts["creators"] += 1
        for item in _items(tables / "documents.jsonl"):
            sk = str(item.get("sk", ""))
            if sk.startswith("DOC#"):
                c.documents.put_document(_document(item))
                counts["documents"] += 1
            elif sk.startswith("HASH#"):
                c.documents.claim_content_hash(
                    item["creator_id"], sk.removeprefix("HASH#"), item["document_id"]
                )
        threads: dict[str, Any] = {}
        messages: dict[str, list[Message]] = {}
        for item in _items(tables / "conversations.jsonl"):
            if item.get("kind") == "thread" and int(item.get("expires_at", 0)) > now:
                threads[item["thread_id"]] = _thread(item)
            elif item.get("kind") == "message":
                messages.setdefault(item["thread_id"], []).append(_message(item))
        for thread_id, thread in threads.items():
            history = sorted(messages.get(thread_id, []), key=lambda m: m.message_id)
            if not history:
                continue
            thread.message_count = 0
            c.threads.create_thread(thread, history[0])
            for message in history[1:]:
                c.threads.append_message(thread, message)
            counts["threads"] += 1
            counts["messages"] += len(history)
        for item in _items(tables / "sessions.jsonl"):
            if int(item.get("expires_at", 0)) > now:
                fields = Session.__dataclass_fields__
                c.sessions.put_session(Session(**{k: v for k, v in item.items() if k in fields}))
                counts["sessions"] += 1
        for item in _items(tables / "users.jsonl"):
            sk = str(item.get("sk", ""))
            if sk == "PROFILE":
                fields = FanProfile.__dataclass_fields__
                c.users.put_profile(FanProfile(**{k: v for k, v in item.items() if k in fields}))
            elif sk.startswith("USAGE#"):
                c.users.add_usage(
                    item["user_id"],
                    sk.removeprefix("USAGE#"),
                    requests=int(item.get("requests", 0)),
                    input_tokens=int(item.get("input_tokens", 0)),
                    output_tokens=int(item.get("output_tokens", 0)),
                )
            counts["users"] += 1
        for item in _items(tables / "audit.jsonl"):
            if int(item.get("expires_at", 0)) > now:
                fields = AuditEntry.__dataclass_fields__
                c.audit.record(AuditEntry(**{k: v for k, v in item.items() if k in fields}))
                counts["audit"] += 1
        counts["chunks"] = _import_index(c, data_dir / "index")
        _copy_uploads(data_dir / "emulator" / "s3" / "raw-uploads", data_dir / "uploads")
        _requeue(c, threads, messages)
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (IMPORTED_KEY, str(now)))
    return counts


def _import_index(c: Any, folder: Path) -> int:
    import numpy as np

    total = 0
    if not folder.is_dir():
        return 0
    for path in sorted(folder.glob("*.npz")):
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            matrix = np.asarray(data["vectors"], dtype=np.float32)
        chunks = [Chunk(**chunk) for chunk in meta["chunks"]]
        listed = {d.document_id for d in c.documents.list_documents(meta["creator_id"])}
        keep = [i for i, chunk in enumerate(chunks) if chunk.document_id in listed]
        if keep:
            c.index.upsert(meta["creator_id"], [chunks[i] for i in keep], matrix[keep])
            total += len(keep)
    return total


def _copy_uploads(source: Path, target: Path) -> None:
    if not source.is_dir():
        return
    for file in source.rglob("*"):
        if file.is_file():
            dest = target / file.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, dest)


def _requeue(c: Any, threads: dict[str, Any], messages: dict[str, list[Message]]) -> None:
    """The old runtime kept no queue: re-queue what was still waiting (workers are idempotent)."""
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
    for thread_id in threads:
        for message in messages.get(thread_id, []):
            if message.status is MessageStatus.PENDING:
                c.llm_queue.send(
                    {
                        "message_id": message.message_id,
                        "thread_id": message.thread_id,
                        "user_id": message.user_id,
                        "creator_id": message.creator_id,
                    }
                )

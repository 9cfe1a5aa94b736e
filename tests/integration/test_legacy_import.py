"""A data dir written by the moto-backed runtime is imported at the first start."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
from boto3.dynamodb.types import TypeSerializer
from creator_chat.adapters.aws.dynamodb.base import _to_ddb
from creator_chat.container import Container
from creator_chat.domain.models import Chunk, Creator, MessageStatus, Session
from creator_chat.local.legacy import import_legacy_data_dir
from creator_chat.settings import Settings

NOW = 1_800_000_000


def write_table(root: Path, name: str, items: list[dict]) -> None:
    serializer = TypeSerializer()
    path = root / "emulator" / "dynamodb" / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({k: serializer.serialize(v) for k, v in _to_ddb(item).items()}) for item in items
    ]
    path.write_text("\n".join(lines) + "\n")


def old_data_dir(root: Path) -> None:
    creator = Creator("cr_old", "old", "Old Channel", content_version=7)
    write_table(
        root,
        "creators",
        [
            {"creator_id": "cr_old", "kind": "creator", **asdict(creator)},
            {"creator_id": "slug:old", "kind": "slug_claim", "owner": "cr_old"},
        ],
    )
    doc = {
        "creator_id": "cr_old",
        "document_id": "doc_1",
        "title": "Knots",
        "kind": "text",
        "content_hash": "h1",
        "status": "done",
        "created_at": NOW - 100,
        "updated_at": NOW - 90,
        "blob_key": "cr_old/doc_1/h1",
        "job_id": "job_1",
        "chunk_count": 1,
    }
    queued = {
        **doc,
        "document_id": "doc_2",
        "title": "Queued",
        "status": "queued",
        "job_id": "job_2",
        "blob_key": "cr_old/doc_2/h2",
        "content_hash": "h2",
    }
    write_table(
        root,
        "documents",
        [
            {"sk": "DOC#doc_1", **doc},
            {"sk": "DOC#doc_2", **queued},
            {"creator_id": "cr_old", "sk": "HASH#h1", "document_id": "doc_1"},
        ],
    )
    thread = {
        "thread_id": "th_1",
        "user_id": "fan-1",
        "creator_id": "cr_old",
        "created_at": NOW - 50,
        "last_activity_at": NOW - 40,
        "expires_at": NOW + 3600,
        "title": "Knots",
        "message_count": 2,
    }
    msg = {
        "thread_id": "th_1",
        "user_id": "fan-1",
        "creator_id": "cr_old",
        "created_at": NOW - 50,
        "citations": [],
    }
    write_table(
        root,
        "conversations",
        [
            {"pk": "THREAD#th_1", "sk": "META", "kind": "thread", **thread},
            {
                "pk": "THREAD#th_1",
                "sk": "MSG#0001",
                "kind": "message",
                "message_id": "0001",
                "role": "user",
                "content": "Which knot?",
                "status": "answered",
                **msg,
            },
            {
                "pk": "THREAD#th_1",
                "sk": "MSG#0002",
                "kind": "message",
                "message_id": "0002",
                "role": "assistant",
                "content": "",
                "status": "pending",
                "reply_to": "0001",
                **msg,
            },
        ],
    )
    write_table(root, "sessions", [asdict(Session("s1", "fan-1", NOW - 10, NOW + 3600))])
    write_table(
        root,
        "users",
        [
            {
                "user_id": "fan-1",
                "sk": "USAGE#2027-01",
                "requests": 3,
                "input_tokens": 10,
                "output_tokens": 5,
            },
        ],
    )
    # the old runtime's index file: vectors and JSON metadata in one .npz per creator
    chunk = Chunk("doc_1-0", "cr_old", "doc_1", "A bowline makes a fixed loop.", "Knots")
    meta = {"format": 1, "creator_id": "cr_old", "dimension": 3, "chunks": [asdict(chunk)]}
    (root / "index").mkdir()
    np.savez(
        root / "index" / "0123abcd.npz",
        vectors=np.array([[1.0, 0.0, 0.0]], dtype=np.float32),
        meta=np.array(json.dumps(meta)),
    )
    blob = root / "emulator" / "s3" / "raw-uploads" / "cr_old" / "doc_1" / "h1"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"A bowline makes a fixed loop.")


def test_an_old_data_dir_is_imported_once_and_its_folders_kept_aside(tmp_path: Path):
    old_data_dir(tmp_path)
    settings = Settings(storage="embedded", data_dir=tmp_path, resource_prefix="legacy")
    counts = import_legacy_data_dir(settings)
    assert counts is not None and counts["creators"] == 1 and counts["chunks"] == 1
    assert (tmp_path / "emulator.imported").is_dir() and not (tmp_path / "emulator").exists()
    assert import_legacy_data_dir(settings) is None  # nothing left to import

    c = Container(settings)
    try:
        creator = c.creators.get_creator_by_slug("old")
        assert creator is not None and creator.content_version == 7
        docs = {d.document_id: d for d in c.documents.list_documents("cr_old")}
        assert set(docs) == {"doc_1", "doc_2"}
        assert c.documents.claim_content_hash("cr_old", "h1", "doc_x") == "doc_1"
        hits = c.index.search("cr_old", [1.0, 0.0, 0.0], "bowline", top_k=3)
        assert [h.chunk.document_id for h in hits] == ["doc_1"]
        assert c.blobs.get("cr_old/doc_1/h1") == b"A bowline makes a fixed loop."
        messages = c.threads.list_messages("th_1")
        assert [m.message_id for m in messages] == ["0001", "0002"]
        assert messages[1].status is MessageStatus.PENDING
        assert c.sessions.get_session("s1") is not None
        assert c.users.get_usage("fan-1", "2027-01").requests == 3
        # what was still waiting is queued again: the queued document and the pending answer
        bodies = [json.loads(r[0]) for r in c.database.query("SELECT body FROM jobs")]
        assert {b.get("job_id") or b.get("message_id") for b in bodies} == {"job_2", "0002"}
    finally:
        c.close()

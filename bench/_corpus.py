"""A creator and its documents in a fresh embedded container, ingested through the product's
own use cases (submit, then the ingest job): what the answer benches ask questions of."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from creator_chat.container import Container
from creator_chat.domain.models import Creator, DocumentKind, Identity, Role, Tier
from creator_chat.settings import Settings
from creator_chat.usecases import creators as creator_uc
from creator_chat.usecases import ingest as ingest_uc

ADMIN = Identity("bench-admin", Role.ADMIN, Tier.ENTERPRISE)


def build_creator(
    data_dir: Path,
    profile: Mapping[str, Any],
    documents: list[tuple[Mapping[str, Any], bytes]],
) -> tuple[Container, Creator, dict[str, str]]:
    """The container, the creator, and document id -> the manifest entry's file name.
    ``documents`` are (manifest entry, content) pairs; every one must end ``done``."""
    c = Container(Settings(storage="embedded", data_dir=data_dir, resource_prefix="bench"))
    creator = creator_uc.create_creator(c.creators, c.clock, ADMIN, **profile)
    files: dict[str, str] = {}
    for entry, content in documents:
        submitted = ingest_uc.submit_document(
            c,
            ADMIN,
            creator.creator_id,
            title=entry["title"],
            kind=DocumentKind(entry["kind"]),
            content=content,
            source_url=entry.get("source_url") or "",
            video_id=entry.get("video_id"),
        )
        doc = submitted.document
        files[doc.document_id] = entry["file"]
        job = {
            "job_id": doc.job_id,
            "creator_id": creator.creator_id,
            "document_id": doc.document_id,
        }
        assert ingest_uc.process_job(c, job, final_attempt=True) == "done", entry["file"]
    return c, creator, files

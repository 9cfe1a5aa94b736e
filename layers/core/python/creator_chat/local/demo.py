"""The demo creator and its corpus, seeded so a first run has something to talk to."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from creator_chat.container import Container
from creator_chat.domain.models import Creator, DocumentKind, Identity, Role, Tier
from creator_chat.usecases.ingest import submit_document

SYSTEM = Identity(user_id="system:seed", role=Role.ADMIN, tier=Tier.ENTERPRISE)


def demo_files() -> Any:
    return resources.files("creator_chat") / "demo"


def demo_creator_id(slug: str) -> str:
    return f"cr_{slug}"


def seed_demo_creator(c: Container) -> Creator:
    """Create the demo creator if missing and queue its corpus (a no-op when unchanged)."""
    folder = demo_files()
    profile = json.loads((folder / "creator.json").read_text(encoding="utf-8"))
    creator = c.creators.get_creator_by_slug(profile["slug"])
    if creator is None:
        now = int(c.clock.now())
        creator = Creator(
            creator_id=demo_creator_id(profile["slug"]), created_at=now, updated_at=now, **profile
        )
        c.creators.create_creator(creator)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["documents"]:
        submit_document(
            c,
            SYSTEM,
            creator.creator_id,
            title=entry["title"],
            kind=DocumentKind(entry["kind"]),
            content=(folder / entry["file"]).read_bytes(),
            source_url=entry.get("source_url") or "",
            video_id=entry.get("video_id"),
        )
    return creator

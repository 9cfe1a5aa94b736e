"""Creators: listing for everyone, management for admins."""

from __future__ import annotations

import re

from creator_chat.domain.models import Creator, Identity, Role
from creator_chat.errors import Forbidden, InvalidInput, NotFound
from creator_chat.ids import random_id
from creator_chat.ports import Clock, CreatorStore

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")


def list_creators(store: CreatorStore, caller: Identity) -> list[Creator]:
    """Active creators; admins also see inactive ones."""
    return store.list_creators(active_only=caller.role is not Role.ADMIN)


def resolve_creator_id(store: CreatorStore, id_or_slug: str) -> str:
    """A creator's id from its id or its slug (a slug has no ``_``, an id always has), so
    every creator route takes either; an unknown slug is returned as given (and then
    reads as "not found" or "forbidden", as an unknown id does)."""
    if "_" in id_or_slug or not SLUG_RE.match(id_or_slug):
        return id_or_slug
    creator = store.get_creator_by_slug(id_or_slug)
    return creator.creator_id if creator else id_or_slug


def get_creator(store: CreatorStore, caller: Identity, id_or_slug: str) -> Creator:
    """A creator by id or slug; inactive creators exist only for admins and themselves."""
    creator = store.get_creator(id_or_slug) or store.get_creator_by_slug(id_or_slug)
    if creator is None or (
        not creator.active and not caller.can_manage_creator(creator.creator_id)
    ):
        raise NotFound("creator not found")
    return creator


def create_creator(
    store: CreatorStore,
    clock: Clock,
    caller: Identity,
    *,
    slug: str,
    name: str,
    persona: str = "",
    specialty: str = "",
    description: str = "",
    creator_id: str | None = None,
) -> Creator:
    """Admin only. Slugs are unique and immutable."""
    if caller.role is not Role.ADMIN:
        raise Forbidden("only admins create creators")
    if not SLUG_RE.match(slug):
        raise InvalidInput("slug must be 3-63 lowercase letters, digits or hyphens")
    now = int(clock.now())
    creator = Creator(
        creator_id=creator_id or random_id("cr_"),
        slug=slug,
        name=name,
        persona=persona,
        specialty=specialty,
        description=description,
        created_at=now,
        updated_at=now,
    )
    store.create_creator(creator)
    return creator


def update_creator(
    store: CreatorStore,
    clock: Clock,
    caller: Identity,
    creator_id: str,
    *,
    name: str | None = None,
    persona: str | None = None,
    specialty: str | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> Creator:
    """Admins update any creator; a creator updates its own profile (not ``active``)."""
    if not caller.can_manage_creator(creator_id):
        raise Forbidden("you cannot manage this creator")
    if active is not None and caller.role is not Role.ADMIN:
        raise Forbidden("only admins activate or deactivate creators")
    changes = {
        "name": name,
        "persona": persona,
        "specialty": specialty,
        "description": description,
        "active": active,
    }
    # only what the request changes: a concurrent edit of another field, or an ingest's
    # content-version bump, is never written back from this request's read
    return store.update_creator(
        creator_id,
        {k: v for k, v in changes.items() if v is not None},
        updated_at=int(clock.now()),
    )

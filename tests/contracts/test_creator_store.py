"""CreatorStore contract: unique ids and slugs, immutable slugs, an atomic content version."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from creator_chat.container import Container
from creator_chat.domain.models import Creator
from creator_chat.errors import Conflict, NotFound

from tests.contracts.conftest import uid


def new_creator(c: Container, **fields: object) -> Creator:
    now = int(c.clock.now())
    creator = Creator(uid("cr_"), uid("slug-"), "Ada", created_at=now, updated_at=now)
    creator = replace(creator, **fields)  # type: ignore[arg-type]
    c.creators.create_creator(creator)
    return creator


def test_a_created_creator_reads_back_by_id_and_by_slug(stores: Container):
    creator = new_creator(stores, persona="friendly", description="Coffee ☕ and code")

    assert stores.creators.get_creator(creator.creator_id) == creator
    assert stores.creators.get_creator_by_slug(creator.slug) == creator


def test_an_unknown_creator_reads_as_absent(stores: Container):
    assert stores.creators.get_creator(uid("cr_")) is None
    assert stores.creators.get_creator_by_slug(uid("slug-")) is None


def test_create_creator_with_a_taken_slug_is_a_conflict(stores: Container):
    first = new_creator(stores)

    with pytest.raises(Conflict):
        stores.creators.create_creator(Creator(uid("cr_"), first.slug, "Impostor"))
    assert stores.creators.get_creator_by_slug(first.slug) == first


def test_create_creator_with_a_taken_id_is_a_conflict(stores: Container):
    first = new_creator(stores)

    with pytest.raises(Conflict):
        stores.creators.create_creator(Creator(first.creator_id, uid("slug-"), "Impostor"))
    assert stores.creators.get_creator(first.creator_id) == first


def test_two_admins_racing_for_one_slug_create_one_creator(stores: Container):
    slug = uid("race-")
    stores.creators.get_creator("warm-up")  # build the store before the threads race

    def create(i: int) -> bool:
        try:
            stores.creators.create_creator(Creator(uid("cr_"), slug, f"Racer {i}"))
        except Conflict:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(create, range(8))) == 1
    assert stores.creators.get_creator_by_slug(slug) is not None


def test_update_creator_writes_the_changed_fields_and_returns_the_stored_creator(
    stores: Container,
):
    creator = new_creator(stores)

    stored = stores.creators.update_creator(
        creator.creator_id, {"name": "Ada L.", "active": False}, updated_at=42
    )

    expected = replace(creator, name="Ada L.", active=False, updated_at=42)
    assert stored == expected
    assert stores.creators.get_creator(creator.creator_id) == expected
    assert stores.creators.get_creator_by_slug(creator.slug) == expected
    assert creator.creator_id not in {c.creator_id for c in stores.creators.list_creators()}


def test_update_creator_of_an_unknown_creator_is_not_found(stores: Container):
    ghost = uid("cr_")

    with pytest.raises(NotFound):
        stores.creators.update_creator(ghost, {"name": "Ghost"}, updated_at=1)
    assert stores.creators.get_creator(ghost) is None


def test_update_creator_cannot_change_the_id_slug_or_content_version(stores: Container):
    creator = new_creator(stores)

    stored = stores.creators.update_creator(
        creator.creator_id,
        {"slug": uid("slug-"), "content_version": 99, "creator_id": uid("cr_")},
        updated_at=7,
    )

    assert stored == replace(creator, updated_at=7)
    assert stores.creators.get_creator_by_slug(creator.slug) == stored


def test_concurrent_edits_of_different_fields_both_land(stores: Container):
    creator = new_creator(stores)

    def edit(i: int) -> None:
        field = ("name", "persona", "specialty", "description")[i % 4]
        stores.creators.update_creator(creator.creator_id, {field: f"{field}-{i}"}, updated_at=i)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(edit, range(4)))

    stored = stores.creators.get_creator(creator.creator_id)
    assert stored is not None
    assert (stored.name, stored.persona, stored.specialty, stored.description) == (
        "name-0",
        "persona-1",
        "specialty-2",
        "description-3",
    )


def test_bump_content_version_is_atomic_under_concurrency(stores: Container):
    creator = new_creator(stores)

    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = list(
            pool.map(lambda _: stores.creators.bump_content_version(creator.creator_id), range(20))
        )

    assert sorted(versions) == list(range(1, 21))  # every bump saw its own new version
    stored = stores.creators.get_creator(creator.creator_id)
    assert stored is not None and stored.content_version == 20


def test_update_creator_does_not_roll_back_a_concurrent_content_version_bump(
    stores: Container,
):
    creator = new_creator(stores)
    stores.creators.bump_content_version(creator.creator_id)  # an ingest finished meanwhile

    stored = stores.creators.update_creator(creator.creator_id, {"name": "Renamed"}, updated_at=3)

    assert stored.name == "Renamed" and stored.content_version == 1
    assert stores.creators.get_creator(creator.creator_id) == stored


def test_list_creators_hides_inactive_ones_unless_asked_and_sorts_by_slug(stores: Container):
    prefix = uid("list-")
    b = new_creator(stores, slug=f"{prefix}-b")
    a = new_creator(stores, slug=f"{prefix}-a")
    hidden = new_creator(stores, slug=f"{prefix}-c", active=False)

    def ours(creators: list[Creator]) -> list[str]:
        return [x.slug for x in creators if x.slug.startswith(prefix)]

    assert ours(stores.creators.list_creators()) == [a.slug, b.slug]
    assert ours(stores.creators.list_creators(active_only=False)) == [a.slug, b.slug, hidden.slug]

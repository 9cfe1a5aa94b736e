"""AuditLog contract: entries per actor, oldest first, gone after the retention, erasable."""

from __future__ import annotations

from creator_chat.adapters.aws.dynamodb.audit import AUDIT_RETENTION_S
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.models import AuditEntry

from tests.contracts.conftest import uid


def entry(actor: str, at: int, action: str = "document.ingest", **kw) -> AuditEntry:
    return AuditEntry(
        actor_id=actor,
        action=action,
        target=kw.pop("target", "cr_1/doc_1"),
        outcome=kw.pop("outcome", "ok"),
        request_id=kw.pop("request_id", uid("req_")),
        at=at,
        **kw,
    )


def test_entries_come_back_oldest_first_with_their_detail(stores: Container, clock: FixedClock):
    actor, now = uid("u"), int(clock.now())
    later = entry(actor, now, "data.export", detail={"receipt_id": "erase_1", "n": 2})
    earlier = entry(actor, now - 60, "trending.read", outcome="denied")
    stores.audit.record(later)
    stores.audit.record(earlier)
    stores.audit.record(entry(uid("u"), now))

    assert stores.audit.entries_for(actor) == [earlier, later]
    assert stores.audit.entries_for(uid("u")) == []


def test_the_same_entry_twice_is_two_entries(stores: Container, clock: FixedClock):
    actor = uid("u")
    same = entry(actor, int(clock.now()), request_id="req_1")
    stores.audit.record(same)
    stores.audit.record(same)

    assert stores.audit.entries_for(actor) == [same, same]


def test_expired_audit_entries_are_absent(stores: Container, clock: FixedClock):
    actor, now = uid("u"), int(clock.now())
    old = entry(actor, now - AUDIT_RETENTION_S)  # expires exactly now
    almost = entry(actor, now - AUDIT_RETENTION_S + 1)
    stores.audit.record(old)
    stores.audit.record(almost)

    assert stores.audit.entries_for(actor) == [almost]

    clock.advance(1)
    assert stores.audit.entries_for(actor) == []


def test_deleting_an_actor_removes_its_entries_and_nobody_elses(
    stores: Container, clock: FixedClock
):
    actor, other, now = uid("u"), uid("u"), int(clock.now())
    for at in (now - 10, now):
        stores.audit.record(entry(actor, at))
    kept = entry(other, now)
    stores.audit.record(kept)

    assert stores.audit.delete_actor(actor) == 2

    assert stores.audit.entries_for(actor) == []
    assert stores.audit.entries_for(other) == [kept]
    assert stores.audit.delete_actor(actor) == 0

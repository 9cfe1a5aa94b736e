"""DynamoDB adapters against the emulator: keys, TTL attributes, conditional races."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.models import (
    Creator,
    Document,
    DocumentKind,
    DocumentStatus,
    Message,
    Session,
    Thread,
)
from creator_chat.errors import Conflict, DependencyUnavailable, NotFound
from creator_chat.ids import random_id, sortable_id
from creator_chat.settings import Settings


def raw_item(settings: Settings, table: str, key: dict[str, str]) -> dict:
    ddb = boto3.client("dynamodb")
    out = ddb.get_item(
        TableName=settings.physical_name("table", table), Key={k: {"S": v} for k, v in key.items()}
    )
    return out["Item"]


def new_thread(
    c: Container, user: str = "fan-1", creator: str = "cr_a", first: str = "hello"
) -> Thread:
    """A thread as the chat starts one: stored with its first message."""
    now = int(c.clock.now())
    t = Thread(random_id("th_"), user, creator, now, now, now + c.settings.thread_idle_ttl_s)
    c.threads.create_thread(t, message(c, t, first))
    return t


def message(c: Container, t: Thread, text: str, role: str = "user") -> Message:
    return Message(
        sortable_id(c.clock.now()),
        t.thread_id,
        t.user_id,
        t.creator_id,
        role,
        text,
        int(c.clock.now()),
    )


def test_thread_ttl_is_epoch_seconds_and_refreshed_on_activity(
    container: Container, clock: FixedClock, settings: Settings
):
    t = new_thread(container)
    clock.advance(3600)
    container.threads.append_message(t, message(container, t, "hello"))

    item = raw_item(settings, "conversations", {"pk": f"THREAD#{t.thread_id}", "sk": "META"})
    # a DynamoDB TTL attribute must be a Number holding epoch seconds
    assert "N" in item["expires_at"]
    assert int(item["expires_at"]["N"]) == int(clock.now()) + 7 * 24 * 3600
    assert int(item["last_activity_at"]["N"]) == int(clock.now())


def test_expired_thread_reads_as_absent_even_before_dynamodb_deletes_it(
    container: Container, clock: FixedClock
):
    t = new_thread(container)
    container.threads.append_message(t, message(container, t, "hi"))
    clock.advance(7 * 24 * 3600 + 1)

    assert container.threads.get_thread(t.thread_id) is None
    assert all(x.thread_id != t.thread_id for x in container.threads.list_threads("fan-1"))
    assert container.threads.list_messages(t.thread_id) == []
    with pytest.raises(NotFound):
        container.threads.append_message(t, message(container, t, "too late"))


def test_active_thread_keeps_old_messages_alive(container: Container, clock: FixedClock):
    t = new_thread(container, user="fan-old", first="first question")
    for _ in range(9):  # a message a day for 9 days: older than the 7-day idle TTL
        clock.advance(24 * 3600)
        container.threads.append_message(t, message(container, t, "daily"))

    texts = [m.content for m in container.threads.list_messages(t.thread_id)]
    assert texts[0] == "first question"
    assert len(texts) == 10


def test_messages_come_back_in_order_and_recent_returns_the_last_n(container: Container):
    t = new_thread(container, user="fan-order", first="m0")
    for i in range(1, 5):
        container.threads.append_message(t, message(container, t, f"m{i}"))
    assert [m.content for m in container.threads.list_messages(t.thread_id)] == [
        f"m{i}" for i in range(5)
    ]
    assert [m.content for m in container.threads.recent_messages(t.thread_id, 2)] == ["m3", "m4"]


def test_message_cannot_be_appended_to_another_users_thread(container: Container):
    t = new_thread(container, user="owner")
    intruder = message(container, t, "mine now")
    intruder.user_id = "intruder"
    with pytest.raises(NotFound):
        container.threads.append_message(t, intruder)


def test_session_ttl_is_24h(container: Container, clock: FixedClock, settings: Settings):
    now = int(clock.now())
    container.sessions.put_session(Session("s-1", "fan-1", now, now + settings.session_ttl_s))
    item = raw_item(settings, "sessions", {"session_id": "s-1"})
    assert int(item["expires_at"]["N"]) == now + 24 * 3600
    clock.advance(24 * 3600 + 1)
    assert container.sessions.get_session("s-1") is None


def test_rate_limit_admits_exactly_the_limit_under_200_parallel_requests(
    container: Container, clock: FixedClock, settings: Settings
):
    def hit(_: int) -> bool:
        return container.rate_limiter.hit("race-user", limit=50, window_s=3600).allowed

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(hit, range(200)))

    assert sum(results) == 50
    window_start = int(clock.now()) - int(clock.now()) % 3600
    item = raw_item(settings, "rate_limits", {"key": f"race-user#{window_start}"})
    assert int(item["expires_at"]["N"]) == window_start + 3600  # TTL = the window's end
    refused = container.rate_limiter.hit("race-user", limit=50, window_s=3600)
    assert not refused.allowed and refused.retry_after_s == window_start + 3600 - int(clock.now())

    clock.advance(3600)  # a new window admits again
    assert container.rate_limiter.hit("race-user", limit=50, window_s=3600).allowed


def test_two_admins_racing_for_one_slug_create_one_creator(container: Container):
    def create(i: int) -> bool:
        try:
            container.creators.create_creator(Creator(f"cr_race{i}", "race-slug", f"Racer {i}"))
        except Conflict:
            return False
        return True

    with ThreadPoolExecutor(max_workers=10) as pool:
        assert sum(pool.map(create, range(10))) == 1
    assert container.creators.get_creator_by_slug("race-slug") is not None


def test_content_version_bumps_atomically(container: Container):
    container.creators.create_creator(Creator("cr_ver", "ver-slug", "Ver"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: container.creators.bump_content_version("cr_ver"), range(20)))
    creator = container.creators.get_creator("cr_ver")
    assert creator is not None and creator.content_version == 20


def test_document_status_change_respects_expected_state(container: Container):
    now = int(container.clock.now())
    doc = Document("cr_doc", "doc_1", "T", DocumentKind.TEXT, "h", DocumentStatus.QUEUED, now, now)
    container.documents.put_document(doc)
    assert container.documents.set_status(
        "cr_doc", "doc_1", DocumentStatus.PROCESSING, expected=[DocumentStatus.QUEUED]
    )
    assert not container.documents.set_status(
        "cr_doc", "doc_1", DocumentStatus.PROCESSING, expected=[DocumentStatus.QUEUED]
    )
    assert container.documents.set_status(
        "cr_doc", "doc_1", DocumentStatus.FAILED, failure_reason="bad"
    )
    got = container.documents.get_document("cr_doc", "doc_1")
    assert got is not None and got.status is DocumentStatus.FAILED and got.failure_reason == "bad"
    # the same content hash is claimed once per creator
    assert container.documents.claim_content_hash("cr_doc", "abc", "doc_1") == "doc_1"
    assert container.documents.claim_content_hash("cr_doc", "abc", "doc_2") == "doc_1"


def test_erasing_a_user_removes_their_threads_and_nothing_else(container: Container):
    mine = new_thread(container, user="erase-me", first="secret")
    other = new_thread(container, user="keep-me", first="mine")

    assert container.threads.delete_user_data("erase-me") == 2
    assert container.threads.get_thread(mine.thread_id) is None
    assert [m.content for m in container.threads.list_messages(other.thread_id)] == ["mine"]


def test_a_retried_append_of_the_same_message_is_not_a_conflict(container: Container):
    t = new_thread(container, user="fan-retry", first="opening")
    m = message(container, t, "same question")
    container.threads.append_message(t, m)
    container.threads.append_message(t, m)  # botocore's retry after a timed-out first attempt
    assert [x.content for x in container.threads.list_messages(t.thread_id)] == [
        "opening",
        "same question",
    ]
    other = message(container, t, "different")
    other.message_id = m.message_id
    with pytest.raises(Conflict):
        container.threads.append_message(t, other)


def _throttle_puts(monkeypatch: pytest.MonkeyPatch, c: Container, when: str) -> None:
    """DynamoDB throttling on every put of the conversations table whose sort key is
    ``when`` ("META") or starts with it ("MSG#")."""
    table = c.threads._table
    real = table.put_item

    def put_item(**kwargs: Any) -> Any:
        if str(kwargs["Item"]["sk"]).startswith(when):
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "PutItem",
            )
        return real(**kwargs)

    monkeypatch.setattr(table, "put_item", put_item)


def test_a_new_thread_holds_its_first_message_and_counts_it(container: Container):
    t = new_thread(container, user="fan-new", first="is this on?")
    stored = container.threads.get_thread(t.thread_id)
    assert stored is not None and stored.message_count == 1 == t.message_count
    assert [m.content for m in container.threads.list_messages(t.thread_id)] == ["is this on?"]
    assert [x.thread_id for x in container.threads.list_threads("fan-new")] == [t.thread_id]


def test_a_thread_write_failing_after_its_first_message_leaves_no_empty_thread(
    container: Container, monkeypatch: pytest.MonkeyPatch
):
    now = int(container.clock.now())
    t = Thread(random_id("th_"), "fan-half", "cr_a", now, now, now + 3600)
    first = message(container, t, "lost in the middle")
    _throttle_puts(monkeypatch, container, "META")

    with pytest.raises(DependencyUnavailable):
        container.threads.create_thread(t, first)

    monkeypatch.undo()
    assert container.threads.list_threads("fan-half") == []
    assert container.threads.get_thread(t.thread_id) is None
    # and the message written before the thread is gone too (not just unreachable)
    assert (
        container.threads._get({"pk": f"THREAD#{t.thread_id}", "sk": f"MSG#{first.message_id}"})
        is None
    )


def test_a_message_write_failing_leaves_the_count_equal_to_the_messages(
    container: Container, monkeypatch: pytest.MonkeyPatch
):
    t = new_thread(container, user="fan-count", first="one")
    _throttle_puts(monkeypatch, container, "MSG#")

    with pytest.raises(DependencyUnavailable):
        container.threads.append_message(t, message(container, t, "two"))

    monkeypatch.undo()
    stored = container.threads.get_thread(t.thread_id)
    assert stored is not None
    assert stored.message_count == len(container.threads.list_messages(t.thread_id)) == 1


def test_a_retried_thread_creation_is_not_a_conflict(container: Container):
    now = int(container.clock.now())
    t = Thread(random_id("th_"), "fan-again", "cr_a", now, now, now + 3600)
    first = message(container, t, "hello twice")
    container.threads.create_thread(t, first)
    again = Thread(t.thread_id, "fan-again", "cr_a", now, now, now + 3600)
    container.threads.create_thread(again, first)  # botocore retried both writes
    stored = container.threads.get_thread(t.thread_id)
    assert stored is not None and stored.message_count == 1
    assert [m.content for m in container.threads.list_messages(t.thread_id)] == ["hello twice"]


def test_trending_shows_a_question_only_once_three_different_fans_asked_it(
    container: Container, settings: Settings
):
    store = container.trending
    assert store.min_askers == 3
    secret = "my neighbour anna keeps asking about her heart condition and espresso"
    for _ in range(5):  # one fan, many times: still one fan's question
        store.record_question("cr_t", "2026-W48", secret, "fan-a")
    store.record_question("cr_t", "2026-W48", "what grind for espresso", "fan-a")
    store.record_question("cr_t", "2026-W48", "what grind for espresso", "fan-b")
    assert store.top_questions("cr_t", "2026-W48", limit=10) == []

    store.record_question("cr_t", "2026-W48", "what grind for espresso", "fan-c")
    store.record_question("cr_t", "2026-W48", "what grind for espresso", "fan-a")
    assert store.top_questions("cr_t", "2026-W48", limit=10) == [("what grind for espresso", 4)]
    assert store.top_questions("cr_t", "2026-W49", limit=10) == []  # per week

    # the question one fan asked is nowhere in the table in words, only as hashes
    ddb = boto3.client("dynamodb")
    items = ddb.scan(TableName=settings.physical_name("table", "trending"))["Items"]
    assert items and not any("anna" in str(item) for item in items)

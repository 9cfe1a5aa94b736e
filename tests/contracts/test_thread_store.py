"""ThreadStore contract: a thread is its owner's, holds its messages in order, expires after
``thread_idle_ttl_s`` without activity (and with it everything in it), and erasure removes
all of a user's conversations and nothing of anyone else's."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.models import Citation, Feedback, Message, MessageStatus, Thread
from creator_chat.errors import Conflict, NotFound
from creator_chat.ids import sortable_id

from tests.contracts.conftest import uid

DAY = 24 * 3600


def blank_thread(c: Container, user: str | None = None, creator: str = "cr_a") -> Thread:
    now = int(c.clock.now())
    return Thread(
        uid("th_"), user or uid("fan-"), creator, now, now, now + c.settings.thread_idle_ttl_s
    )


def message(c: Container, t: Thread, text: str, role: str = "user", **fields: object) -> Message:
    return Message(
        sortable_id(c.clock.now()),
        t.thread_id,
        t.user_id,
        t.creator_id,
        role,
        text,
        int(c.clock.now()),
        **fields,  # type: ignore[arg-type]
    )


def new_thread(
    c: Container, user: str | None = None, first: str = "hello", creator: str = "cr_a"
) -> Thread:
    """A thread as the chat starts one: stored with its first message."""
    t = blank_thread(c, user, creator)
    c.threads.create_thread(t, message(c, t, first))
    return t


def texts(c: Container, t: Thread) -> list[str]:
    return [m.content for m in c.threads.list_messages(t.thread_id)]


# ------------------------------------------------------------------------------ creating
def test_a_new_thread_holds_its_first_message_and_counts_it(stores: Container):
    t = new_thread(stores, first="is this on?")

    assert t.message_count == 1
    stored = stores.threads.get_thread(t.thread_id)
    assert stored == t
    assert texts(stores, t) == ["is this on?"]
    assert [x.thread_id for x in stores.threads.list_threads(t.user_id)] == [t.thread_id]


def test_a_retried_create_is_idempotent(stores: Container):
    t = blank_thread(stores)
    first = message(stores, t, "hello twice")
    stores.threads.create_thread(t, first)

    again = Thread(t.thread_id, t.user_id, t.creator_id, t.created_at, t.created_at, t.expires_at)
    stores.threads.create_thread(again, first)  # the first attempt landed, its answer was lost

    stored = stores.threads.get_thread(t.thread_id)
    assert stored is not None and stored.message_count == 1
    assert texts(stores, t) == ["hello twice"]


def test_creating_a_thread_under_a_taken_id_is_a_conflict(stores: Container):
    t = new_thread(stores, first="mine")
    other = Thread(t.thread_id, uid("intruder-"), t.creator_id, t.created_at, 0, t.expires_at)

    with pytest.raises(Conflict):
        stores.threads.create_thread(other, message(stores, other, "yours now"))

    assert stores.threads.get_thread(t.thread_id) == t
    assert texts(stores, t) == ["mine"]
    assert stores.threads.list_threads(other.user_id) == []


def test_a_first_message_reusing_a_stored_message_id_with_other_content_is_a_conflict(
    stores: Container,
):
    t = blank_thread(stores)
    first = message(stores, t, "original")
    stores.threads.create_thread(t, first)
    again = Thread(t.thread_id, t.user_id, t.creator_id, t.created_at, t.created_at, t.expires_at)
    changed = message(stores, again, "edited")
    changed.message_id = first.message_id

    with pytest.raises(Conflict):
        stores.threads.create_thread(again, changed)
    assert texts(stores, t) == ["original"]


# ----------------------------------------------------------------------------- appending
def test_messages_come_back_in_order_and_recent_returns_the_last_n(stores: Container):
    t = new_thread(stores, first="m0")
    for i in range(1, 5):
        stores.threads.append_message(t, message(stores, t, f"m{i}"))

    assert texts(stores, t) == [f"m{i}" for i in range(5)]
    assert [m.content for m in stores.threads.list_messages(t.thread_id, limit=2)] == ["m0", "m1"]
    assert [m.content for m in stores.threads.recent_messages(t.thread_id, 2)] == ["m3", "m4"]
    assert [m.content for m in stores.threads.recent_messages(t.thread_id, 50)] == texts(stores, t)
    assert stores.threads.recent_messages(t.thread_id, 0) == []


def test_append_refreshes_the_threads_activity_expiry_and_count(
    stores: Container, clock: FixedClock
):
    t = new_thread(stores)
    clock.advance(3600)

    stores.threads.append_message(t, message(stores, t, "an hour later"))

    now = int(clock.now())
    expected = (now, now + stores.settings.thread_idle_ttl_s, 2)
    assert (t.last_activity_at, t.expires_at, t.message_count) == expected
    stored = stores.threads.get_thread(t.thread_id)
    assert stored is not None
    assert (stored.last_activity_at, stored.expires_at, stored.message_count) == expected


def test_a_fan_cannot_append_to_another_fans_thread(stores: Container):
    t = new_thread(stores, first="mine")
    intruder = message(stores, t, "mine now")
    intruder.user_id = uid("intruder-")

    with pytest.raises(NotFound):
        stores.threads.append_message(t, intruder)

    stored = stores.threads.get_thread(t.thread_id)
    assert stored is not None and stored.message_count == 1
    assert texts(stores, t) == ["mine"]
    assert stores.threads.find_message(intruder.message_id) is None


def test_appending_to_an_unknown_thread_is_not_found(stores: Container):
    t = blank_thread(stores)  # never stored
    with pytest.raises(NotFound):
        stores.threads.append_message(t, message(stores, t, "anyone there?"))
    assert stores.threads.get_thread(t.thread_id) is None


def test_a_retried_append_is_not_a_conflict_but_another_message_under_its_id_is(
    stores: Container,
):
    t = new_thread(stores, first="opening")
    m = message(stores, t, "same question")
    stores.threads.append_message(t, m)
    stores.threads.append_message(t, m)  # the first attempt landed, its answer was lost

    assert texts(stores, t) == ["opening", "same question"]
    other = message(stores, t, "different")
    other.message_id = m.message_id
    with pytest.raises(Conflict):
        stores.threads.append_message(t, other)
    assert texts(stores, t) == ["opening", "same question"]


def test_a_retried_append_counts_the_message_once(stores: Container):
    t = new_thread(stores)
    m = message(stores, t, "same question")
    stores.threads.append_message(t, m)
    stores.threads.append_message(t, m)

    stored = stores.threads.get_thread(t.thread_id)
    assert stored is not None and stored.message_count == 2 == len(texts(stores, t))


def test_concurrent_appends_count_every_message(stores: Container):
    t = new_thread(stores, first="start")

    def append(i: int) -> None:
        stores.threads.append_message(t, message(stores, t, f"parallel {i}"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(append, range(16)))

    stored = stores.threads.get_thread(t.thread_id)
    assert stored is not None and stored.message_count == 17 == len(texts(stores, t))


# ---------------------------------------------------------------------- single messages
def test_find_message_finds_a_message_by_its_id_alone(stores: Container):
    t = new_thread(stores)
    answer = message(stores, t, "the answer", role="assistant")
    stores.threads.append_message(t, answer)

    assert stores.threads.find_message(answer.message_id) == answer
    assert stores.threads.get_message(t.thread_id, answer.message_id) == answer
    assert stores.threads.find_message(uid("msg")) is None
    assert stores.threads.get_message(uid("th_"), answer.message_id) is None


def test_a_message_keeps_its_status_citations_and_text(stores: Container):
    t = new_thread(stores)
    pending = message(stores, t, "", role="assistant", status=MessageStatus.PENDING)
    stores.threads.append_message(t, pending)

    pending.status, pending.content = MessageStatus.ANSWERED, "Grind finer — «espresso» ☕"
    pending.citations = [
        Citation(1, "Espresso 101", "https://y.example/v?t=12", "finer", "doc1", "c1", 12.5),
        Citation(2, "The book", "https://b.example/p", "page", "doc2", "c2", page=7),
    ]
    pending.input_tokens, pending.output_tokens = 120, 30
    stores.threads.update_message(pending)

    stored = stores.threads.get_message(t.thread_id, pending.message_id)
    assert stored == pending
    assert stored is not None and stored.status is MessageStatus.ANSWERED
    assert all(isinstance(c, Citation) for c in stored.citations)


def test_updating_an_unknown_message_is_not_found(stores: Container):
    t = new_thread(stores)
    with pytest.raises(NotFound):
        stores.threads.update_message(message(stores, t, "never stored"))


def test_the_last_video_is_remembered(stores: Container):
    t = new_thread(stores)
    stores.threads.set_last_video(t.thread_id, "vid-42")

    stored = stores.threads.get_thread(t.thread_id)
    assert stored is not None and stored.last_video_id == "vid-42"


# ------------------------------------------------------------------------------- listing
def test_threads_are_listed_most_recently_active_first_and_only_the_users(
    stores: Container, clock: FixedClock
):
    user = uid("fan-")
    old = new_thread(stores, user, creator="cr_a")
    clock.advance(60)
    newer = new_thread(stores, user, creator="cr_b")
    clock.advance(60)
    stores.threads.append_message(old, message(stores, old, "back to the first"))
    new_thread(stores, uid("other-"), creator="cr_a")

    assert [x.thread_id for x in stores.threads.list_threads(user)] == [
        old.thread_id,
        newer.thread_id,
    ]
    assert [x.thread_id for x in stores.threads.list_threads(user, limit=1)] == [old.thread_id]


def test_find_latest_thread_is_the_users_most_recently_active_with_that_creator(
    stores: Container, clock: FixedClock
):
    user = uid("fan-")
    first = new_thread(stores, user, creator="cr_a")
    clock.advance(60)
    second = new_thread(stores, user, creator="cr_a")
    clock.advance(60)
    new_thread(stores, user, creator="cr_b")

    latest = stores.threads.find_latest_thread(user, "cr_a")
    assert latest is not None and latest.thread_id == second.thread_id

    clock.advance(60)
    stores.threads.append_message(first, message(stores, first, "again"))
    latest = stores.threads.find_latest_thread(user, "cr_a")
    assert latest is not None and latest.thread_id == first.thread_id
    assert stores.threads.find_latest_thread(user, "cr_nobody") is None
    assert stores.threads.find_latest_thread(uid("fan-"), "cr_a") is None


# -------------------------------------------------------------------------------- expiry
def test_expired_thread_reads_as_absent(stores: Container, clock: FixedClock):
    t = new_thread(stores)
    m = message(stores, t, "hi")
    stores.threads.append_message(t, m)

    clock.advance(stores.settings.thread_idle_ttl_s - 1)
    assert stores.threads.get_thread(t.thread_id) is not None
    clock.advance(1)  # expires_at is the first second it is gone

    assert stores.threads.get_thread(t.thread_id) is None
    assert stores.threads.list_threads(t.user_id) == []
    assert stores.threads.find_latest_thread(t.user_id, t.creator_id) is None
    assert stores.threads.list_messages(t.thread_id) == []
    assert stores.threads.recent_messages(t.thread_id, 10) == []
    assert stores.threads.get_message(t.thread_id, m.message_id) is None
    assert stores.threads.find_message(m.message_id) is None
    with pytest.raises(NotFound):
        stores.threads.append_message(t, message(stores, t, "too late"))


def test_an_active_thread_keeps_its_old_messages_alive(stores: Container, clock: FixedClock):
    t = new_thread(stores, first="first question")
    for _ in range(9):  # a message a day for 9 days: older than the 7-day idle TTL
        clock.advance(DAY)
        stores.threads.append_message(t, message(stores, t, "daily"))

    assert texts(stores, t)[0] == "first question"
    assert len(texts(stores, t)) == 10


def test_no_message_expires_before_its_thread(stores: Container, clock: FixedClock):
    t = new_thread(stores, first="first question")
    clock.advance(DAY * 9 // 10)
    stores.threads.append_message(t, message(stores, t, "later the same day"))

    clock.advance(stores.settings.thread_idle_ttl_s - DAY // 2)  # the thread is still live

    assert stores.threads.get_thread(t.thread_id) is not None
    assert texts(stores, t) == ["first question", "later the same day"]


# ------------------------------------------------------------------------------ feedback
def rate(c: Container, m: Message, rating: str, comment: str = "") -> Feedback:
    fb = Feedback(m.message_id, m.user_id, m.creator_id, m.thread_id, rating, comment, 7)
    c.threads.put_feedback(fb)
    return fb


def test_feedback_is_listed_for_its_user_and_rating_again_replaces_it(stores: Container):
    t = new_thread(stores)
    answer = message(stores, t, "the answer", role="assistant")
    stores.threads.append_message(t, answer)

    rate(stores, answer, "down", "meh")
    again = rate(stores, answer, "up", "actually great")

    assert stores.threads.list_feedback(t.user_id) == [again]
    assert stores.threads.list_feedback(uid("fan-")) == []


def test_rating_again_returns_the_rating_it_replaced(stores: Container):
    t = new_thread(stores)
    answer = message(stores, t, "the answer", role="assistant")
    stores.threads.append_message(t, answer)
    first = Feedback(answer.message_id, t.user_id, t.creator_id, t.thread_id, "down", "meh", 7)

    assert stores.threads.put_feedback(first) is None
    again = Feedback(answer.message_id, t.user_id, t.creator_id, t.thread_id, "up", "", 9)
    assert stores.threads.put_feedback(again) == first
    assert stores.threads.put_feedback(again) == again


def test_feedback_on_an_expired_thread_is_not_found(stores: Container, clock: FixedClock):
    t = new_thread(stores)
    answer = message(stores, t, "the answer", role="assistant")
    stores.threads.append_message(t, answer)
    clock.advance(stores.settings.thread_idle_ttl_s)

    with pytest.raises(NotFound):
        rate(stores, answer, "up")


def test_feedback_expires_with_its_thread(stores: Container, clock: FixedClock):
    t = new_thread(stores)
    answer = message(stores, t, "the answer", role="assistant")
    stores.threads.append_message(t, answer)
    rate(stores, answer, "up")

    clock.advance(DAY)
    stores.threads.append_message(t, message(stores, t, "a day later"))
    clock.advance(stores.settings.thread_idle_ttl_s - 1)
    assert len(stores.threads.list_feedback(t.user_id)) == 1  # kept alive by the activity

    clock.advance(1)
    assert stores.threads.list_feedback(t.user_id) == []


# -------------------------------------------------------------------- the user's messages
def test_list_user_messages_returns_every_message_of_the_users_live_threads_only(
    stores: Container, clock: FixedClock
):
    user, other = uid("export-me-"), uid("not-me-")
    gone = new_thread(stores, user, first="expired long ago")
    clock.advance(stores.settings.thread_idle_ttl_s + 1)
    threads = [new_thread(stores, user, first=f"question {i}") for i in range(3)]
    for i, t in enumerate(threads):
        for k in range(i + 1):
            stores.threads.append_message(t, message(stores, t, f"answer {i}.{k}", "assistant"))
    theirs = new_thread(stores, other, first="someone else's")

    got = stores.threads.list_user_messages(user)

    # the same messages the per-thread reads return, by thread id then oldest first
    expected = [
        m
        for t in sorted(threads, key=lambda t: t.thread_id)
        for m in stores.threads.list_messages(t.thread_id)
    ]
    assert got == expected
    assert len(got) == 3 + 1 + 2 + 3
    assert {m.thread_id for m in got} == {t.thread_id for t in threads}
    assert gone.thread_id not in {m.thread_id for m in got}
    assert [m.content for m in stores.threads.list_user_messages(other)] == ["someone else's"]
    assert theirs.thread_id not in {m.thread_id for m in got}
    assert stores.threads.list_user_messages(uid("nobody-")) == []


def test_list_user_messages_keeps_status_and_citations_and_follows_expiry(
    stores: Container, clock: FixedClock
):
    t = new_thread(stores, first="what grind?")
    cited = message(
        stores,
        t,
        "fine",
        "assistant",
        status=MessageStatus.PENDING,
        citations=[Citation(1, "Grinder", "https://x.test/v?t=5", "snippet", start_s=5.0)],
    )
    stores.threads.append_message(t, cited)
    cited.status = MessageStatus.ANSWERED
    stores.threads.update_message(cited)

    assert stores.threads.list_user_messages(t.user_id)[-1] == cited

    clock.advance(stores.settings.thread_idle_ttl_s)
    assert stores.threads.list_user_messages(t.user_id) == []


def test_the_users_messages_and_feedback_across_many_threads(stores: Container):
    # past one page of a batch read (100 keys) on DynamoDB
    user = uid("many-")
    threads = [new_thread(stores, user, first=f"q{i}") for i in range(60)]
    ratings = []
    for t in threads:
        answer = message(stores, t, f"a for {t.thread_id}", "assistant")
        stores.threads.append_message(t, answer)
        ratings.append(rate(stores, answer, "up"))

    got = stores.threads.list_user_messages(user)
    assert len(got) == 120
    assert [m.thread_id for m in got] == sorted(m.thread_id for m in got)
    assert sorted(stores.threads.list_feedback(user), key=lambda f: f.message_id) == sorted(
        ratings, key=lambda f: f.message_id
    )


# ------------------------------------------------------------------------------- erasure
def test_erasure_removes_every_thread_message_and_feedback_of_the_user_only(
    stores: Container, clock: FixedClock
):
    user, other = uid("erase-me-"), uid("keep-me-")
    expired = new_thread(stores, user, first="long ago")
    clock.advance(stores.settings.thread_idle_ttl_s + 1)
    live = new_thread(stores, user, first="secret")
    answer = message(stores, live, "the answer", role="assistant")
    stores.threads.append_message(live, answer)
    rate(stores, answer, "up")
    kept = new_thread(stores, other, first="mine")
    kept_answer = message(stores, kept, "yours", role="assistant")
    stores.threads.append_message(kept, kept_answer)
    kept_rating = rate(stores, kept_answer, "down")

    # live: thread, 2 messages, 1 rating; expired: thread, 1 message
    assert stores.threads.delete_user_data(user) == 6

    assert stores.threads.list_threads(user) == []
    assert stores.threads.get_thread(live.thread_id) is None
    assert stores.threads.find_message(answer.message_id) is None
    assert stores.threads.list_feedback(user) == []
    assert texts(stores, kept) == ["mine", "yours"]
    assert stores.threads.list_feedback(other) == [kept_rating]
    # the expired thread is really gone, not just hidden: its id is free again
    reused = Thread(expired.thread_id, other, "cr_a", int(clock.now()), 0, live.expires_at)
    stores.threads.create_thread(reused, message(stores, reused, "a new start"))
    assert texts(stores, reused) == ["a new start"]
    assert stores.threads.delete_user_data(user) == 0

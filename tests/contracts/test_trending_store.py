"""TrendingStore contract: a question shows only once enough different fans asked it (and its
words are stored only then), per creator and week, ranked, and gone after the retention."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from creator_chat.adapters.aws.dynamodb.trending import TRENDING_RETENTION_S
from creator_chat.clock import FixedClock
from creator_chat.container import Container

from tests.contracts.conftest import uid

WEEK = "2027-W05"


@pytest.fixture(autouse=True)
def _three_fans(stores: Container) -> None:
    assert stores.settings.trending_min_askers == 3


def ask(stores: Container, creator: str, question: str, *fans: str, week: str = WEEK) -> None:
    for fan in fans:
        stores.trending.record_question(creator, week, question, fan)


def stored_text(stores: Container) -> str:
    """Everything the trending tables hold, as one string."""
    if stores.embedded:
        rows = stores.database.query("SELECT * FROM trending_questions")
        rows += stores.database.query("SELECT * FROM trending_askers")
        return repr([tuple(r) for r in rows])
    table = stores.settings.physical_name("table", "trending")
    return repr(boto3.client("dynamodb").scan(TableName=table)["Items"])


def test_trending_hides_a_question_until_three_fans_asked(stores: Container):
    creator = uid("cr_")
    ask(stores, creator, "what grind for espresso", "fan-a", "fan-b")
    assert stores.trending.top_questions(creator, WEEK, limit=10) == []

    ask(stores, creator, "what grind for espresso", "fan-c")

    assert stores.trending.top_questions(creator, WEEK, limit=10) == [
        ("what grind for espresso", 3)
    ]


def test_one_fan_asking_three_times_counts_once(stores: Container):
    creator = uid("cr_")
    ask(stores, creator, "is my grinder broken", "fan-a", "fan-a", "fan-a", "fan-b")
    assert stores.trending.top_questions(creator, WEEK, limit=10) == []

    ask(stores, creator, "is my grinder broken", "fan-c")

    # shown once three fans asked; every asking counts towards its rank
    assert stores.trending.top_questions(creator, WEEK, limit=10) == [("is my grinder broken", 5)]


def test_a_question_too_few_fans_asked_leaves_no_words_behind(stores: Container):
    creator, secret = uid("cr_"), uid("anna-heart-condition-")
    ask(stores, creator, f"my neighbour {secret} asks about espresso", "fan-a", "fan-a", "fan-b")
    shared = uid("shared-")
    ask(stores, creator, f"what about {shared}", "fan-a", "fan-b", "fan-c")

    text = stored_text(stores)
    assert secret not in text
    assert shared in text  # the check itself can see words that are stored


def test_parallel_askers_are_each_counted_once(stores: Container):
    creator = uid("cr_")
    fans = ["fan-a", "fan-b", "fan-c"] * 4

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda fan: ask(stores, creator, "tamping pressure", fan), fans))

    assert stores.trending.top_questions(creator, WEEK, limit=10) == [("tamping pressure", 12)]


def test_questions_are_ranked_by_count_then_alphabetically_up_to_the_limit(stores: Container):
    creator = uid("cr_")
    fans = ("fan-a", "fan-b", "fan-c")
    ask(stores, creator, "b question", *fans)
    ask(stores, creator, "a question", *fans)
    ask(stores, creator, "most asked", *fans, "fan-d")
    ask(stores, creator, "c question", *fans)

    assert stores.trending.top_questions(creator, WEEK, limit=3) == [
        ("most asked", 4),
        ("a question", 3),
        ("b question", 3),
    ]
    assert stores.trending.top_questions(creator, WEEK, limit=0) == []


def test_questions_are_counted_per_creator_and_week(stores: Container):
    creator, other = uid("cr_"), uid("cr_")
    ask(stores, creator, "milk steaming", "fan-a", "fan-b")
    ask(stores, other, "milk steaming", "fan-c")
    ask(stores, creator, "milk steaming", "fan-c", week="2027-W06")

    assert stores.trending.top_questions(creator, WEEK, limit=10) == []
    assert stores.trending.top_questions(other, WEEK, limit=10) == []
    assert stores.trending.top_questions(creator, "2027-W06", limit=10) == []


def test_a_long_question_is_kept_to_its_first_200_characters(stores: Container):
    creator = uid("cr_")
    long = "why " * 100
    ask(stores, creator, long, "fan-a", "fan-b", "fan-c")

    assert stores.trending.top_questions(creator, WEEK, limit=1) == [(long[:200], 3)]


def test_trending_questions_expire_after_the_retention(stores: Container, clock: FixedClock):
    creator = uid("cr_")
    ask(stores, creator, "descaling", "fan-a", "fan-b", "fan-c")
    clock.advance(TRENDING_RETENTION_S - 1)
    assert stores.trending.top_questions(creator, WEEK, limit=10) == [("descaling", 3)]

    clock.advance(1)

    assert stores.trending.top_questions(creator, WEEK, limit=10) == []


def test_a_week_secret_is_stable_within_its_week_and_discarded_after(
    stores: Container, clock: FixedClock
):
    week, later = uid("W-"), uid("W-")
    until = int(clock.now()) + 3600
    secret = stores.trending.week_secret(week, expires_at=until)

    assert len(secret) == 32
    assert stores.trending.week_secret(week, expires_at=until + 99) == secret
    assert stores.trending.week_secret(later, expires_at=until + 7 * 86400) != secret

    clock.advance(3600)  # the week is over: nobody gets its key back, not even by asking
    assert stores.trending.week_secret(week, expires_at=until + 7200) != secret


def test_concurrent_first_askers_agree_on_the_week_secret(stores: Container, clock: FixedClock):
    week = uid("W-")
    until = int(clock.now()) + 3600
    with ThreadPoolExecutor(max_workers=6) as pool:
        keys = set(
            pool.map(lambda _: stores.trending.week_secret(week, expires_at=until), range(6))
        )
    assert len(keys) == 1

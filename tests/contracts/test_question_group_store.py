"""QuestionGroupStore contract: questions of one meaning share a group; a group's words are
stored — and it is listed — only once three different fans asked it within one week; a fan
counts once a week; per creator and kind; last asked first; gone 90 days after its last
asking."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.insights import INSIGHTS_RETENTION_S, QuestionGroup

from tests.contracts.conftest import uid

WEEK = "2027-W03"
GAP = "gap"


@pytest.fixture(autouse=True)
def _three_fans(stores: Container) -> None:
    assert stores.question_groups.min_fans == 3
    assert stores.settings.gap_similarity == pytest.approx(0.72)


def direction(*weights: float, dim: int = 8) -> list[float]:
    """A unit vector with ``weights`` in its first components."""
    v = [*weights, *([0.0] * (dim - len(weights)))]
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


GRIND = direction(1.0)
GRIND_AGAIN = direction(1.0, 0.4)  # cosine 0.93 with GRIND: the same question
MILK = direction(0.0, 0.0, 1.0)  # orthogonal: another question
BORDERLINE = direction(1.0, 0.0, 0.0, 1.0)  # cosine 0.71 with GRIND: under the threshold


def ask(
    stores: Container,
    creator: str,
    vector: list[float],
    question: str,
    *fans: str,
    week: str = WEEK,
    kind: str = GAP,
) -> str:
    until = int(stores.clock.now()) + 7 * 86400
    ids = {
        stores.question_groups.record(
            creator, kind, vector, question, week=week, asker=fan, asker_expires_at=until
        )
        for fan in fans
    }
    assert len(ids) == 1
    return ids.pop()


def listed(stores: Container, creator: str, kind: str = GAP) -> list[tuple[str | None, int, int]]:
    return [
        (g.question, g.fans, g.asked)
        for g in stores.question_groups.list_groups(creator, kind, limit=50)
    ]


def stored_text(stores: Container) -> str:
    if stores.embedded:
        rows = stores.database.query("SELECT * FROM question_groups")
        rows += stores.database.query("SELECT * FROM question_group_askers")
        return repr([tuple(r) for r in rows])
    table = stores.settings.physical_name("table", "question_groups")
    return repr(boto3.client("dynamodb").scan(TableName=table)["Items"])


def test_a_group_is_listed_only_once_three_fans_asked(stores: Container):
    creator = uid("cr_")
    ask(stores, creator, GRIND, "Which grind for espresso?", "fan-a", "fan-b")
    assert listed(stores, creator) == []

    ask(stores, creator, GRIND, "Which grind for espresso?", "fan-c")

    assert listed(stores, creator) == [("Which grind for espresso?", 3, 3)]


def test_near_questions_share_a_group_and_far_ones_do_not(stores: Container):
    creator = uid("cr_")
    first = ask(stores, creator, GRIND, "Which grind for espresso?", "fan-a")
    again = ask(stores, creator, GRIND_AGAIN, "What grind size do I need for espresso?", "fan-b")
    other = ask(stores, creator, MILK, "How do I steam oat milk?", "fan-c")
    under = ask(stores, creator, BORDERLINE, "Which grinder should I buy?", "fan-d")

    assert first == again
    assert len({first, other, under}) == 3


def test_the_words_shown_are_those_of_the_fan_who_made_it_three(stores: Container):
    creator = uid("cr_")
    ask(stores, creator, GRIND, "grind for espresso", "fan-a")
    ask(stores, creator, GRIND_AGAIN, "espresso grind size", "fan-b")
    ask(stores, creator, GRIND, "What grind for espresso, please?", "fan-c")
    ask(stores, creator, GRIND_AGAIN, "fourth wording", "fan-d")

    assert listed(stores, creator) == [("What grind for espresso, please?", 4, 4)]


def test_one_fan_asking_again_counts_once_but_every_asking_is_counted(stores: Container):
    creator = uid("cr_")
    ask(stores, creator, GRIND, "grind?", "fan-a", "fan-a", "fan-a", "fan-b")
    assert listed(stores, creator) == []

    ask(stores, creator, GRIND, "grind?", "fan-c")

    assert listed(stores, creator) == [("grind?", 3, 5)]


def test_fans_of_different_weeks_do_not_add_up(stores: Container):
    """A fan is recognised only within a week (its pseudonym changes with the week's key):
    two fans one week and one the next could be two fans, so nothing is shown."""
    creator = uid("cr_")
    ask(stores, creator, GRIND, "grind?", "fan-a", "fan-b", week="2027-W03")
    ask(stores, creator, GRIND, "grind?", "fan-c", week="2027-W04")
    assert listed(stores, creator) == []

    ask(stores, creator, GRIND, "grind?", "fan-d", "fan-e", week="2027-W04")
    ask(stores, creator, GRIND, "grind?", "fan-f", "fan-g", "fan-h", "fan-i", week="2027-W05")
    ask(stores, creator, GRIND, "grind?", "fan-j", week="2027-W06")

    # its busiest week's fans, every asking
    assert listed(stores, creator) == [("grind?", 4, 10)]


def test_a_question_too_few_fans_asked_leaves_no_words_behind(stores: Container):
    creator, secret = uid("cr_"), uid("my-address-is-")
    ask(stores, creator, MILK, f"can you ship to {secret}?", "fan-a", "fan-a", "fan-b")
    shared = uid("shared-")
    ask(stores, creator, GRIND, f"what about {shared}", "fan-a", "fan-b", "fan-c")

    text = stored_text(stores)
    assert secret not in text
    assert shared in text  # the check itself can see words that are stored


def test_groups_are_kept_per_creator_and_kind(stores: Container):
    creator, other = uid("cr_"), uid("cr_")
    ask(stores, creator, GRIND, "grind?", "fan-a", "fan-b")
    ask(stores, other, GRIND, "grind?", "fan-c")
    ask(stores, creator, GRIND, "grind?", "fan-c", kind="down")

    assert listed(stores, creator) == []
    assert listed(stores, other) == []
    assert listed(stores, creator, "down") == []


def test_groups_are_listed_last_asked_first_up_to_the_limit(stores: Container, clock: FixedClock):
    creator = uid("cr_")
    fans = ("fan-a", "fan-b", "fan-c")
    ask(stores, creator, GRIND, "grind?", *fans)
    clock.advance(10)
    ask(stores, creator, MILK, "milk?", *fans)
    clock.advance(10)
    ask(stores, creator, GRIND_AGAIN, "grind again?", "fan-d")  # joins "grind?"

    groups = stores.question_groups.list_groups(creator, GAP, limit=50)
    assert [g.question for g in groups] == ["grind?", "milk?"]
    assert groups[0].last_asked_at == int(clock.now())
    assert isinstance(groups[0], QuestionGroup) and groups[0].group_id
    assert [g.question for g in stores.question_groups.list_groups(creator, GAP, limit=1)] == [
        "grind?"
    ]


def test_a_long_question_is_kept_to_its_first_200_characters(stores: Container):
    creator = uid("cr_")
    long = "why " * 100
    ask(stores, creator, GRIND, long, "fan-a", "fan-b", "fan-c")

    assert listed(stores, creator) == [(long[:200], 3, 3)]


def test_a_group_expires_90_days_after_its_last_asking(stores: Container, clock: FixedClock):
    creator = uid("cr_")
    ask(stores, creator, GRIND, "grind?", "fan-a", "fan-b", "fan-c")
    clock.advance(INSIGHTS_RETENTION_S - 1)
    assert listed(stores, creator) == [("grind?", 3, 3)]

    clock.advance(1)
    assert listed(stores, creator) == []

    # asked again afterwards, it starts from nothing
    ask(stores, creator, GRIND, "grind?", "fan-a", week="2027-W20")
    assert listed(stores, creator) == []


def test_parallel_askers_are_each_counted_once(stores: Container):
    creator = uid("cr_")
    ask(stores, creator, GRIND, "tamping pressure", "fan-z")
    fans = ["fan-a", "fan-b", "fan-c"] * 4

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda fan: ask(stores, creator, GRIND, "tamping pressure", fan), fans))

    assert listed(stores, creator) == [("tamping pressure", 4, 13)]

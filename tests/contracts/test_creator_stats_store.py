"""CreatorStatsStore contract: counters per (creator, UTC day) only add up (also from many
requests at once), negative counts take back, a range is read inclusively, and a day is gone
90 days after it ended."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.insights import INSIGHTS_RETENTION_S, day_end, day_of

from tests.contracts.conftest import uid


def test_counters_add_up_per_day(stores: Container, clock: FixedClock):
    creator, today = uid("cr_"), day_of(clock.now())
    stores.creator_stats.add(creator, today, {"questions": 1, "answered": 1, "ms_100": 1})
    stores.creator_stats.add(creator, today, {"questions": 1, "not_found": 1, "ms_100": 1})
    stores.creator_stats.add(creator, today, {"cached": 0})  # nothing to add: no change

    assert stores.creator_stats.days(creator, today, today) == {
        today: {"questions": 2, "answered": 1, "not_found": 1, "ms_100": 2}
    }


def test_a_negative_count_takes_back(stores: Container, clock: FixedClock):
    creator, today = uid("cr_"), day_of(clock.now())
    stores.creator_stats.add(creator, today, {"rated_up": 2})
    stores.creator_stats.add(creator, today, {"rated_up": -1, "rated_down": 1})

    assert stores.creator_stats.days(creator, today, today) == {
        today: {"rated_up": 1, "rated_down": 1}
    }


def test_a_range_is_read_inclusively_and_per_creator(stores: Container):
    creator, other = uid("cr_"), uid("cr_")
    for day in ("2027-01-09", "2027-01-10", "2027-01-11", "2027-01-12"):
        stores.creator_stats.add(creator, day, {"questions": int(day[-2:])})
    stores.creator_stats.add(other, "2027-01-10", {"questions": 99})

    assert stores.creator_stats.days(creator, "2027-01-10", "2027-01-11") == {
        "2027-01-10": {"questions": 10},
        "2027-01-11": {"questions": 11},
    }
    assert stores.creator_stats.days(uid("cr_"), "2027-01-01", "2027-01-31") == {}


def test_parallel_adds_lose_nothing(stores: Container, clock: FixedClock):
    creator, today = uid("cr_"), day_of(clock.now())

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda _: stores.creator_stats.add(creator, today, {"questions": 1, "ms_50": 1}),
                range(40),
            )
        )

    assert stores.creator_stats.days(creator, today, today) == {
        today: {"questions": 40, "ms_50": 40}
    }


def test_a_day_expires_90_days_after_it_ended(stores: Container, clock: FixedClock):
    creator, today = uid("cr_"), day_of(clock.now())
    stores.creator_stats.add(creator, today, {"questions": 3})
    clock.advance(day_end(today) + INSIGHTS_RETENTION_S - 1 - clock.now())
    assert stores.creator_stats.days(creator, today, today) == {today: {"questions": 3}}

    clock.advance(1)

    assert stores.creator_stats.days(creator, today, today) == {}

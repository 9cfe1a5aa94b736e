"""UsageStore contract: usage per user and month that only adds up, profiles, erasure."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from creator_chat.container import Container
from creator_chat.domain.models import FanProfile, Usage

from tests.contracts.conftest import uid


def test_usage_adds_up_across_calls(stores: Container):
    user = uid("u")
    stores.users.add_usage(user, "2027-01", requests=1, input_tokens=100, output_tokens=20)
    stores.users.add_usage(user, "2027-01", requests=2, input_tokens=50, output_tokens=5)

    assert stores.users.get_usage(user, "2027-01") == Usage(user, "2027-01", 3, 150, 25)


def test_usage_nobody_recorded_is_zero(stores: Container):
    user = uid("u")
    assert stores.users.get_usage(user, "2027-01") == Usage(user, "2027-01", 0, 0, 0)
    assert stores.users.list_usage(user) == []


def test_parallel_answers_never_lose_a_count(stores: Container):
    user = uid("u")

    def add(_: int) -> None:
        stores.users.add_usage(user, "2027-02", requests=1, input_tokens=10, output_tokens=1)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(add, range(30)))

    assert stores.users.get_usage(user, "2027-02") == Usage(user, "2027-02", 30, 300, 30)


def test_usage_is_kept_per_month_and_listed_oldest_first(stores: Container):
    user, other = uid("u"), uid("u")
    stores.users.add_usage(user, "2027-03", requests=1, input_tokens=3, output_tokens=3)
    stores.users.add_usage(user, "2026-12", requests=1, input_tokens=1, output_tokens=1)
    stores.users.add_usage(other, "2027-01", requests=9, input_tokens=9, output_tokens=9)

    assert stores.users.list_usage(user) == [
        Usage(user, "2026-12", 1, 1, 1),
        Usage(user, "2027-03", 1, 3, 3),
    ]


def test_a_profile_round_trips_and_a_new_one_replaces_it(stores: Container):
    user = uid("u")
    assert stores.users.get_profile(user) is None
    first = FanProfile(user, "Espresso Lab", 1200, "reviews", "grow", "a grinder", 1)
    stores.users.put_profile(first)
    assert stores.users.get_profile(user) == first

    second = FanProfile(user, channel_name="Espresso Lab 2", updated_at=2)
    stores.users.put_profile(second)

    assert stores.users.get_profile(user) == second


def test_deleting_a_user_removes_its_profile_and_usage_and_nothing_else(stores: Container):
    user, other = uid("u"), uid("u")
    for u in (user, other):
        stores.users.put_profile(FanProfile(u, channel_name=u))
        stores.users.add_usage(u, "2027-01", requests=1, input_tokens=1, output_tokens=1)
    stores.users.add_usage(user, "2027-02", requests=1, input_tokens=1, output_tokens=1)

    assert stores.users.delete_user(user) == 3

    assert stores.users.get_profile(user) is None
    assert stores.users.list_usage(user) == []
    assert stores.users.get_profile(other) == FanProfile(other, channel_name=other)
    assert stores.users.list_usage(other) == [Usage(other, "2027-01", 1, 1, 1)]
    assert stores.users.delete_user(user) == 0

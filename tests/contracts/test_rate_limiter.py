"""RateLimiter contract: fixed windows, exact admission under concurrency, per-user erasure."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from creator_chat.clock import FixedClock
from creator_chat.container import Container

from tests.contracts.conftest import uid

HOUR = 3600


def window_end(clock: FixedClock, window_s: int = HOUR) -> int:
    now = int(clock.now())
    return now - now % window_s + window_s


def test_sixty_parallel_hits_admit_exactly_the_limit(stores: Container):
    key = f"chat:{uid('race')}"

    def hit(_: int) -> bool:
        return stores.rate_limiter.hit(key, limit=25, window_s=HOUR).allowed

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(hit, range(60)))

    assert sum(results) == 25
    assert not stores.rate_limiter.hit(key, limit=25, window_s=HOUR).allowed


def test_each_admission_counts_down_and_a_refusal_says_when_to_retry(
    stores: Container, clock: FixedClock
):
    key = f"chat:{uid()}"
    clock.advance(600)  # ten minutes into the window
    reset = window_end(clock)

    decisions = [stores.rate_limiter.hit(key, limit=3, window_s=HOUR) for _ in range(4)]

    assert [(d.allowed, d.remaining) for d in decisions] == [
        (True, 2),
        (True, 1),
        (True, 0),
        (False, 0),
    ]
    assert {d.limit for d in decisions} == {3}
    assert {d.reset_epoch for d in decisions} == {reset}
    assert [d.retry_after_s for d in decisions] == [0, 0, 0, reset - int(clock.now())]


def test_a_refusal_in_the_last_second_still_waits_at_least_one_second(
    stores: Container, clock: FixedClock
):
    key = f"chat:{uid()}"
    clock.advance(window_end(clock) - int(clock.now()) - 1)
    stores.rate_limiter.hit(key, limit=1, window_s=HOUR)

    refused = stores.rate_limiter.hit(key, limit=1, window_s=HOUR)

    assert not refused.allowed and refused.retry_after_s == 1


def test_a_new_window_admits_again(stores: Container, clock: FixedClock):
    key = f"chat:{uid()}"
    for _ in range(2):
        stores.rate_limiter.hit(key, limit=2, window_s=HOUR)
    assert not stores.rate_limiter.hit(key, limit=2, window_s=HOUR).allowed

    clock.advance(HOUR)

    fresh = stores.rate_limiter.hit(key, limit=2, window_s=HOUR)
    assert fresh.allowed and fresh.remaining == 1
    assert fresh.reset_epoch == window_end(clock)


def test_keys_have_separate_counters(stores: Container):
    one, other = f"chat:{uid()}", f"chat:{uid()}"
    assert stores.rate_limiter.hit(one, limit=1, window_s=HOUR).allowed
    assert not stores.rate_limiter.hit(one, limit=1, window_s=HOUR).allowed

    assert stores.rate_limiter.hit(other, limit=1, window_s=HOUR).allowed


def test_erasing_a_users_counters_resets_its_quota(stores: Container, clock: FixedClock):
    user = uid("u")
    stores.rate_limiter.hit(f"chat:{user}", limit=1, window_s=HOUR)
    clock.advance(HOUR)  # a second window: two counters
    stores.rate_limiter.hit(f"chat:{user}", limit=1, window_s=HOUR)

    assert stores.rate_limiter.delete_user_counters(user) == 2

    again = stores.rate_limiter.hit(f"chat:{user}", limit=1, window_s=HOUR)
    assert again.allowed and again.remaining == 0
    assert stores.rate_limiter.delete_user_counters(uid("nobody")) == 0


def test_erasing_one_users_counters_keeps_a_user_whose_id_extends_it(stores: Container):
    short = uid("u")
    longer = short + "c"
    stores.rate_limiter.hit(f"chat:{short}", limit=5, window_s=HOUR)
    stores.rate_limiter.hit(f"chat:{longer}", limit=5, window_s=HOUR)

    assert stores.rate_limiter.delete_user_counters(short) == 1

    kept = stores.rate_limiter.hit(f"chat:{longer}", limit=5, window_s=HOUR)
    assert kept.remaining == 3  # its first hit still counts


def test_wildcards_in_a_user_id_match_only_themselves(stores: Container):
    base = uid("u")
    underscore, percent, neighbour = base + "_", base + "%", base + "x"
    for user in (underscore, percent, neighbour):
        stores.rate_limiter.hit(f"chat:{user}", limit=5, window_s=HOUR)
    stores.rate_limiter.hit(f"chat:{neighbour}yz", limit=5, window_s=HOUR)

    assert stores.rate_limiter.delete_user_counters(underscore) == 1
    assert stores.rate_limiter.delete_user_counters(percent) == 1

    assert stores.rate_limiter.hit(f"chat:{neighbour}", limit=5, window_s=HOUR).remaining == 3
    assert stores.rate_limiter.hit(f"chat:{neighbour}yz", limit=5, window_s=HOUR).remaining == 3


def test_erasure_leaves_other_limiters_of_the_user_alone(stores: Container):
    user = uid("u")
    stores.rate_limiter.hit(f"chat:{user}", limit=5, window_s=HOUR)
    stores.rate_limiter.hit(f"upload:{user}", limit=5, window_s=HOUR)

    assert stores.rate_limiter.delete_user_counters(user) == 1

    assert stores.rate_limiter.hit(f"upload:{user}", limit=5, window_s=HOUR).remaining == 3

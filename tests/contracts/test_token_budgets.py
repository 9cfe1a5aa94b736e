"""UsageStore contract, the monthly token budget: atomic reservations that admit exactly as
many answers as fit, settled or released once, expired holds given back, erasure."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.models import BudgetDecision, Usage

from tests.contracts.conftest import uid

MONTH = "2027-01"
HOLD = 700  # tokens one answer reserves in these tests


def reserve(
    stores: Container,
    user: str,
    *,
    budget: int,
    tokens: int = HOLD,
    month: str = MONTH,
    expires_at: int = 2_000_000_000,
) -> BudgetDecision:
    return stores.users.reserve_tokens(
        user, month, hold_id=uid("h"), tokens=tokens, budget=budget, expires_at=expires_at
    )


def test_a_hundred_parallel_reservations_admit_exactly_as_many_as_fit(stores: Container):
    # Given a budget with room for exactly 12 answers (and a bit, never enough for a 13th)
    user, fits = uid("u"), 12
    budget = fits * HOLD + HOLD - 1

    # When 100 questions reserve at once
    with ThreadPoolExecutor(max_workers=100) as pool:
        decisions = list(pool.map(lambda _: reserve(stores, user, budget=budget), range(100)))

    # Then exactly 12 hold tokens, and what is held never passes the budget
    admitted = [d.hold for d in decisions if d.allowed and d.hold is not None]
    assert len(admitted) == fits
    assert len({h.hold_id for h in admitted}) == fits
    assert all(d.reserved <= budget for d in decisions)
    usage = stores.users.get_usage(user, MONTH)
    assert (usage.charged_tokens, usage.reserved_tokens) == (0, fits * HOLD)

    # and settling them all at once (each used less than it held) leaves only what they used
    actual = [(300 + i, 50 + i) for i in range(fits)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        settled = list(
            pool.map(
                lambda pair: stores.users.settle_tokens(
                    pair[0], input_tokens=pair[1][0], output_tokens=pair[1][1]
                ),
                zip(admitted, actual, strict=True),
            )
        )
    assert all(settled)
    used = sum(i + o for i, o in actual)
    usage = stores.users.get_usage(user, MONTH)
    assert usage == Usage(
        user,
        MONTH,
        requests=fits,
        input_tokens=sum(i for i, _ in actual),
        output_tokens=sum(o for _, o in actual),
        charged_tokens=used,
        reserved_tokens=0,
    )
    assert usage.charged_tokens <= budget

    # and the room given back is exactly what a second burst gets: no more, no less
    room = (budget - used) // HOLD
    with ThreadPoolExecutor(max_workers=32) as pool:
        again = list(pool.map(lambda _: reserve(stores, user, budget=budget), range(100)))
    assert sum(d.allowed for d in again) == room
    final = stores.users.get_usage(user, MONTH)
    assert final.charged_tokens + final.reserved_tokens <= budget


def test_parallel_reservations_and_settlements_never_pass_the_budget(stores: Container):
    # each worker reserves, then settles at once: holds come and go while others reserve
    user, budget = uid("u"), 20 * HOLD

    def ask(n: int) -> bool:
        decision = reserve(stores, user, budget=budget)
        if decision.hold is None:
            return False
        assert decision.used + decision.reserved <= budget
        stores.users.settle_tokens(decision.hold, input_tokens=200, output_tokens=n % 50)
        return True

    with ThreadPoolExecutor(max_workers=32) as pool:
        answered = sum(pool.map(ask, range(100)))

    usage = stores.users.get_usage(user, MONTH)
    assert usage.requests == answered
    assert usage.reserved_tokens == 0
    assert usage.charged_tokens <= budget
    # at least the 20 that fit the budget whole; more, as settled answers gave room back
    assert 20 <= answered < 100


def test_a_refusal_writes_nothing_and_says_where_the_budget_stands(stores: Container):
    user = uid("u")
    first = reserve(stores, user, budget=1000)
    assert first.allowed and first.hold is not None
    assert (first.budget, first.used, first.reserved, first.left) == (1000, 0, HOLD, 300)
    assert first.hold.tokens == HOLD and first.hold.month == MONTH

    refused = reserve(stores, user, budget=1000)

    assert not refused.allowed and refused.hold is None
    assert (refused.used, refused.reserved, refused.left) == (0, HOLD, 300)
    assert stores.users.get_usage(user, MONTH) == Usage(user, MONTH, reserved_tokens=HOLD)


def test_an_answer_larger_than_the_whole_budget_is_refused_on_an_empty_month(stores: Container):
    user = uid("u")

    refused = reserve(stores, user, budget=HOLD - 1)

    assert not refused.allowed
    assert stores.users.list_usage(user) == []


def test_settling_charges_the_actual_tokens_capped_at_the_hold(stores: Container):
    user = uid("u")
    small, large = (reserve(stores, user, budget=10 * HOLD).hold for _ in range(2))
    assert small is not None and large is not None

    assert stores.users.settle_tokens(small, input_tokens=100, output_tokens=20)
    # the model counted more than the prompt's estimate: recorded, but charged the hold
    assert stores.users.settle_tokens(large, input_tokens=HOLD, output_tokens=90)

    assert stores.users.get_usage(user, MONTH) == Usage(
        user,
        MONTH,
        requests=2,
        input_tokens=100 + HOLD,
        output_tokens=20 + 90,
        charged_tokens=120 + HOLD,
        reserved_tokens=0,
    )


def test_a_hold_is_settled_or_released_once(stores: Container):
    user = uid("u")
    settled, released = (reserve(stores, user, budget=10 * HOLD).hold for _ in range(2))
    assert settled is not None and released is not None
    assert stores.users.settle_tokens(settled, input_tokens=10, output_tokens=5)
    assert stores.users.release_tokens(released)
    after = stores.users.get_usage(user, MONTH)

    # a repeated delivery, or a release after the settlement: nothing more is counted
    assert not stores.users.settle_tokens(settled, input_tokens=10, output_tokens=5)
    assert not stores.users.release_tokens(settled)
    assert not stores.users.settle_tokens(released, input_tokens=10, output_tokens=5)
    assert not stores.users.release_tokens(released)

    assert after == Usage(user, MONTH, 1, 10, 5, charged_tokens=15, reserved_tokens=0)
    assert stores.users.get_usage(user, MONTH) == after


def test_expired_holds_are_given_back_when_a_reservation_would_be_refused(
    stores: Container, clock: FixedClock
):
    # Given two answers whose processes died: their holds fill the budget
    user, now = uid("u"), int(clock.now())
    dead = [reserve(stores, user, budget=2 * HOLD, expires_at=now + 60).hold for _ in range(2)]
    assert all(dead)
    assert not reserve(stores, user, budget=2 * HOLD).allowed  # not expired yet

    # When their time is up
    clock.advance(60)
    admitted = reserve(stores, user, budget=2 * HOLD)

    # Then the next reservation gets their room back
    assert admitted.allowed and admitted.reserved == HOLD
    assert stores.users.get_usage(user, MONTH).reserved_tokens == HOLD
    # and a late settlement of a given-back hold counts nothing twice
    assert dead[0] is not None
    assert not stores.users.settle_tokens(dead[0], input_tokens=1, output_tokens=1)
    assert stores.users.get_usage(user, MONTH).charged_tokens == 0


def test_budgets_are_kept_per_month_and_per_user(stores: Container):
    user, other = uid("u"), uid("u")
    assert reserve(stores, user, budget=HOLD).allowed
    assert not reserve(stores, user, budget=HOLD).allowed

    assert reserve(stores, user, budget=HOLD, month="2027-02").allowed
    assert reserve(stores, other, budget=HOLD).allowed


def test_usage_counted_without_a_hold_is_not_charged_to_the_budget(stores: Container):
    # a cached reply: a request, no tokens, no budget
    user = uid("u")
    stores.users.add_usage(user, MONTH, requests=1, input_tokens=0, output_tokens=0)

    assert reserve(stores, user, budget=HOLD).allowed
    assert stores.users.get_usage(user, MONTH) == Usage(user, MONTH, 1, reserved_tokens=HOLD)


def test_erasing_a_user_takes_its_holds_and_a_late_settlement_brings_nothing_back(
    stores: Container,
):
    user = uid("u")
    hold = reserve(stores, user, budget=10 * HOLD).hold
    assert hold is not None

    assert stores.users.delete_user(user) == 1

    assert not stores.users.settle_tokens(hold, input_tokens=5, output_tokens=5)
    assert not stores.users.release_tokens(hold)
    assert stores.users.list_usage(user) == []
    # the budget starts afresh: the erased hold holds nothing
    assert reserve(stores, user, budget=HOLD).allowed

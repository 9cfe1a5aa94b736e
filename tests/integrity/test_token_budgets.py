"""Monthly token budgets through the public HTTP API, on both adapter families: exact under
100 parallel chats, a 429 ``token_budget_exceeded`` with the reset time once exhausted,
cached replies still served at no cost, queued answers settled by the worker, the usage
route, and the GDPR export and erasure covering it all.

Each answer reserves ``prompt_token_budget + answer_max_tokens`` = 1,000 + 100 tokens here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from creator_chat.domain.models import Chunk, Generation
from creator_chat.usecases.chat import answer_queued
from starlette.testclient import TestClient

from tests.integrity.conftest import Reply, Rig, RigFactory, gateway_for, new_creator, uid

HOLD = 1_100
QUESTION = "How firmly should I tamp the espresso puck?"
OTHER_QUESTION = "Should the espresso puck be tamped level?"


class MeteredGenerator:
    """Quotes source 1 and reports the tokens it was set to (as a model reports its own)."""

    model_id = "metered-generator"

    def __init__(self, input_tokens: int, output_tokens: int, delay_s: float = 0.0) -> None:
        self.input_tokens, self.output_tokens, self.delay_s = input_tokens, output_tokens, delay_s
        self.error: Exception | None = None

    def generate(
        self,
        *,
        system: str,
        history: Sequence[Any],
        question: str,
        sources: Sequence[Chunk],
        max_tokens: int,
    ) -> Generation:
        if self.error is not None:
            raise self.error
        time.sleep(self.delay_s)  # answers overlap: their holds are taken at the same time
        return Generation(
            f"From the notes: {sources[0].text} [1]",
            self.input_tokens,
            self.output_tokens,
            self.model_id,
            cited=[1],
        )


def budget_rig(make_rig: RigFactory, budget: int, generator: MeteredGenerator) -> Rig:
    rig = make_rig(
        token_budget_free=budget, prompt_token_budget=1_000, answer_max_tokens=100, quota_free=500
    )
    rig.container.overrides["generator"] = generator
    return rig


def seeded_creator(rig: Rig) -> str:
    creator_id, owner = new_creator(rig)
    posted = rig.call(
        "POST",
        f"/v1/creators/{creator_id}/documents",
        owner,
        {
            "title": "Tamping",
            "kind": "text",
            "content": "Tamp the espresso puck firmly and level, about fifteen kilos of force.",
        },
    )
    assert posted.status == 202, posted
    assert rig.run_ingest() == ["done"]
    return creator_id


def chat(rig: Rig, creator_id: str, token: str, message: str = QUESTION, **body: Any) -> Reply:
    return rig.call("POST", f"/v1/creators/{creator_id}/chat", token, {"message": message, **body})


def this_month(rig: Rig, token: str) -> dict[str, Any]:
    reply = rig.call("GET", "/v1/me/usage", token)
    assert reply.status == 200, reply
    current = reply.body[-1]
    assert current["month"] == datetime.fromtimestamp(rig.clock.now(), UTC).strftime("%Y-%m")
    return dict(current)


def next_month_start(rig: Rig) -> int:
    now = datetime.fromtimestamp(rig.clock.now(), UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp())


def test_a_hundred_parallel_chats_answer_exactly_as_many_as_the_budget_holds(
    make_rig: RigFactory,
):
    # Given a budget of 7 answers and a bit, and a model that uses all an answer reserves
    # (so no answer gives room back, and the count cannot depend on timing)
    budget = 7 * HOLD + 500
    rig = budget_rig(make_rig, budget, MeteredGenerator(1_000, 100, delay_s=0.02))
    creator_id = seeded_creator(rig)
    fan = rig.token(uid("fan-"))
    client = TestClient(gateway_for(rig.container, max_concurrency=100))

    # When one fan sends 100 different questions at once
    def ask(n: int) -> Any:
        return client.post(
            f"/v1/creators/{creator_id}/chat",
            json={"message": f"{QUESTION} Take {n}"},
            headers={"authorization": f"Bearer {fan}"},
        )

    with ThreadPoolExecutor(max_workers=100) as pool:
        replies = list(pool.map(ask, range(100)))

    # Then exactly 7 are answered and the other 93 refused by the budget, nothing else
    statuses = sorted(r.status_code for r in replies)
    assert statuses.count(200) == 7, statuses
    assert statuses.count(429) == 93, statuses
    refusals = {r.json()["error"]["code"] for r in replies if r.status_code == 429}
    assert refusals == {"token_budget_exceeded"}
    assert all(r.json()["citations"] for r in replies if r.status_code == 200)
    usage = this_month(rig, fan)
    assert usage["tokens_used"] == 7 * HOLD <= budget
    assert (usage["tokens_reserved"], usage["requests"]) == (0, 7)
    assert usage["tokens_left"] == budget - 7 * HOLD
    # and a refused question left nothing behind: 7 threads, each with its answer
    assert len(rig.call("GET", "/v1/threads", fan).body["threads"]) == 7


def test_an_exhausted_budget_is_a_429_with_its_code_and_reset_but_cached_replies_still_come(
    make_rig: RigFactory,
):
    rig = budget_rig(make_rig, 2_000, MeteredGenerator(600, 150))
    creator_id = seeded_creator(rig)
    fan = rig.token(uid("fan-"))

    first = chat(rig, creator_id, fan)
    assert first.status == 200 and not first.body["cached"], first
    usage = this_month(rig, fan)
    assert {k: usage[k] for k in ("token_budget", "tokens_used", "tokens_left")} == {
        "token_budget": 2_000,
        "tokens_used": 750,
        "tokens_left": 1_250,
    }
    assert (usage["input_tokens"], usage["output_tokens"], usage["requests"]) == (600, 150, 1)
    assert chat(rig, creator_id, fan, OTHER_QUESTION).status == 200  # 1,500 used, 500 left

    # a third answer would not fit (500 left, an answer may take 1,100)
    refused = chat(rig, creator_id, fan, "What does a level tamp change in the espresso?")

    assert refused.status == 429, refused
    error = refused.body["error"]
    assert error["code"] == "token_budget_exceeded"
    reset = next_month_start(rig)
    assert error["reset_epoch"] == reset
    assert error["reset_at"] == datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (error["token_budget"], error["tokens_used"], error["tokens_left"]) == (
        2_000,
        1_500,
        500,
    )
    assert int(refused.headers["retry-after"]) == reset - int(rig.clock.now())
    assert len(rig.call("GET", "/v1/threads", fan).body["threads"]) == 2  # nothing stored

    # the first question again, in a new thread: the cached reply costs nothing and comes
    again = chat(rig, creator_id, fan)
    assert again.status == 200 and again.body["cached"], again
    assert again.body["answer"] == first.body["answer"]
    usage = this_month(rig, fan)
    assert (usage["tokens_used"], usage["tokens_left"], usage["requests"]) == (1_500, 500, 3)
    # but what would need the model does not: a follow-up, or the same question queued
    follow_up = chat(rig, creator_id, fan, thread_id=first.body["thread_id"])
    queued = chat(rig, creator_id, fan, mode="async")
    for reply in (follow_up, queued):
        assert reply.status == 429 and reply.body["error"]["code"] == "token_budget_exceeded"
    assert this_month(rig, fan)["tokens_reserved"] == 0


def test_a_queued_answer_holds_its_tokens_until_the_worker_settles_them_once(
    make_rig: RigFactory,
):
    rig = budget_rig(make_rig, 5_000, MeteredGenerator(600, 150))
    creator_id = seeded_creator(rig)
    fan = rig.token(uid("fan-"))

    accepted = chat(rig, creator_id, fan, mode="async")

    assert accepted.status == 202, accepted
    held = this_month(rig, fan)
    assert (held["tokens_used"], held["tokens_reserved"], held["tokens_left"]) == (0, HOLD, 3_900)
    [job] = rig.take_jobs("llm-jobs")
    assert answer_queued(rig.container, job, final_attempt=False) == "answered"
    assert answer_queued(rig.container, job, final_attempt=False) == "already-done"
    settled = this_month(rig, fan)
    assert (settled["tokens_used"], settled["tokens_reserved"], settled["requests"]) == (750, 0, 1)


def test_a_queued_answer_that_fails_for_good_gives_its_hold_back(make_rig: RigFactory):
    generator = MeteredGenerator(600, 150)
    rig = budget_rig(make_rig, 5_000, generator)
    creator_id = seeded_creator(rig)
    fan = rig.token(uid("fan-"))
    assert chat(rig, creator_id, fan, mode="async").status == 202
    [job] = rig.take_jobs("llm-jobs")
    generator.error = RuntimeError("the model broke")

    with pytest.raises(RuntimeError):
        answer_queued(rig.container, job, final_attempt=False)
    assert this_month(rig, fan)["tokens_reserved"] == HOLD  # a retry will come: still held
    with pytest.raises(RuntimeError):
        answer_queued(rig.container, job, final_attempt=True)

    usage = this_month(rig, fan)
    assert (usage["tokens_used"], usage["tokens_reserved"], usage["requests"]) == (0, 0, 0)


def test_a_not_found_answer_calls_no_model_and_gives_the_whole_hold_back(make_rig: RigFactory):
    rig = budget_rig(make_rig, 5_000, MeteredGenerator(600, 150))
    creator_id = seeded_creator(rig)
    fan = rig.token(uid("fan-"))

    reply = chat(rig, creator_id, fan, "Which train goes from Lisbon to Porto?")

    assert reply.status == 200 and not reply.body["citations"], reply
    usage = this_month(rig, fan)
    assert (usage["tokens_used"], usage["tokens_reserved"], usage["requests"]) == (0, 0, 1)


def test_export_and_erasure_cover_the_budget_and_an_answer_in_flight(make_rig: RigFactory):
    rig = budget_rig(make_rig, 5_000, MeteredGenerator(600, 150))
    creator_id = seeded_creator(rig)
    user = uid("fan-")
    fan = rig.token(user)
    assert chat(rig, creator_id, fan).status == 200
    assert chat(rig, creator_id, fan, OTHER_QUESTION, mode="async").status == 202

    exported = rig.call("GET", "/v1/me/export", fan)
    assert exported.status == 200, exported
    [month] = exported.body["usage"]
    assert (month["charged_tokens"], month["reserved_tokens"]) == (750, HOLD)

    erased = rig.call("DELETE", "/v1/me", fan)
    assert erased.status == 200 and erased.body["deleted_items"]["users"] >= 1, erased
    # the queued answer's thread went with the erasure: its job gives nothing back to anyone
    [job] = rig.take_jobs("llm-jobs")
    assert answer_queued(rig.container, job, final_attempt=False) == "gone"
    assert rig.container.users.list_usage(user) == []  # and the late release recreated none

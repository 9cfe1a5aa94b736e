"""The hourly quota stays exact when one fan sends many chats at once (embedded adapters)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.e2e.conftest import DEMO, TokenFactory, bearer


def test_sixty_parallel_chats_of_one_free_fan_admit_exactly_fifty(
    api: httpx.Client, token: TokenFactory, demo_ready
):
    fan = bearer(token(f"fan-burst-{uuid.uuid4().hex[:6]}", tier="free"))

    def ask(n: int) -> httpx.Response:
        with httpx.Client(base_url=str(api.base_url), timeout=60) as client:
            return client.post(
                f"/v1/creators/{DEMO}/chat",
                json={"message": f"How often should I backflush? ({n})"},
                headers=fan,
            )

    with ThreadPoolExecutor(max_workers=60) as pool:
        responses = list(pool.map(ask, range(60)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 50, [
        (r.status_code, r.text[:200]) for r in responses if r.status_code != 200
    ]
    assert statuses.count(429) == 10, statuses
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.json()["error"]["code"] == "quota_exceeded"
    # and every admitted question is in the fan's threads: nothing admitted was dropped
    threads = api.get("/v1/threads", headers=fan).json()["threads"]
    assert len(threads) == 50

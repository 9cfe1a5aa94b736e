"""Chat end to end on the embedded default: grounded, cited, cached, scoped, metered."""

from __future__ import annotations

import json
import uuid
from importlib import resources

import httpx
import pytest
from creator_chat.prompting import NOT_FOUND_ANSWER

from tests.e2e.conftest import DEMO, TokenFactory, bearer, wait_for_documents

DEMO_DIR = resources.files("creator_chat") / "demo"
MANIFEST = {d["file"]: d for d in json.loads((DEMO_DIR / "manifest.json").read_text())["documents"]}


def chat(
    api: httpx.Client, tok: str, creator: str, message: str, **extra: object
) -> httpx.Response:
    return api.post(
        f"/v1/creators/{creator}/chat", json={"message": message, **extra}, headers=bearer(tok)
    )


def test_answer_cites_the_transcript_at_the_right_second(
    api: httpx.Client, token: TokenFactory, demo_ready
):
    r = chat(
        api,
        token(f"fan-{uuid.uuid4().hex[:6]}"),
        DEMO,
        "How do I backflush my machine with detergent?",
    )
    assert r.status_code == 200, r.text
    body = r.json()
    care = MANIFEST["water-descaling-backflush-gaskets.vtt"]
    cited = [c for c in body["citations"] if c["title"] == care["title"]]
    assert cited, body
    # the backflush routine is explained from 2:52 in the video
    best = min(cited, key=lambda c: abs(c["start_s"] - 172))
    assert abs(best["start_s"] - 172) <= 45
    assert best["url"] == f"{care['source_url']}&t={int(best['start_s'])}s"
    assert f"[{best['n']}]" in body["answer"]
    assert "10 seconds" in body["answer"]  # the routine itself, not just a mention


def test_question_outside_the_content_gets_an_honest_not_found(
    api: httpx.Client, token: TokenFactory, demo_ready
):
    body = chat(api, token("fan-curious"), DEMO, "Who won the 2014 FIFA World Cup?").json()
    assert body["answer"] == NOT_FOUND_ANSWER
    assert body["citations"] == []


def test_identical_first_turn_question_is_served_from_cache(
    api: httpx.Client, token: TokenFactory, demo_ready
):
    q = "What temperature should steamed milk reach?"
    first = chat(api, token("fan-cache-1"), DEMO, q).json()
    second = chat(api, token("fan-cache-2"), DEMO, q).json()
    assert first["cached"] is False and second["cached"] is True
    assert second["answer"] == first["answer"] and second["citations"] == first["citations"]
    assert second["thread_id"] != first["thread_id"]  # each fan still gets their own thread


def test_new_content_invalidates_cached_answers(api: httpx.Client, token: TokenFactory):
    admin = token("admin-cache", "admin")
    slug = f"cachey-{uuid.uuid4().hex[:6]}"
    creator = api.post(
        "/v1/creators", json={"slug": slug, "name": "Cachey"}, headers=bearer(admin)
    ).json()
    cid = creator["creator_id"]
    q = "How long do tripod legs take to dry?"
    assert chat(api, token("fan-x"), cid, q).json()["answer"] == NOT_FOUND_ANSWER
    api.post(
        f"/v1/creators/{cid}/documents",
        headers=bearer(admin),
        json={
            "title": "Tripod care",
            "kind": "text",
            "content": "After a beach shoot, rinse the tripod legs in fresh water. "
            "Tripod legs take about two hours to dry fully when extended.",
        },
    )
    wait_for_documents(api, admin, cid)
    body = chat(api, token("fan-y"), cid, q).json()
    assert body["cached"] is False
    assert "two hours" in body["answer"]


def test_a_fan_of_one_creator_never_gets_another_creators_sources(
    api: httpx.Client, token: TokenFactory
):
    admin = token("admin-tenancy", "admin")
    ids = {}
    for name, text in (
        (
            "north",
            "To season a cast iron pan, wipe a thin layer of flaxseed oil and bake it at 250 "
            "degrees for an hour.",
        ),
        (
            "south",
            "To season a cast iron pan, rub lard all over it and bake at 180 degrees for "
            "three hours.",
        ),
    ):
        slug = f"{name}-{uuid.uuid4().hex[:6]}"
        cid = api.post(
            "/v1/creators", json={"slug": slug, "name": name}, headers=bearer(admin)
        ).json()["creator_id"]
        api.post(
            f"/v1/creators/{cid}/documents",
            headers=bearer(admin),
            json={"title": f"{name} seasoning", "kind": "text", "content": text},
        )
        wait_for_documents(api, admin, cid)
        ids[name] = cid
    for name, other in (("north", "south"), ("south", "north")):
        body = chat(api, token(f"fan-{name}"), ids[name], "How do I season a cast iron pan?").json()
        assert body["citations"], body
        assert all(c["title"] == f"{name} seasoning" for c in body["citations"])
        assert ("flaxseed" in body["answer"]) == (name == "north")
        assert ("lard" in body["answer"]) == (name == "south")
        assert other not in body["answer"]


def test_follow_up_continues_the_same_thread(api: httpx.Client, token: TokenFactory, demo_ready):
    tok = token("fan-thread")
    first = chat(api, tok, DEMO, "How hot should I steam oat milk?").json()
    follow = chat(
        api, tok, DEMO, "And what about dairy milk temperature?", thread_id=first["thread_id"]
    )
    assert follow.status_code == 200 and follow.json()["thread_id"] == first["thread_id"]
    msgs = api.get(f"/v1/threads/{first['thread_id']}/messages", headers=bearer(tok)).json()[
        "messages"
    ]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert msgs[1]["message_id"] == first["message_id"]


def test_async_question_is_answered_by_the_worker(
    api: httpx.Client, token: TokenFactory, demo_ready
):
    import time

    tok = token("fan-async")
    r = chat(api, tok, DEMO, "How do I fix static on the Kestrel K58?", mode="async")
    assert r.status_code == 202
    status_url = r.json()["status_url"]
    deadline = time.monotonic() + 30
    while True:
        msg = api.get(status_url, headers=bearer(tok)).json()
        if msg["status"] != "pending" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert msg["status"] == "answered"
    assert msg["content"]
    assert api.get(status_url, headers=bearer(token("fan-other"))).status_code == 404


def test_feedback_is_only_for_your_own_answers(api: httpx.Client, token: TokenFactory, demo_ready):
    tok = token("fan-feedback")
    answer = chat(api, tok, DEMO, "What is the split shot trick?").json()
    ok = api.post(
        f"/v1/messages/{answer['message_id']}/feedback", json={"rating": "up"}, headers=bearer(tok)
    )
    assert ok.status_code == 204
    other = api.post(
        f"/v1/messages/{answer['message_id']}/feedback",
        json={"rating": "down"},
        headers=bearer(token("fan-stranger")),
    )
    assert other.status_code == 404
    bad = api.post(
        f"/v1/messages/{answer['message_id']}/feedback", json={"rating": "meh"}, headers=bearer(tok)
    )
    assert bad.status_code == 422


def test_trending_is_for_the_creator_and_admins_only(
    api: httpx.Client, token: TokenFactory, demo_ready
):
    creator = bearer(token("ines", "creator", creator=DEMO))

    def shown() -> list[str]:
        own = api.get(f"/v1/creators/{DEMO}/trending", headers=creator)
        assert own.status_code == 200
        return [q["question"] for q in own.json()["questions"]]

    question = f"Is the split shot trick worth it for {uuid.uuid4().hex[:6]}?"
    words = " ".join(question.lower().rstrip("?").split())
    for fan in ("fan-trend-1", "fan-trend-1", "fan-trend-2"):
        assert chat(api, token(fan), DEMO, question).status_code == 200
    assert words not in shown()  # two fans: still theirs, not the creator's to read
    assert chat(api, token("fan-trend-3"), DEMO, question).status_code == 200
    assert words in shown()  # three different fans: a trend
    other = api.get(
        f"/v1/creators/{DEMO}/trending",
        headers=bearer(token("mallory", "creator", creator="cr_other")),
    )
    assert other.status_code == 403
    assert (
        api.get(f"/v1/creators/{DEMO}/trending", headers=bearer(token("fan-trend"))).status_code
        == 403
    )


def test_free_tier_gets_429_with_retry_after_past_its_hourly_quota(
    api: httpx.Client, token: TokenFactory, demo_ready
):
    tok = token(f"fan-quota-{uuid.uuid4().hex[:6]}")
    last = None
    for i in range(50):
        last = chat(api, tok, DEMO, f"Question number {i} about grinders?")
        assert last.status_code == 200, last.text
    assert last is not None and last.headers["X-RateLimit-Remaining"] == "0"
    assert last.headers["X-RateLimit-Limit"] == "50"
    refused = chat(api, tok, DEMO, "one more?")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.json()["error"]["code"] == "quota_exceeded"
    # the refused question was not stored half-way
    threads = api.get("/v1/threads", params={"limit": 100}, headers=bearer(tok)).json()["threads"]
    assert len(threads) == 50


@pytest.mark.parametrize(
    "payload",
    [
        {"message": ""},
        {"message": "x" * 4001},
        {"msg": "hi"},
        {"message": "hi", "thread_id": "../../etc"},
    ],
)
def test_bad_chat_input_is_a_4xx_json_error(api: httpx.Client, token: TokenFactory, payload: dict):
    r = api.post(f"/v1/creators/{DEMO}/chat", json=payload, headers=bearer(token("fan-bad")))
    assert 400 <= r.status_code < 500
    assert r.json()["error"]["code"]

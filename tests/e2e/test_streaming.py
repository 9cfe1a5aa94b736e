"""Streamed answers over a real WebSocket against the local gateway (``/v1/stream``), on the
embedded default: the contract of the README's "Streamed answers" section."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from creator_chat.local.bedrock_stub import PacedConverseStub
from creator_chat.local.logs import ACCESS_LOGGER
from creator_chat.local.runtime import LocalRuntime
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.e2e.conftest import DEMO, TokenFactory, answer_at_a_models_pace, bearer

QUESTION = "What temperature should steamed milk reach?"
# asked once only (a first question's answer is cached: it would come back whole)
LEAVER_QUESTION = "How do I know the milk is hot enough without a thermometer?"


def ws_url(runtime: LocalRuntime, tok: str | None) -> str:
    base = runtime.url.replace("http://", "ws://") + "/v1/stream"
    return f"{base}?token={tok}" if tok else base


@pytest.fixture
def socket(runtime: LocalRuntime, token: TokenFactory, demo_ready: Any) -> Iterator[Any]:
    def open_as(user: str, **kw: Any) -> ClientConnection:
        return connect(ws_url(runtime, token(user, **kw)), open_timeout=10).__enter__()

    opened: list[ClientConnection] = []

    def factory(user: str, **kw: Any) -> ClientConnection:
        conn = open_as(user, **kw)
        opened.append(conn)
        return conn

    yield factory
    for conn in opened:
        conn.close()


def ask(conn: ClientConnection, message: str, **fields: Any) -> list[dict[str, Any]]:
    """Send a chat action; every message until the one that ends it (done/queued/error)."""
    conn.send(json.dumps({"action": "chat", "creator_id": DEMO, "message": message, **fields}))
    return read_until_end(conn)


def read_until_end(conn: ClientConnection, timeout_s: float = 30) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        msg = json.loads(conn.recv(timeout=timeout_s))
        out.append(msg)
        if msg.get("type") in ("done", "queued", "error"):
            return out


def stored_answer(api: httpx.Client, tok: str, thread_id: str, message_id: str) -> dict:
    r = api.get(f"/v1/threads/{thread_id}/messages/{message_id}", headers=bearer(tok))
    assert r.status_code == 200, r.text
    return r.json()


def test_deltas_then_done_and_the_thread_holds_the_same_answer(
    socket, api: httpx.Client, token: TokenFactory
) -> None:
    conn = socket("stream-fan-1")
    # asked by no other test: a first question's answer is cached, and would come whole
    msgs = ask(conn, "What temperature should steamed milk reach, roughly?")
    deltas = [m["text"] for m in msgs if m["type"] == "delta"]
    done = msgs[-1]
    assert done["type"] == "done", msgs
    assert len(deltas) >= 2, "the local generator streams sentence by sentence"
    answer = "".join(deltas)
    assert "60" in answer and "[1]" in answer
    assert done["citations"] and done["citations"][0]["n"] == 1
    assert all(c["url"] for c in done["citations"])
    stored = stored_answer(api, token("stream-fan-1"), done["thread_id"], done["message_id"])
    assert stored["content"] == answer
    assert [c["n"] for c in stored["citations"]] == [c["n"] for c in done["citations"]]


def test_a_follow_up_in_the_same_thread_and_a_cached_reply(socket) -> None:
    first = ask(socket("stream-fan-2"), QUESTION)[-1]
    follow = ask(socket("stream-fan-2"), "And how hot is too hot?", thread_id=first["thread_id"])
    assert follow[-1]["type"] == "done" and follow[-1]["thread_id"] == first["thread_id"]
    # the same first question again: the cached answer, at once, in one piece
    again = ask(socket("stream-fan-3"), QUESTION)
    assert again[-1]["type"] == "done" and again[-1]["cached"] is True
    assert [m["type"] for m in again] == ["delta", "done"]


def test_another_users_thread_is_not_found(socket) -> None:
    mine = ask(socket("stream-owner"), QUESTION)[-1]
    theirs = ask(socket("stream-intruder"), "Tell me more", thread_id=mine["thread_id"])
    assert [m["type"] for m in theirs] == ["error"]
    assert theirs[0]["code"] == "not_found"


def test_quota_error_carries_retry_after(socket, runtime: LocalRuntime) -> None:
    limiter = runtime.container.rate_limiter
    for _ in range(50):  # the free tier's hour, spent
        limiter.hit("chat:stream-busy", limit=50, window_s=3600)
    msgs = ask(socket("stream-busy"), QUESTION)
    assert [m["type"] for m in msgs] == ["error"]
    assert msgs[0]["code"] == "quota_exceeded"
    assert 0 < msgs[0]["retry_after_s"] <= 3600


def test_bad_json_and_unknown_actions_get_errors_and_the_socket_stays(socket) -> None:
    conn = socket("stream-fan-4")
    conn.send("this is not json")
    bad = json.loads(conn.recv(timeout=10))
    assert bad["type"] == "error" and bad["code"] == "bad_request"
    assert "JSON" in bad["message"]
    conn.send(json.dumps({"action": "dance"}))
    unknown = json.loads(conn.recv(timeout=10))
    assert unknown["type"] == "error" and unknown["code"] == "unknown_action"
    conn.send(json.dumps({"action": "chat", "creator_id": DEMO}))  # no message
    invalid = json.loads(conn.recv(timeout=10))
    assert invalid["type"] == "error" and invalid["code"] == "invalid_input"
    assert "message" in invalid["message"]
    # still open: a real question is answered on the same socket
    assert ask(conn, QUESTION)[-1]["type"] == "done"


def test_filters_narrow_a_streamed_answer(socket) -> None:
    conn = socket("stream-fan-8")
    narrowed = ask(conn, QUESTION, filters={"tags": ["no-such-playlist"]})
    # nothing in the creator carries that tag: an honest not-found, no citation
    assert narrowed[-1]["type"] == "done" and narrowed[-1]["citations"] == []
    bad = ask(conn, QUESTION, filters={"kinds": ["hologram"]})
    assert [m["type"] for m in bad] == ["error"] and bad[0]["code"] == "invalid_input"


def test_unknown_creator_is_not_found(socket) -> None:
    conn = socket("stream-fan-5")
    conn.send(json.dumps({"action": "chat", "creator_id": "cr_nobody", "message": "hi"}))
    msg = json.loads(conn.recv(timeout=10))
    assert msg["type"] == "error" and msg["code"] == "not_found"


def test_no_token_is_401_and_a_bad_token_403(runtime: LocalRuntime, token: TokenFactory) -> None:
    with pytest.raises(InvalidStatus) as missing:
        connect(ws_url(runtime, None), open_timeout=10)
    assert missing.value.response.status_code == 401
    # a header is not where API Gateway looks (the identity source is the query string)
    with pytest.raises(InvalidStatus) as header_only:
        connect(
            ws_url(runtime, None),
            additional_headers={"Authorization": f"Bearer {token('stream-fan-6')}"},
            open_timeout=10,
        )
    assert header_only.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as bad:
        connect(ws_url(runtime, token("stream-fan-6") + "x"), open_timeout=10)
    assert bad.value.response.status_code == 403


def test_a_revoked_session_cannot_go_on_asking(
    socket, api: httpx.Client, token: TokenFactory, runtime: LocalRuntime
) -> None:
    tok = token("stream-revoked")
    with connect(ws_url(runtime, tok), open_timeout=10) as conn:
        assert ask(conn, QUESTION)[-1]["type"] == "done"
        sessions = api.get("/v1/sessions", headers=bearer(tok)).json()["sessions"]
        for s in sessions:
            api.delete(f"/v1/sessions/{s['session_id']}", headers=bearer(tok))
        msgs = ask(conn, "And how hot is too hot?")
        assert [m["type"] for m in msgs] == ["error"] and msgs[0]["code"] == "unauthorized"


def test_the_token_never_reaches_the_access_log(runtime: LocalRuntime, token: TokenFactory) -> None:
    tok = token("stream-logged")
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage() + json.dumps(record.__dict__, default=str))

    access = logging.getLogger(ACCESS_LOGGER)
    level = access.level
    access.setLevel(logging.INFO)
    handler = Keep()
    access.addHandler(handler)
    try:
        with connect(ws_url(runtime, tok), open_timeout=10) as conn:
            conn.send("{}")
            conn.recv(timeout=10)
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert any("/v1/stream 101" in line for line in lines), lines
    assert not any(tok in line or "token=" in line for line in lines)


def test_a_socket_on_another_path_is_refused(runtime: LocalRuntime, token: TokenFactory) -> None:
    url = runtime.url.replace("http://", "ws://") + "/v1/other?token=" + token("stream-x")
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=10)
    assert refused.value.response.status_code == 403


def test_two_questions_on_one_socket_each_end(socket) -> None:
    # two questions on one socket are handled concurrently, each ending with its own done
    conn = socket("stream-fan-7")
    conn.send(json.dumps({"action": "chat", "creator_id": DEMO, "message": QUESTION}))
    conn.send(json.dumps({"action": "chat", "creator_id": DEMO, "message": "What grind size?"}))
    ends = 0
    deadline = time.monotonic() + 30
    while ends < 2 and time.monotonic() < deadline:
        msg = json.loads(conn.recv(timeout=30))
        ends += msg["type"] in ("done", "queued", "error")
    assert ends == 2


# --------------------------------------------------- a model's pace: the streaming Bedrock stub
@pytest.fixture
def paced(runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> PacedConverseStub:
    """A first token after 200 ms, then 40 tokens/s."""
    return answer_at_a_models_pace(
        runtime, monkeypatch, first_token_s=0.2, tokens_per_s=40, model_id="stub.paced-v1"
    )


def test_a_model_stream_arrives_token_by_token(
    socket, paced: PacedConverseStub, api: httpx.Client, token: TokenFactory
) -> None:
    conn = socket("paced-fan-1")
    conn.send(json.dumps({"action": "chat", "creator_id": DEMO, "message": QUESTION}))
    arrivals: list[tuple[float, dict[str, Any]]] = []
    while True:
        msg = json.loads(conn.recv(timeout=30))
        arrivals.append((time.monotonic(), msg))
        if msg["type"] != "delta":
            break
    done = arrivals[-1][1]
    assert done["type"] == "done", arrivals
    deltas = [m["text"] for _, m in arrivals if m["type"] == "delta"]
    assert len(deltas) > 10  # token by token, not one block
    # the first words arrive well before the end
    assert arrivals[-1][0] - arrivals[0][0] > 0.2
    stored = stored_answer(api, token("paced-fan-1"), done["thread_id"], done["message_id"])
    assert stored["content"] == "".join(deltas)
    assert stored["content"].startswith("From the creator's content:")


def test_a_fan_who_leaves_mid_stream_finds_the_whole_answer_in_the_thread(
    runtime: LocalRuntime, paced: PacedConverseStub, api: httpx.Client, token: TokenFactory
) -> None:
    tok = token("paced-leaver")
    with connect(ws_url(runtime, tok), open_timeout=10) as conn:
        conn.send(json.dumps({"action": "chat", "creator_id": DEMO, "message": LEAVER_QUESTION}))
        first = json.loads(conn.recv(timeout=30))
        assert first["type"] == "delta"
    # gone after the first token; the answer is still written and stored, once, complete
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        threads = api.get("/v1/threads", headers=bearer(tok)).json()["threads"]
        if threads:
            msgs = api.get(
                f"/v1/threads/{threads[0]['thread_id']}/messages", headers=bearer(tok)
            ).json()["messages"]
            answers = [m for m in msgs if m["role"] == "assistant"]
            if answers and answers[0]["status"] == "answered":
                break
        time.sleep(0.1)
    assert len(answers) == 1 and answers[0]["status"] == "answered"
    content = answers[0]["content"]
    assert content.startswith(first["text"]) and len(content) > len(first["text"]) + 20
    assert content.rstrip().endswith("]")  # through to its last citation


def test_throttled_before_the_first_token_is_queued_with_a_status_url(
    socket, paced: PacedConverseStub
) -> None:
    paced.throttle = True
    msgs = ask(socket("paced-fan-2"), "How do I descale the Larkspur Duo?")
    assert [m["type"] for m in msgs] == ["queued"], msgs
    assert msgs[0]["status_url"] == (
        f"/v1/threads/{msgs[0]['thread_id']}/messages/{msgs[0]['message_id']}"
    )


def test_a_stream_that_breaks_midway_is_queued_not_half_stored(
    socket, paced: PacedConverseStub, api: httpx.Client, token: TokenFactory
) -> None:
    paced.fail_after = 5
    msgs = ask(socket("paced-fan-3"), "How long is the warranty on the Larkspur Duo boilers?")
    assert [m["type"] for m in msgs][-1] == "queued", msgs
    assert sum(m["type"] == "delta" for m in msgs) >= 1  # it had started
    pending = stored_answer(
        api, token("paced-fan-3"), msgs[-1]["thread_id"], msgs[-1]["message_id"]
    )
    assert pending["status"] in ("pending", "answered")  # never the broken half
    assert pending["content"] != "".join(m["text"] for m in msgs if m["type"] == "delta")


def test_the_question_is_stored_before_the_first_delta_and_the_quota_counted_once(
    runtime: LocalRuntime, demo_ready
) -> None:
    from creator_chat.domain.models import Identity, Role, Tier
    from creator_chat.usecases import chat as chat_uc

    deps = runtime.container
    who = Identity("stream-order", Role.FAN, Tier.FREE)
    seen: list[list[str]] = []

    def on_delta(_text: str) -> None:
        if not seen:  # at the first delta: what the fan's thread holds
            (thread,) = deps.threads.list_threads("stream-order")
            messages = deps.threads.recent_messages(thread.thread_id, 10)
            seen.append([f"{m.role}:{m.status.value}" for m in messages])

    result = chat_uc.ask(
        deps, who, DEMO, "How do I steam milk for a flat white?", on_delta=on_delta
    )
    assert len(seen) == 1 and len(seen[0]) == 1, seen  # the question, and no answer yet
    assert seen[0][0].startswith("user:")
    assert result.quota is not None and result.quota.remaining == 49  # one of the free 50


def test_erasure_ends_an_open_socket_and_its_record(
    runtime: LocalRuntime, token: TokenFactory, api: httpx.Client, demo_ready
) -> None:
    tok = token("stream-erased")
    with connect(ws_url(runtime, tok), open_timeout=10) as conn:
        assert ask(conn, QUESTION)[-1]["type"] == "done"
        assert runtime.container.connections.list_user_connections("stream-erased")
        receipt = api.delete("/v1/me", headers=bearer(tok)).json()
        assert receipt["deleted_items"]["connections"] == 1
        assert runtime.container.connections.list_user_connections("stream-erased") == []
        after = ask(conn, "And how hot is too hot?")
        assert [m["type"] for m in after] == ["error"] and after[0]["code"] == "unauthorized"

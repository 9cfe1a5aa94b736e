"""The OpenAI-compatible generator at its boundary: a recorded server on loopback.

What it sends (the same system prompt, numbered sources and conversation as the Bedrock
adapter), what it reads back (text, citations checked against the sources, token counts),
and how the server's failures map (busy or gone → ``DependencyUnavailable``, the rest → a
plain ``DomainError`` that says what to check).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from creator_chat.adapters.aws.bedrock_generator import BedrockConverseGenerator
from creator_chat.adapters.openai_compatible import OpenAICompatibleGenerator
from creator_chat.container import Container
from creator_chat.domain.models import Chunk, Creator, FanProfile, Generation
from creator_chat.errors import DependencyUnavailable, DomainError
from creator_chat.ports import Generator
from creator_chat.prompting import NOT_FOUND_ANSWER, build_system_prompt, build_user_turn
from creator_chat.settings import Settings, SettingsError

from tests.recorded_openai_server import (
    RecordedOpenAIServer,
    Reply,
    completion,
    recorded,
    recorded_openai_server,
)

MODEL = "llama3.1:8b"

SOURCES = [
    Chunk(
        chunk_id="a",
        creator_id="c1",
        document_id="d1",
        text="Use two softboxes at 45 degrees.",
        title="Lighting",
        start_s=123.0,
    ),
    Chunk(
        chunk_id="b",
        creator_id="c1",
        document_id="d2",
        text="Record audio at 48 kHz.",
        title="Audio guide",
        page=4,
    ),
]
SYSTEM = build_system_prompt(
    Creator(creator_id="c1", slug="studio", name="Studio Sam", persona="warm, direct"),
    FanProfile(user_id="fan-1", channel_name="Sam's fan", goals="better lighting"),
)
HISTORY = [
    {"role": "assistant", "content": "Hi! Ask me anything."},  # leading assistant: dropped
    {"role": "user", "content": "What mic do you use?"},
    {"role": "assistant", "content": "The SM7B [1]."},
    {"role": "user", "content": "And for lights?"},  # unanswered: joined to the final turn
]
QUESTION = "How do I light my face?"


@pytest.fixture
def openai_server() -> Iterator[RecordedOpenAIServer]:
    with recorded_openai_server() as server:
        yield server


@pytest.fixture
def gen(openai_server: RecordedOpenAIServer) -> Iterator[OpenAICompatibleGenerator]:
    generator = OpenAICompatibleGenerator(openai_server.url, MODEL, timeout_s=5, retry_backoff_s=0)
    yield generator
    generator.close()


def ask(generator: Generator, **kw: Any) -> Generation:
    return generator.generate(
        system=kw.pop("system", SYSTEM),
        history=kw.pop("history", HISTORY),
        question=kw.pop("question", QUESTION),
        sources=kw.pop("sources", SOURCES),
        max_tokens=kw.pop("max_tokens", 512),
    )


class RecordingConverse:
    """A bedrock-runtime client that keeps the Converse request and replies ``text``."""

    def __init__(self, text: str = "ok [1]") -> None:
        self.text = text
        self.requests: list[dict[str, Any]] = []

    def converse(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": self.text}]}},
            "usage": {"inputTokens": 1, "outputTokens": 1},
        }


def test_implements_the_generator_port(gen: OpenAICompatibleGenerator) -> None:
    port: Generator = gen
    assert port.model_id == MODEL


def test_the_request_is_the_bedrock_conversation_in_chat_completions_form(
    openai_server: RecordedOpenAIServer, gen: OpenAICompatibleGenerator
) -> None:
    ask(gen)
    bedrock = RecordingConverse()
    ask(BedrockConverseGenerator(bedrock, "anthropic.claude"))

    [request] = openai_server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers  # no key configured: none sent
    body = request.body
    assert body["model"] == MODEL
    assert body["max_tokens"] == 512
    assert body["temperature"] == 0.2
    assert body["stream"] is False

    converse = bedrock.requests[0]
    system, *turns = body["messages"]
    # the very system prompt (grounding and honesty rules included) Bedrock gets
    assert system == {"role": "system", "content": converse["system"][0]["text"]}
    assert system["content"] == SYSTEM
    # the same turns; where Converse has one block per merged message, one text each
    assert turns == [
        {"role": m["role"], "content": "\n\n".join(b["text"] for b in m["content"])}
        for m in converse["messages"]
    ]
    final = build_user_turn(QUESTION, SOURCES)
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[-1]["content"] == f"And for lights?\n\n{final}"
    # sources numbered exactly as citations resolve: [n] is sources[n - 1]
    assert "[1] Lighting (at 2:03)\nUse two softboxes at 45 degrees." in final
    assert "[2] Audio guide (p. 4)\nRecord audio at 48 kHz." in final


def test_an_api_key_is_sent_as_a_bearer_token(openai_server: RecordedOpenAIServer) -> None:
    generator = OpenAICompatibleGenerator(openai_server.url + "/", MODEL, api_key="sk-local")
    try:
        ask(generator)
    finally:
        generator.close()
    [request] = openai_server.requests
    assert request.path == "/v1/chat/completions"  # a trailing slash on the root is fine
    assert request.headers["authorization"] == "Bearer sk-local"


def test_the_recorded_reply_is_parsed(gen: OpenAICompatibleGenerator) -> None:
    generation = ask(gen)
    assert generation.text == recorded("ollama_chat_completion")["choices"][0]["message"]["content"]
    assert generation.cited == [1, 2]
    assert (generation.input_tokens, generation.output_tokens) == (312, 41)
    assert generation.model_id == MODEL


@pytest.mark.parametrize(
    "raw",
    [
        "Softboxes [1]. Made up [3]. Zero [0]. Both [1, 7]. In [2024] too [2].",
        "No markers at all.",
        "   ",
        "[9]",
    ],
)
def test_citations_are_checked_against_the_sources_exactly_as_with_bedrock(
    openai_server: RecordedOpenAIServer, gen: OpenAICompatibleGenerator, raw: str
) -> None:
    openai_server.queue(Reply(200, completion(raw)))
    ours = ask(gen)
    theirs = ask(BedrockConverseGenerator(RecordingConverse(raw), "anthropic.claude"))
    assert (ours.text, ours.cited) == (theirs.text, theirs.cited)
    if raw.strip() in ("", "[9]"):
        assert ours.text == NOT_FOUND_ANSWER and ours.cited == []


def test_a_reasoning_model_thinking_is_never_the_answer_and_usage_is_estimated_without_counts(
    openai_server: RecordedOpenAIServer, gen: OpenAICompatibleGenerator
) -> None:
    openai_server.queue(Reply(200, recorded("reasoning_reply_without_usage")))
    generation = ask(gen)
    assert generation.text == "Use two softboxes at 45 degrees [1]."
    assert generation.cited == [1]
    # no usage in the reply: estimated as the prompt budget estimates, never zero
    assert generation.input_tokens > 50
    assert generation.output_tokens > 0

    openai_server.queue(Reply(200, completion("<think>out of tokens while thinking")))
    assert ask(gen).text == NOT_FOUND_ANSWER


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_a_busy_or_failing_server_is_unavailable_after_one_retry(
    openai_server: RecordedOpenAIServer, gen: OpenAICompatibleGenerator, status: int
) -> None:
    busy = Reply(status, {"error": {"message": "server busy", "type": "server_error"}})
    openai_server.queue(busy, busy)
    with pytest.raises(DependencyUnavailable, match=f"HTTP {status}"):
        ask(gen)
    assert len(openai_server.requests) == 2


def test_a_retry_that_succeeds_answers(
    openai_server: RecordedOpenAIServer, gen: OpenAICompatibleGenerator
) -> None:
    openai_server.queue(Reply(429, {"error": "slots busy"}, headers={"Retry-After": "0"}))
    assert ask(gen).cited == [1, 2]
    assert len(openai_server.requests) == 2


def test_a_refused_connection_is_unavailable() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    generator = OpenAICompatibleGenerator(
        f"http://127.0.0.1:{port}/v1", MODEL, timeout_s=2, retry_backoff_s=0
    )
    with pytest.raises(DependencyUnavailable, match="unreachable"):
        ask(generator)


def test_a_timeout_is_unavailable_and_not_retried(openai_server: RecordedOpenAIServer) -> None:
    openai_server.queue(Reply(200, completion("late [1]"), delay_s=1.0))
    generator = OpenAICompatibleGenerator(openai_server.url, MODEL, timeout_s=0.2)
    with pytest.raises(DependencyUnavailable, match="timed out"):
        ask(generator)
    generator.close()
    assert len(openai_server.requests) == 1  # the model may still be busy: no second call


@pytest.mark.parametrize(
    ("status", "body", "hint"),
    [
        (404, recorded("ollama_model_not_found"), "CREATOR_CHAT_OPENAI_MODEL"),
        (401, {"error": {"message": "Invalid API key"}}, "CREATOR_CHAT_OPENAI_API_KEY"),
        (400, recorded("vllm_context_too_long"), "context"),
    ],
)
def test_other_client_errors_are_clear_and_not_retried(
    openai_server: RecordedOpenAIServer,
    gen: OpenAICompatibleGenerator,
    caplog: pytest.LogCaptureFixture,
    status: int,
    body: Any,
    hint: str,
) -> None:
    openai_server.queue(Reply(status, body))
    with pytest.raises(DomainError, match=hint) as info:
        ask(gen)
    assert not isinstance(info.value, DependencyUnavailable)
    assert f"HTTP {status}" in info.value.message
    assert len(openai_server.requests) == 1
    # the server's own words are for the operator's log, not the fan's client
    logged = [getattr(r, "detail", "") for r in caplog.records]
    assert any(d and d in str(body) for d in logged), logged


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<html><body>It works!</body></html>", "not JSON"),
        ({"object": "list", "data": []}, "not a chat completion"),
        ({"choices": [{"index": 0}]}, "not a chat completion"),
    ],
)
def test_a_reply_that_is_not_a_chat_completion_is_a_clear_error(
    openai_server: RecordedOpenAIServer, gen: OpenAICompatibleGenerator, body: Any, match: str
) -> None:
    openai_server.queue(Reply(200, body))
    with pytest.raises(DomainError, match=match) as info:
        ask(gen)
    assert not isinstance(info.value, DependencyUnavailable)


# ------------------------------------------------------------------------ settings, wiring
def test_settings_choose_it_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, openai_server: RecordedOpenAIServer
) -> None:
    monkeypatch.setenv("CREATOR_CHAT_GENERATOR", "openai")
    monkeypatch.setenv("CREATOR_CHAT_OPENAI_BASE_URL", openai_server.url)
    monkeypatch.setenv("CREATOR_CHAT_OPENAI_MODEL", MODEL)
    monkeypatch.setenv("CREATOR_CHAT_OPENAI_API_KEY", "sk-local")
    monkeypatch.setenv("CREATOR_CHAT_OPENAI_TIMEOUT_S", "90")
    settings = Settings()
    assert settings.openai_timeout_s == 90
    assert "sk-local" not in repr(settings)
    container = Container(settings)
    generator = container.generator
    assert isinstance(generator, OpenAICompatibleGenerator)
    assert generator.model_id == MODEL
    ask(generator)
    assert openai_server.requests[0].headers["authorization"] == "Bearer sk-local"
    generator.close()


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({}, "CREATOR_CHAT_OPENAI_BASE_URL and CREATOR_CHAT_OPENAI_MODEL"),
        ({"openai_base_url": "http://localhost:11434/v1"}, "CREATOR_CHAT_OPENAI_MODEL"),
        ({"openai_model": MODEL, "openai_base_url": " "}, "CREATOR_CHAT_OPENAI_BASE_URL"),
        ({"openai_model": MODEL, "openai_base_url": "localhost:11434/v1"}, "http"),
    ],
)
def test_an_incomplete_openai_configuration_fails_at_start(
    values: dict[str, str], missing: str
) -> None:
    with pytest.raises(SettingsError, match=missing):
        Settings(generator="openai", **values)  # type: ignore[arg-type]

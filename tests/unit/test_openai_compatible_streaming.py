"""The OpenAI-compatible generator's streamed answers (server-sent events), against the
recorded server on loopback: deltas as the server sends them, usage, thinking held back,
failures mapped as the whole-reply path maps them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from creator_chat.adapters.openai_compatible import OpenAICompatibleGenerator
from creator_chat.domain.models import Chunk, Generation
from creator_chat.errors import DependencyUnavailable, DomainError

from tests.recorded_openai_server import (
    RecordedOpenAIServer,
    Reply,
    chunks,
    completion,
    recorded_openai_server,
)

SOURCES = [
    Chunk(chunk_id="a", creator_id="c1", document_id="d1", text="Two softboxes.", title="L"),
    Chunk(chunk_id="b", creator_id="c1", document_id="d2", text="48 kHz audio.", title="A"),
]


@pytest.fixture
def server() -> Iterator[RecordedOpenAIServer]:
    with recorded_openai_server() as s:
        yield s


@pytest.fixture
def gen(server: RecordedOpenAIServer) -> Iterator[OpenAICompatibleGenerator]:
    g = OpenAICompatibleGenerator(server.url, "llama3.1:8b", timeout_s=5, retry_backoff_s=0)
    yield g
    g.close()


def stream(gen: OpenAICompatibleGenerator) -> tuple[list[str], Generation]:
    deltas: list[str] = []
    result = gen.generate_stream(
        system="s",
        history=[],
        question="How do I light my face?",
        sources=SOURCES,
        max_tokens=100,
        on_delta=deltas.append,
    )
    return deltas, result


def test_deltas_arrive_as_sent_and_usage_is_read(
    gen: OpenAICompatibleGenerator, server: RecordedOpenAIServer
) -> None:
    usage = {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333}
    server.queue(
        Reply(events=chunks("Use two ", "softboxes [1]", ", and 48 kHz [2].", usage=usage))
    )
    deltas, result = stream(gen)
    assert deltas == ["Use two ", "softboxes [1]", ", and 48 kHz [2]."]
    assert result.text == "Use two softboxes [1], and 48 kHz [2]."
    assert result.cited == [1, 2]
    assert (result.input_tokens, result.output_tokens) == (321, 12)
    body = server.requests[-1].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_a_reasoning_models_thinking_is_never_shown(
    gen: OpenAICompatibleGenerator, server: RecordedOpenAIServer
) -> None:
    server.queue(Reply(events=chunks("<thi", "nk>the fan wants", " light</think>", "\n\nTwo [1].")))
    deltas, result = stream(gen)
    assert "".join(deltas) == "Two [1]."
    assert "think" not in result.text and result.text == "Two [1]."


def test_a_server_that_ignores_stream_answers_whole(
    gen: OpenAICompatibleGenerator, server: RecordedOpenAIServer
) -> None:
    server.queue(Reply(200, completion("Two softboxes [1].")))
    deltas, result = stream(gen)
    assert deltas == ["Two softboxes [1]."] and result.text == "Two softboxes [1]."


def test_busy_then_available_is_retried_before_anything_streams(
    gen: OpenAICompatibleGenerator, server: RecordedOpenAIServer
) -> None:
    server.queue(
        Reply(503, {"error": {"message": "loading model"}}), Reply(events=chunks("Hi [1]."))
    )
    deltas, _ = stream(gen)
    assert deltas == ["Hi [1]."] and len(server.requests) == 2


def test_failures_map_like_the_whole_reply_path(
    gen: OpenAICompatibleGenerator, server: RecordedOpenAIServer
) -> None:
    server.queue(Reply(503, {}), Reply(503, {}))
    with pytest.raises(DependencyUnavailable):
        stream(gen)
    server.queue(Reply(404, {"error": {"message": "model 'x' not found"}}))
    with pytest.raises(DomainError, match="CREATOR_CHAT_OPENAI_MODEL"):
        stream(gen)
    # an error event mid-stream (llama.cpp, vLLM): try again later, not a half answer
    server.queue(
        Reply(
            events=[
                '{"choices": [{"delta": {"content": "Two"}}]}',
                {"error": {"message": "out of memory"}},
            ]
        )
    )
    with pytest.raises(DependencyUnavailable):
        stream(gen)

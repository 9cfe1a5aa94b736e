"""The embedded default with written answers from a local model: a chat through the real
container (SQLite, the local embedder and index) with ``generator="openai"`` pointed at a
recorded OpenAI-compatible server on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from creator_chat.adapters.openai_compatible import OpenAICompatibleGenerator
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.models import Chunk, Creator, Identity, MessageStatus, Role, Tier
from creator_chat.prompting import build_system_prompt
from creator_chat.settings import Settings
from creator_chat.usecases.chat import answer_queued, ask

from tests.recorded_openai_server import (
    RecordedOpenAIServer,
    Reply,
    completion,
    recorded_openai_server,
)

NOTES = {
    "light": "Light your face with two softboxes at 45 degrees, one on each side, at eye level.",
    "audio": "Record your voice at 48 kHz with the microphone a hand's width from your mouth.",
    "edit": "Cut every pause longer than half a second when you edit a talking-head video.",
}
ANSWER = "Two softboxes at 45 degrees, one on each side of your face, at eye level [1]."


@pytest.fixture
def openai_server() -> Iterator[RecordedOpenAIServer]:
    with recorded_openai_server() as server:
        yield server


@pytest.fixture
def container(tmp_path: Path, openai_server: RecordedOpenAIServer) -> Iterator[Container]:
    settings = Settings(
        storage="embedded",
        data_dir=tmp_path,
        resource_prefix="openai-chat",
        generator="openai",
        openai_base_url=openai_server.url,
        openai_model="llama3.1:8b",
        openai_timeout_s=5,
    )
    c = Container(settings, clock=FixedClock(1_800_000_000.0))
    assert isinstance(c.generator, OpenAICompatibleGenerator)
    yield c
    c.close()  # the generator's connections too


def seed_creator(c: Container) -> Creator:
    creator_id = f"cr_{uuid.uuid4().hex[:10]}"
    creator = Creator(creator_id=creator_id, slug=creator_id.replace("_", "-"), name="Studio Sam")
    c.creators.create_creator(creator)
    chunks = [
        Chunk(
            chunk_id=f"{creator_id}-{key}",
            creator_id=creator_id,
            document_id=f"doc_{key}",
            text=text,
            title=f"{key.title()} notes",
            source_url=f"https://example.com/{key}",
            kind="markdown",
        )
        for key, text in NOTES.items()
    ]
    for chunk in chunks:
        [vector] = c.embedder.embed([chunk.text])
        c.index.replace_document(creator_id, chunk.document_id, [chunk], [vector])
    return creator


def fan() -> Identity:
    return Identity(user_id=f"fan-{uuid.uuid4().hex[:8]}", role=Role.FAN, tier=Tier.FREE)


def test_a_chat_is_answered_by_the_model_with_citations(
    container: Container, openai_server: RecordedOpenAIServer
) -> None:
    creator = seed_creator(container)
    openai_server.queue(Reply(200, completion(ANSWER, prompt_tokens=280, completion_tokens=19)))

    result = ask(container, fan(), creator.creator_id, "How should I light my face?")

    assert result.status is MessageStatus.ANSWERED
    assert result.answer == ANSWER
    assert [c.chunk_id for c in result.citations] == [f"{creator.creator_id}-light"]
    assert result.citations[0].url.startswith("https://example.com/light")

    [request] = openai_server.requests
    assert request.path == "/v1/chat/completions"
    system, user = request.body["messages"]
    assert system == {"role": "system", "content": build_system_prompt(creator, None)}
    assert user["role"] == "user"
    assert f"[1] Light notes\n{NOTES['light']}" in user["content"]
    assert user["content"].endswith("Question: How should I light my face?")

    [stored] = [
        m for m in container.threads.list_messages(result.thread_id) if m.role == "assistant"
    ]
    assert (stored.input_tokens, stored.output_tokens) == (280, 19)


def test_a_busy_model_queues_the_question_and_the_worker_answers_it(
    container: Container, openai_server: RecordedOpenAIServer
) -> None:
    creator = seed_creator(container)
    caller = fan()
    busy = Reply(503, {"error": {"message": "loading model", "type": "unavailable_error"}})
    openai_server.queue(busy, busy)

    result = ask(container, caller, creator.creator_id, "How should I light my face?")
    assert result.status is MessageStatus.PENDING  # queued, as with Bedrock throttling

    openai_server.queue(Reply(200, completion(ANSWER)))
    job = {
        "message_id": result.message_id,
        "thread_id": result.thread_id,
        "user_id": caller.user_id,
        "creator_id": creator.creator_id,
        "tier": caller.tier.value,
    }
    assert answer_queued(container, job, final_attempt=False) == "answered"
    answer = container.threads.get_message(result.thread_id, result.message_id)
    assert answer is not None and answer.status is MessageStatus.ANSWERED
    assert answer.content == ANSWER
    assert [c.chunk_id for c in answer.citations] == [f"{creator.creator_id}-light"]

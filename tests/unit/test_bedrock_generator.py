from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from botocore.stub import Stubber
from creator_chat.adapters.aws.bedrock_generator import (
    BedrockConverseGenerator,
    build_bedrock_runtime_client,
    build_messages,
    parse_citations,
)
from creator_chat.domain.models import Chunk
from creator_chat.errors import DependencyUnavailable, DomainError
from creator_chat.ports import Generator
from creator_chat.prompting import NOT_FOUND_ANSWER, build_user_turn

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"

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


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def stubber(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def reply(text: str, input_tokens: int = 321, output_tokens: int = 45) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": 420},
    }


def generate(client: Any, history: list[dict[str, str]] | None = None, **kw: Any) -> Any:
    gen = BedrockConverseGenerator(client, MODEL, temperature=kw.pop("temperature", 0.2))
    return gen.generate(
        system="SYSTEM PROMPT",
        history=history or [],
        question=kw.pop("question", "How do I light my face?"),
        sources=kw.pop("sources", SOURCES),
        max_tokens=kw.pop("max_tokens", 700),
    )


def test_implements_the_generator_port(client: Any) -> None:
    gen: Generator = BedrockConverseGenerator(client, MODEL)
    assert gen.model_id == MODEL


def test_exact_converse_request_and_parsed_reply(client: Any, stubber: Stubber) -> None:
    history = [
        {"role": "assistant", "content": "Hi! Ask me anything."},  # leading assistant: dropped
        {"role": "user", "content": "What mic do you use?"},
        {"role": "assistant", "content": "The SM7B [1]."},
        {"role": "user", "content": "And for lights?"},  # unanswered: merged with the final turn
    ]
    final_turn = build_user_turn("How do I light my face?", SOURCES)
    assert "[1] Lighting (at 2:03)\nUse two softboxes at 45 degrees." in final_turn
    assert "[2] Audio guide (p. 4)\nRecord audio at 48 kHz." in final_turn
    assert final_turn.endswith("Question: How do I light my face?")
    stubber.add_response(
        "converse",
        reply("Use two softboxes at 45 degrees [1]. Record at 48 kHz [2][1]."),
        expected_params={
            "modelId": MODEL,
            "system": [{"text": "SYSTEM PROMPT"}],
            "messages": [
                {"role": "user", "content": [{"text": "What mic do you use?"}]},
                {"role": "assistant", "content": [{"text": "The SM7B [1]."}]},
                {
                    "role": "user",
                    "content": [{"text": "And for lights?"}, {"text": final_turn}],
                },
            ],
            "inferenceConfig": {"maxTokens": 512, "temperature": 0.3},
        },
    )
    gen = generate(client, history, max_tokens=512, temperature=0.3)
    assert gen.text == "Use two softboxes at 45 degrees [1]. Record at 48 kHz [2][1]."
    assert gen.input_tokens == 321
    assert gen.output_tokens == 45
    assert gen.model_id == MODEL
    assert gen.cited == [1, 2]


def test_without_history_the_only_message_is_the_final_user_turn(
    client: Any, stubber: Stubber
) -> None:
    stubber.add_response(
        "converse",
        reply("Two softboxes [1]."),
        expected_params={
            "modelId": MODEL,
            "system": [{"text": "SYSTEM PROMPT"}],
            "messages": [
                {
                    "role": "user",
                    "content": [{"text": build_user_turn("How do I light my face?", SOURCES)}],
                }
            ],
            "inferenceConfig": {"maxTokens": 700, "temperature": 0.2},
        },
    )
    assert generate(client).cited == [1]


def test_out_of_range_markers_are_dropped(client: Any, stubber: Stubber) -> None:
    stubber.add_response(
        "converse", reply("Softboxes [1]. Made up [3]. Zero [0]. Both [1, 7]. In [2024] too [2].")
    )
    gen = generate(client)
    assert gen.cited == [1, 2]
    assert gen.text == "Softboxes [1]. Made up. Zero. Both [1]. In [2024] too [2]."


def test_reply_without_markers_cites_nothing(client: Any, stubber: Stubber) -> None:
    stubber.add_response("converse", reply("I did not find this in the creator's content."))
    gen = generate(client)
    assert gen.cited == []
    assert gen.text == "I did not find this in the creator's content."


def test_empty_reply_becomes_not_found(client: Any, stubber: Stubber) -> None:
    stubber.add_response("converse", reply("  "))
    gen = generate(client)
    assert gen.text == NOT_FOUND_ANSWER
    assert gen.cited == []


@pytest.mark.parametrize(
    "code",
    ["ThrottlingException", "ServiceUnavailableException", "ModelNotReadyException"],
)
def test_transient_errors_raise_dependency_unavailable(
    client: Any, stubber: Stubber, code: str
) -> None:
    stubber.add_client_error("converse", service_error_code=code, http_status_code=429)
    with pytest.raises(DependencyUnavailable):
        generate(client)


def test_other_client_errors_are_not_retryable(client: Any, stubber: Stubber) -> None:
    stubber.add_client_error(
        "converse", service_error_code="ValidationException", http_status_code=400
    )
    with pytest.raises(DomainError) as info:
        generate(client)
    assert not isinstance(info.value, DependencyUnavailable)


@pytest.mark.parametrize(
    "exc",
    [
        ReadTimeoutError(endpoint_url="https://bedrock-runtime"),
        ConnectTimeoutError(endpoint_url="https://bedrock-runtime"),
    ],
)
def test_timeouts_raise_dependency_unavailable(exc: Exception) -> None:
    class TimingOut:
        def converse(self, **_: Any) -> Any:
            raise exc

    with pytest.raises(DependencyUnavailable):
        generate(TimingOut())


def test_build_messages_alternates_and_starts_with_user() -> None:
    history = [
        {"role": "assistant", "content": "welcome"},
        {"role": "user", "content": "a"},
        {"role": "user", "content": "b"},
        {"role": "system", "content": "ignored"},
        {"role": "assistant", "content": ""},
        {"role": "assistant", "content": "c"},
        {"role": "assistant", "content": "d"},
    ]
    messages = build_messages(history, "final")
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == [{"text": "a"}, {"text": "b"}]
    assert messages[1]["content"] == [{"text": "c"}, {"text": "d"}]
    assert messages[2]["content"] == [{"text": "final"}]


def test_parse_citations_handles_lists_and_keeps_valid_text() -> None:
    assert parse_citations("A [1,2] B [2][3].", 3) == ("A [1,2] B [2][3].", [1, 2, 3])
    assert parse_citations("A [2, 9].", 2) == ("A [2].", [2])


def test_client_factory_uses_adaptive_retries_and_timeouts() -> None:
    client = build_bedrock_runtime_client(
        "eu-west-1", endpoint_url="http://localhost:4566", timeout_s=7, max_attempts=5
    )
    config = client.meta.config
    assert client.meta.service_model.service_name == "bedrock-runtime"
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "http://localhost:4566"
    assert config.read_timeout == 7
    assert config.retries["mode"] == "adaptive"
    assert config.retries["total_max_attempts"] == 5


def test_a_follow_up_is_rewritten_in_one_short_converse_call(client: Any, stubber: Stubber):
    from creator_chat.adapters.aws.bedrock_generator import REWRITE_MAX_TOKENS, REWRITE_SYSTEM

    stubber.add_response(
        "converse",
        reply("  How often should I top up the sealant in a road tyre?\n"),
        {
            "modelId": MODEL,
            "system": [{"text": REWRITE_SYSTEM}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "text": "Earlier questions:\n- How much sealant goes in a road tyre?"
                            "\n\nFollow-up: And how often do I top it up?"
                        }
                    ],
                }
            ],
            "inferenceConfig": {"maxTokens": REWRITE_MAX_TOKENS, "temperature": 0.0},
        },
    )
    gen = BedrockConverseGenerator(client, MODEL)

    rewritten = gen.rewrite_question(
        earlier=["How much sealant goes in a road tyre?"], question="And how often do I top it up?"
    )

    assert rewritten == "How often should I top up the sealant in a road tyre?"


def test_a_throttled_rewrite_is_a_dependency_failure(client: Any, stubber: Stubber):
    stubber.add_client_error("converse", service_error_code="ThrottlingException")
    with pytest.raises(DependencyUnavailable):
        BedrockConverseGenerator(client, MODEL).rewrite_question(earlier=["a b c"], question="And?")

"""The Bedrock Rerank adapter at its boundary: the exact request botocore validates and sends,
and real-shaped responses (botocore's Stubber; moto does not implement the Rerank API)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError
from botocore.stub import Stubber
from creator_chat.adapters.aws.bedrock_reranker import (
    AMAZON_RERANK_V1,
    COHERE_RERANK_V3_5,
    BedrockReranker,
    model_arn,
)
from creator_chat.domain.models import Chunk, SearchHit
from creator_chat.errors import DependencyUnavailable


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "bedrock-agent-runtime",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def stubber(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def hit(n: int, text: str, *, heading: str = "", similarity: float = 0.5) -> SearchHit:
    chunk = Chunk(
        chunk_id=f"d{n}:0000",
        creator_id="c1",
        document_id=f"d{n}",
        text=text,
        title=f"Doc {n}",
        heading=heading,
    )
    return SearchHit(chunk, score=0.9 - n / 10, similarity=similarity)


def source(text: str) -> dict[str, Any]:
    return {
        "type": "INLINE",
        "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": text}},
    }


def expected_request(query: str, texts: list[str], n: int, model: str) -> dict[str, Any]:
    return {
        "queries": [{"type": "TEXT", "textQuery": {"text": query}}],
        "sources": [source(t) for t in texts],
        "rerankingConfiguration": {
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": {
                "numberOfResults": n,
                "modelConfiguration": {"modelArn": model},
            },
        },
    }


def test_orders_hits_by_relevance_and_keeps_the_cosine(client: Any, stubber: Stubber) -> None:
    hits = [
        hit(0, "Grind finer for espresso.", similarity=0.61),
        hit(1, "Steam the milk to 60 C.", heading="Milk", similarity=0.42),
        hit(2, "Descale monthly.", similarity=0.38),
    ]
    arn = "arn:aws:bedrock:eu-west-1::foundation-model/amazon.rerank-v1:0"
    stubber.add_response(
        "rerank",
        {"results": [{"index": 1, "relevanceScore": 0.93}, {"index": 0, "relevanceScore": 0.41}]},
        expected_request(
            "how hot should milk be?",
            ["Grind finer for espresso.", "Milk\nSteam the milk to 60 C.", "Descale monthly."],
            2,
            arn,
        ),
    )
    out = BedrockReranker(client).rerank("how hot should milk be?", hits, top_n=2)
    assert [h.chunk.document_id for h in out] == ["d1", "d0"]
    assert [h.score for h in out] == [0.93, 0.41]
    assert [h.similarity for h in out] == [0.42, 0.61]  # the gate still sees the cosine


def test_results_out_of_order_are_sorted_and_capped(client: Any, stubber: Stubber) -> None:
    hits = [hit(0, "a"), hit(1, "b")]
    stubber.add_response(
        "rerank",
        {"results": [{"index": 0, "relevanceScore": 0.2}, {"index": 1, "relevanceScore": 0.7}]},
    )
    out = BedrockReranker(client, model_id=COHERE_RERANK_V3_5).rerank("q", hits, top_n=5)
    assert [h.chunk.document_id for h in out] == ["d1", "d0"]


def test_nothing_to_rerank_makes_no_call(client: Any, stubber: Stubber) -> None:
    reranker = BedrockReranker(client)
    assert reranker.rerank("q", [], top_n=5) == []
    assert reranker.rerank("q", [hit(0, "a")], top_n=0) == []


def test_an_unknown_index_is_an_error(client: Any, stubber: Stubber) -> None:
    stubber.add_response("rerank", {"results": [{"index": 3, "relevanceScore": 0.9}]})
    with pytest.raises(ValueError, match="unknown source index 3"):
        BedrockReranker(client).rerank("q", [hit(0, "a")], top_n=1)


def test_throttling_is_a_dependency_failure(client: Any, stubber: Stubber) -> None:
    stubber.add_client_error("rerank", "ThrottlingException", http_status_code=429)
    with pytest.raises(DependencyUnavailable, match="ThrottlingException"):
        BedrockReranker(client).rerank("q", [hit(0, "a")], top_n=1)


def test_access_denied_propagates(client: Any, stubber: Stubber) -> None:
    stubber.add_client_error("rerank", "AccessDeniedException", http_status_code=403)
    with pytest.raises(Exception, match="AccessDenied") as info:
        BedrockReranker(client).rerank("q", [hit(0, "a")], top_n=1)
    assert not isinstance(info.value, DependencyUnavailable)


def test_network_failure_is_a_dependency_failure(client: Any) -> None:
    def fail(**_: Any) -> None:
        raise ConnectTimeoutError(endpoint_url="https://bedrock-agent-runtime.example")

    client.meta.events.register("before-send.bedrock-agent-runtime.Rerank", fail)
    with pytest.raises(DependencyUnavailable, match="unreachable"):
        BedrockReranker(client).rerank("q", [hit(0, "a")], top_n=1)


def test_model_arn() -> None:
    assert model_arn("us-east-1", AMAZON_RERANK_V1) == (
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.rerank-v1:0"
    )
    own = "arn:aws:bedrock:us-west-2::foundation-model/cohere.rerank-v3-5:0"
    assert model_arn("us-east-1", own) == own

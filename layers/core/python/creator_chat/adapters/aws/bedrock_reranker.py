"""Reranker on the Bedrock Rerank API (``bedrock-agent-runtime`` ``Rerank``).

A rerank stage sits between retrieval and the prompt: the index returns a wider set of
candidate chunks (hybrid cosine + BM25), a cross-encoder served by Bedrock reads the question
with each candidate and orders them, and the best ``top_n`` go on. Each hit keeps its raw
cosine (``similarity``), so the answerability gate (a floor on the cosine, or an exact rare
term) judges the same evidence as without a reranker; only ``score`` and the order change.

Not wired into the chat path yet (``usecases/chat.py`` owns that): no package on PyPI ships a
cross-encoder that loads without a network, so the embedded default has no local
counterpart, and the AWS path has not been measured on the FAQ set (that needs Bedrock).

Errors follow the other Bedrock adapters: throttling or an unavailable service after the
client's own retries raises :class:`~creator_chat.errors.DependencyUnavailable` (a caller may
then fall back to the retrieval order); anything else (validation, access denied) propagates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from creator_chat.adapters.aws.bedrock_errors import NETWORK_ERRORS, TRANSIENT_ERROR_CODES
from creator_chat.domain.models import SearchHit
from creator_chat.errors import DependencyUnavailable

AMAZON_RERANK_V1 = "amazon.rerank-v1:0"
COHERE_RERANK_V3_5 = "cohere.rerank-v3-5:0"


def model_arn(region: str, model_id: str) -> str:
    """The foundation-model ARN the Rerank API wants (it takes no bare model id)."""
    if model_id.startswith("arn:"):
        return model_id
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def rerank_text(hit: SearchHit) -> str:
    """What the cross-encoder reads for a chunk: its heading (when any) above its text."""
    heading = hit.chunk.heading.strip()
    return f"{heading}\n{hit.chunk.text}" if heading else hit.chunk.text


class BedrockReranker:
    """Orders search hits with a Bedrock reranking model; see the module docstring.

    ``client`` is a ``bedrock-agent-runtime`` client (boto3 ships no type stubs for it here).
    """

    def __init__(self, client: Any, *, model_id: str = AMAZON_RERANK_V1) -> None:
        self._client = client
        self._model_id = model_id
        self._arn = model_arn(str(client.meta.region_name), model_id)

    @property
    def model_id(self) -> str:
        return self._model_id

    def rerank(self, query: str, hits: Sequence[SearchHit], *, top_n: int) -> list[SearchHit]:
        """The ``top_n`` best of ``hits`` for ``query``, best first, ``score`` the model's
        relevance; ``similarity`` (the cosine) is kept as it was."""
        if top_n <= 0 or not hits:
            return []
        wanted = min(top_n, len(hits))
        try:
            response = self._client.rerank(
                queries=[{"type": "TEXT", "textQuery": {"text": query}}],
                sources=[
                    {
                        "type": "INLINE",
                        "inlineDocumentSource": {
                            "type": "TEXT",
                            "textDocument": {"text": rerank_text(hit)},
                        },
                    }
                    for hit in hits
                ],
                rerankingConfiguration={
                    "type": "BEDROCK_RERANKING_MODEL",
                    "bedrockRerankingConfiguration": {
                        "numberOfResults": wanted,
                        "modelConfiguration": {"modelArn": self._arn},
                    },
                },
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in TRANSIENT_ERROR_CODES:
                raise DependencyUnavailable(f"Bedrock rerank unavailable: {code}") from exc
            raise
        except NETWORK_ERRORS as exc:
            raise DependencyUnavailable(f"Bedrock rerank unreachable: {exc}") from exc
        out: list[SearchHit] = []
        seen: set[int] = set()
        for result in sorted(response.get("results", []), key=lambda r: -r["relevanceScore"]):
            index = int(result["index"])
            if not 0 <= index < len(hits) or index in seen:
                raise ValueError(f"{self._model_id} returned an unknown source index {index}")
            seen.add(index)
            hit = hits[index]
            score = min(max(float(result["relevanceScore"]), 0.0), 1.0)
            out.append(SearchHit(hit.chunk, score, hit.similarity))
        return out[:wanted]

"""Embedder on Amazon Titan Text Embeddings v2 (``bedrock-runtime`` ``InvokeModel``).

Titan v2 embeds one text per request, so a batch is a few requests in parallel on a small
thread pool (boto3 clients are thread-safe). Retries and back-off are the client's own
(botocore adaptive mode, configured by whoever builds the client); what is still throttled or
unavailable after them raises :class:`~creator_chat.errors.DependencyUnavailable`, so ingest
can redrive the job and chat can answer 503. Anything else (validation, access denied) is a
bug or a misconfiguration and propagates unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from creator_chat.adapters.aws.bedrock_errors import NETWORK_ERRORS, TRANSIENT_ERROR_CODES
from creator_chat.errors import DependencyUnavailable

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

TITAN_V2_MODEL_ID = "amazon.titan-embed-text-v2:0"
TITAN_V2_DIMENSIONS = frozenset({256, 512, 1024})


class BedrockEmbedder:
    """Implements ``ports.Embedder`` with Titan Text Embeddings v2, normalised vectors."""

    def __init__(
        self,
        client: BedrockRuntimeClient,
        *,
        model_id: str = TITAN_V2_MODEL_ID,
        dimensions: int = 1024,
        max_workers: int = 4,
    ) -> None:
        if model_id.startswith("amazon.titan-embed-text-v2") and (
            dimensions not in TITAN_V2_DIMENSIONS
        ):
            raise ValueError(f"Titan v2 dimensions must be one of {sorted(TITAN_V2_DIMENSIONS)}")
        if max_workers < 1:
            raise ValueError("max_workers must be >= 1")
        self._client = client
        self._model_id = model_id
        self._dimensions = dimensions
        self._max_workers = max_workers

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimensions

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if len(texts) <= 1 or self._max_workers == 1:
            # A query is one text: no pool, no thread hop on the latency path.
            return [self._embed_one(text) for text in texts]
        pool = ThreadPoolExecutor(
            max_workers=min(self._max_workers, len(texts)), thread_name_prefix="titan-embed"
        )
        futures: list[Future[list[float]]] = [pool.submit(self._embed_one, t) for t in texts]
        try:
            return [future.result() for future in futures]
        finally:
            # On the first failure, drop the requests not yet sent: more calls to a throttled
            # service only deepen the throttling.
            pool.shutdown(wait=True, cancel_futures=True)

    def _embed_one(self, text: str) -> list[float]:
        body = json.dumps({"inputText": text, "dimensions": self._dimensions, "normalize": True})
        try:
            response = self._client.invoke_model(
                modelId=self._model_id,
                body=body,
                contentType="application/json",
                accept="application/json",
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in TRANSIENT_ERROR_CODES:
                raise DependencyUnavailable(f"Bedrock embeddings unavailable: {code}") from exc
            raise
        except NETWORK_ERRORS as exc:
            raise DependencyUnavailable(f"Bedrock embeddings unreachable: {exc}") from exc
        payload: dict[str, Any] = json.loads(response["body"].read())
        embedding = payload.get("embedding")
        if not isinstance(embedding, list) or len(embedding) != self._dimensions:
            got = len(embedding) if isinstance(embedding, list) else type(embedding).__name__
            raise ValueError(f"{self._model_id} returned {got} values, expected {self._dimensions}")
        return [float(x) for x in embedding]

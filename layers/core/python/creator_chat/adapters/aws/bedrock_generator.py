"""Generator on Amazon Bedrock's Converse API (model-agnostic request/response shape).

The request is ``system=[{"text": system}]``, the conversation history normalised so roles
alternate and the first turn is the fan's, then a final user turn holding the numbered
sources and the question (:func:`creator_chat.prompting.build_user_turn`). Citations are
the ``[n]`` markers in the reply that point at a source that exists. The normalisation of
turns and the reading of citations are shared with every LLM adapter
(:mod:`creator_chat.adapters.llm_common`).

Transient failures (throttling, service unavailable, model not ready, timeouts, connection
errors) raise :class:`~creator_chat.errors.DependencyUnavailable` so the chat layer can queue
the request; anything else raises a plain :class:`~creator_chat.errors.DomainError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from creator_chat.adapters.aws.bedrock_errors import NETWORK_ERRORS, TRANSIENT_ERROR_CODES
from creator_chat.adapters.aws.clients import new_client
from creator_chat.adapters.llm_common import (
    conversation_turns,
    finish_generation,
    parse_citations,
)
from creator_chat.domain.models import Chunk, Generation
from creator_chat.errors import DependencyUnavailable, DomainError
from creator_chat.prompting import build_user_turn

__all__ = [
    "TRANSIENT_ERROR_CODES",
    "BedrockConverseGenerator",
    "build_bedrock_runtime_client",
    "build_messages",
    "parse_citations",
]


REWRITE_SYSTEM = (
    "You rewrite a fan's follow-up question so that it can be understood on its own, using "
    "their earlier questions for what it refers to. Keep the fan's words where you can. "
    "Reply with the rewritten question only, nothing else."
)
REWRITE_MAX_TOKENS = 80
# errors ConverseStream sends inside the stream (event names, first letter lower-case):
# the model or the service failed mid-answer — try again later
STREAM_TRANSIENT_CODES = TRANSIENT_ERROR_CODES | {"ModelStreamErrorException"}


def build_bedrock_runtime_client(
    region: str,
    endpoint_url: str | None = None,
    timeout_s: float = 20,
    max_attempts: int = 3,
    service: str = "bedrock-runtime",
) -> Any:
    """A bedrock-runtime client with adaptive retries and bounded timeouts.

    ``max_attempts`` counts every attempt, the first included (botocore's
    ``total_max_attempts``). Retries that are still throttled surface as
    :class:`DependencyUnavailable` from :meth:`BedrockConverseGenerator.generate`.
    """
    config = Config(
        retries={"mode": "adaptive", "total_max_attempts": max_attempts},
        read_timeout=timeout_s,
        connect_timeout=min(5.0, float(timeout_s)),
    )
    return new_client(service, region_name=region, endpoint_url=endpoint_url, config=config)


def build_messages(
    history: Sequence[Mapping[str, str]], final_user_text: str
) -> list[dict[str, Any]]:
    """Converse ``messages``: history + the final user turn, roles alternating, user first
    (:func:`~creator_chat.adapters.llm_common.conversation_turns`); consecutive turns of the
    same role are one message with one content block each."""
    return [
        {"role": turn.role, "content": [{"text": text} for text in turn.texts]}
        for turn in conversation_turns(history, final_user_text)
    ]


class BedrockConverseGenerator:
    """Answers with a Bedrock model through the Converse API."""

    def __init__(self, client: Any, model_id: str, *, temperature: float = 0.2) -> None:
        self._client = client
        self._model_id = model_id
        self._temperature = temperature

    @property
    def model_id(self) -> str:
        return self._model_id

    def rewrite_question(self, *, earlier: Sequence[str], question: str) -> str:
        """A follow-up rewritten as the standalone question it stands for, from the fan's
        earlier questions (a short Converse call; the chat caches it and falls back to
        ``retrieval.standalone_question`` when this raises)."""
        turns = "\n".join(f"- {q}" for q in earlier)
        request: dict[str, Any] = {
            "modelId": self._model_id,
            "system": [{"text": REWRITE_SYSTEM}],
            "messages": [
                {
                    "role": "user",
                    "content": [{"text": f"Earlier questions:\n{turns}\n\nFollow-up: {question}"}],
                }
            ],
            "inferenceConfig": {"maxTokens": REWRITE_MAX_TOKENS, "temperature": 0.0},
        }
        response = self._converse(request)
        content = response.get("output", {}).get("message", {}).get("content", [])
        text = " ".join("".join(b["text"] for b in content if "text" in b).split())
        if not text or len(text) > 400:
            raise DomainError("bedrock gave no usable rewrite")
        return text

    def _converse(self, request: dict[str, Any]) -> Any:
        try:
            return self._client.converse(**request)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in TRANSIENT_ERROR_CODES:
                raise DependencyUnavailable(f"bedrock is unavailable: {code}") from exc
            raise DomainError(f"bedrock generation failed: {code or 'unknown error'}") from exc
        except NETWORK_ERRORS as exc:
            raise DependencyUnavailable(f"bedrock timed out: {type(exc).__name__}") from exc

    def generate(
        self,
        *,
        system: str,
        history: Sequence[Mapping[str, str]],
        question: str,
        sources: Sequence[Chunk],
        max_tokens: int,
    ) -> Generation:
        request: dict[str, Any] = {
            "modelId": self._model_id,
            "system": [{"text": system}],
            "messages": build_messages(history, build_user_turn(question, sources)),
            "inferenceConfig": {"maxTokens": max_tokens, "temperature": self._temperature},
        }
        response = self._converse(request)
        content = response.get("output", {}).get("message", {}).get("content", [])
        raw = "".join(block["text"] for block in content if "text" in block)
        usage = response.get("usage", {})
        return finish_generation(
            raw,
            source_count=len(sources),
            input_tokens=int(usage.get("inputTokens", 0)),
            output_tokens=int(usage.get("outputTokens", 0)),
            model_id=self._model_id,
        )

    def generate_stream(
        self,
        *,
        system: str,
        history: Sequence[Mapping[str, str]],
        question: str,
        sources: Sequence[Chunk],
        max_tokens: int,
        on_delta: Callable[[str], None],
    ) -> Generation:
        """As :meth:`generate`, through ``ConverseStream``: each text delta goes to
        ``on_delta`` as it arrives. A failure before or during the stream raises like
        :meth:`generate` (transient → :class:`DependencyUnavailable`): the chat then queues
        the question, and the page drops what it had shown."""
        request: dict[str, Any] = {
            "modelId": self._model_id,
            "system": [{"text": system}],
            "messages": build_messages(history, build_user_turn(question, sources)),
            "inferenceConfig": {"maxTokens": max_tokens, "temperature": self._temperature},
        }
        try:
            response = self._client.converse_stream(**request)
            raw: list[str] = []
            usage: Mapping[str, Any] = {}
            for event in response["stream"]:
                if "contentBlockDelta" in event:
                    text = event["contentBlockDelta"].get("delta", {}).get("text")
                    if text:
                        raw.append(text)
                        on_delta(text)
                elif "metadata" in event:
                    usage = event["metadata"].get("usage", {})
                else:
                    _raise_stream_error(event)
        except ClientError as exc:  # EventStreamError (an error event) is one too
            code = str(exc.response.get("Error", {}).get("Code", ""))
            code = code[:1].upper() + code[1:]
            if code in STREAM_TRANSIENT_CODES:
                raise DependencyUnavailable(f"bedrock is unavailable: {code}") from exc
            raise DomainError(f"bedrock generation failed: {code or 'unknown error'}") from exc
        except NETWORK_ERRORS as exc:
            raise DependencyUnavailable(f"bedrock timed out: {type(exc).__name__}") from exc
        return finish_generation(
            "".join(raw),
            source_count=len(sources),
            input_tokens=int(usage.get("inputTokens", 0)),
            output_tokens=int(usage.get("outputTokens", 0)),
            model_id=self._model_id,
        )


def _raise_stream_error(event: Mapping[str, Any]) -> None:
    """An error event read as a plain dict (a stubbed stream): raise it as botocore would."""
    for name, body in event.items():
        if name.endswith("Exception"):
            message = body.get("message", "") if isinstance(body, Mapping) else ""
            raise ClientError({"Error": {"Code": name, "Message": message}}, "ConverseStream")

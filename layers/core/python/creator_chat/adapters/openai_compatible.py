"""Generator on any server speaking OpenAI's chat completions API: Ollama, llama.cpp's
``llama-server``, vLLM (and OpenAI itself, or any gateway that mimics it).

``POST {base_url}/chat/completions`` with ``messages`` = the system prompt, the history and
a final user turn holding the numbered sources and the question — the very conversation the
Bedrock adapter sends (:mod:`creator_chat.adapters.llm_common`, consecutive same-role turns
joined by a blank line where Converse gives them one content block each), and citations read
the same way: the ``[n]`` markers that point at a source that was sent. Streamed answers
(``generate_stream``) ask for server-sent events (``"stream": true``, usage in the last
event where the server supports ``stream_options``) and pass each content delta on; a
reasoning model's leading ``<think>`` block is held back and never shown.

Failures map as Bedrock's do, so the chat's circuit breaker and queued path behave the same:
connection refused or reset, timeouts, 429 and 5xx raise
:class:`~creator_chat.errors.DependencyUnavailable` (after one retry for a refused connection,
429 or 5xx); any other 4xx, or a reply that is not a chat completion, raises a
:class:`~creator_chat.errors.DomainError` saying what to check. The server's own words go
to the log, not into the error a fan's client reads.

Not in :mod:`creator_chat.adapters.aws` nor :mod:`creator_chat.adapters.embedded`: it is
neither an AWS service nor in-process, but a client of a server the operator runs.

Built on httpx rather than the ``openai`` package: the call is one JSON POST, the package
would be one more dependency (with its own retry and timeout policies to override) for no
gain, and httpx is already what the project's own HTTP clients use (``creator-chat ingest``).
It is in the ``local`` extra, not in the Lambda layer: deployed functions answer with Bedrock.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import httpx

from creator_chat.adapters.llm_common import conversation_turns, finish_generation
from creator_chat.domain.models import Chunk, Generation
from creator_chat.errors import DependencyUnavailable, DomainError
from creator_chat.prompting import MESSAGE_OVERHEAD_TOKENS, build_user_turn, estimate_tokens

__all__ = ["OpenAICompatibleGenerator", "build_chat_messages"]

_log = logging.getLogger(__name__)

# Reasoning models served by Ollama or llama.cpp (DeepSeek-R1, Qwen3...) may put their
# thinking in the content, before the answer: it is never shown to a fan.
# An unclosed block (the reply ran out of tokens while thinking) leaves no answer at all.
_THINK_RE = re.compile(r"^\s*<think>(?:.*?</think>|.*\Z)", re.DOTALL)
_MAX_DETAIL_CHARS = 300
_MAX_RETRY_AFTER_S = 5.0


def build_chat_messages(
    system: str, history: Sequence[Mapping[str, str]], final_user_text: str
) -> list[dict[str, str]]:
    """Chat completions ``messages``: the system prompt, then history + the final user turn
    as :func:`~creator_chat.adapters.llm_common.conversation_turns` normalises them."""
    messages = [{"role": "system", "content": system}]
    messages += [
        {"role": turn.role, "content": "\n\n".join(turn.texts)}
        for turn in conversation_turns(history, final_user_text)
    ]
    return messages


class OpenAICompatibleGenerator:
    """Answers with a model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    ``base_url`` is the API root the server documents, ``/v1`` included:
    ``http://localhost:11434/v1`` (Ollama), ``http://localhost:8080/v1`` (llama.cpp),
    ``http://localhost:8000/v1`` (vLLM). ``timeout_s`` bounds reading the whole reply (a
    model on a CPU is slow); connecting is bounded by 5 s at most.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        temperature: float = 0.2,
        max_attempts: int = 2,
        retry_backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url or not model:
            raise ValueError("an OpenAI-compatible generator needs a base URL and a model")
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._temperature = temperature
        self._max_attempts = max(1, max_attempts)
        self._retry_backoff_s = retry_backoff_s
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)),
            transport=transport,
            trust_env=False,  # a local model server is not reached through HTTP(S)_PROXY
        )

    @property
    def model_id(self) -> str:
        return self._model

    def close(self) -> None:
        self._client.close()

    def generate(
        self,
        *,
        system: str,
        history: Sequence[Mapping[str, str]],
        question: str,
        sources: Sequence[Chunk],
        max_tokens: int,
    ) -> Generation:
        messages = build_chat_messages(system, history, build_user_turn(question, sources))
        body = {
            "model": self._model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": self._temperature,
            "stream": False,
        }
        reply = self._post(body)
        usage = reply.get("usage")
        return self._finish(
            _reply_text(reply), usage if isinstance(usage, dict) else {}, messages, len(sources)
        )

    def _finish(
        self,
        raw: str,
        usage: Mapping[str, Any],
        messages: Sequence[Mapping[str, str]],
        source_count: int,
    ) -> Generation:
        """The reply as a Generation, with the server's token counts — or, from a server that
        does not count, the prompt budget's own estimates."""
        input_tokens = _int_or_none(usage.get("prompt_tokens"))
        output_tokens = _int_or_none(usage.get("completion_tokens"))
        if input_tokens is None:
            input_tokens = sum(
                estimate_tokens(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in messages
            )
        if output_tokens is None:
            output_tokens = estimate_tokens(raw)
        return finish_generation(
            raw,
            source_count=source_count,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            model_id=self._model,
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
        """As :meth:`generate`, streamed: each content delta goes to ``on_delta`` as the
        server sends it (a leading ``<think>`` block excepted). A server that answers with
        a whole completion instead is read as one delta. Failures before the first byte
        are retried as :meth:`generate` retries them; a stream that breaks midway raises
        :class:`DependencyUnavailable` (the chat queues the question)."""
        messages = build_chat_messages(system, history, build_user_turn(question, sources))
        body = {
            "model": self._model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": self._temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        shown = _ThinkFilter()
        raw: list[str] = []
        usage: Mapping[str, Any] = {}
        try:
            with self._open_stream(body) as response:
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    response.read()
                    whole = _reply_text(_decode(response))
                    raw.append(whole)
                    if whole:
                        on_delta(whole)
                else:
                    for event in _events(response.iter_lines()):
                        usage = event.get("usage") or usage
                        for piece in _delta_texts(event):
                            raw.append(piece)
                            visible = shown.feed(piece)
                            if visible:
                                on_delta(visible)
                    rest = shown.finish()
                    if rest:
                        on_delta(rest)
        except httpx.TimeoutException as exc:
            raise DependencyUnavailable(
                f"the model server timed out ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise DependencyUnavailable(
                f"the model server dropped the stream ({type(exc).__name__})"
            ) from exc
        text = _THINK_RE.sub("", "".join(raw), count=1)
        return self._finish(text, usage, messages, len(sources))

    @contextmanager
    def _open_stream(self, body: dict[str, Any]) -> Iterator[httpx.Response]:
        """An open streaming response with a 2xx status (retrying, like :meth:`_post`, what
        failed before anything was read)."""
        for attempt in range(1, self._max_attempts + 1):
            last = attempt == self._max_attempts
            try:
                with self._client.stream("POST", self._url, json=body) as response:
                    status = response.status_code
                    if status == 429 or status >= 500:
                        response.read()
                        _log.warning(
                            "model server busy or failing",
                            extra={"status": status, "detail": _detail(response)},
                        )
                        if not last:
                            time.sleep(_retry_after(response, self._retry_backoff_s * attempt))
                            continue
                        raise DependencyUnavailable(
                            f"the model server is unavailable (HTTP {status})"
                        )
                    if status >= 400:
                        response.read()
                        _log.error(
                            "model server refused the request",
                            extra={"status": status, "detail": _detail(response)},
                        )
                        raise DomainError(f"the model server refused the request: {_hint(status)}")
                    yield response
                    return
            except httpx.ConnectError as exc:
                if not last:
                    time.sleep(self._retry_backoff_s * attempt)
                    continue
                raise DependencyUnavailable(
                    f"the model server at {self._url} is unreachable ({type(exc).__name__})"
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        """The decoded reply of one successful POST (retrying what is worth retrying)."""
        for attempt in range(1, self._max_attempts + 1):
            last = attempt == self._max_attempts
            try:
                response = self._client.post(self._url, json=body)
            except httpx.ConnectError as exc:  # refused, unreachable: nothing was sent
                if not last:
                    time.sleep(self._retry_backoff_s * attempt)
                    continue
                raise DependencyUnavailable(
                    f"the model server at {self._url} is unreachable ({type(exc).__name__})"
                ) from exc
            except httpx.TimeoutException as exc:  # the model may still be busy: no retry
                raise DependencyUnavailable(
                    f"the model server timed out ({type(exc).__name__})"
                ) from exc
            except httpx.TransportError as exc:  # connection reset, protocol error
                raise DependencyUnavailable(
                    f"the model server dropped the request ({type(exc).__name__})"
                ) from exc

            status = response.status_code
            if status == 429 or status >= 500:
                _log.warning(
                    "model server busy or failing",
                    extra={"status": status, "detail": _detail(response)},
                )
                if not last:
                    time.sleep(_retry_after(response, self._retry_backoff_s * attempt))
                    continue
                raise DependencyUnavailable(f"the model server is unavailable (HTTP {status})")
            if status >= 400:
                detail = _detail(response)
                _log.error(
                    "model server refused the request", extra={"status": status, "detail": detail}
                )
                raise DomainError(f"the model server refused the request: {_hint(status)}")
            return _decode(response)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _decode(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        _log.error("model server reply is not JSON", extra={"detail": _detail(response)})
        raise DomainError(
            "the model server's reply is not JSON: is CREATOR_CHAT_OPENAI_BASE_URL an "
            "OpenAI-compatible API root (ending in /v1)?"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        _log.error("model server reply has no choices", extra={"detail": _detail(response)})
        raise DomainError("the model server's reply is not a chat completion (no choices)")
    return data


def _reply_text(reply: Mapping[str, Any]) -> str:
    """The first choice's message text (string content, or the text parts of a list)."""
    choices = reply.get("choices") or []
    message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
    if not isinstance(message, dict):
        raise DomainError("the model server's reply is not a chat completion (no message)")
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    if content is not None and not isinstance(content, str):
        raise DomainError("the model server's reply is not a chat completion (content)")
    return _THINK_RE.sub("", content or "", count=1)


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Server-sent events' JSON payloads (``data: {...}`` lines) up to ``data: [DONE]``."""
    for line in lines:
        if not line.startswith("data:"):
            continue  # comments (": keep-alive"), event names, blank separators
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            _log.warning("model server sent an event that is not JSON")
            continue
        if isinstance(event, dict):
            if isinstance(event.get("error"), dict | str):
                _log.error("model server failed mid-stream", extra={"detail": str(event)[:300]})
                raise DependencyUnavailable("the model server failed while answering")
            yield event


def _delta_texts(event: Mapping[str, Any]) -> Iterator[str]:
    for choice in event.get("choices") or []:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        text = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(text, str) and text:
            yield text


class _ThinkFilter:
    """Holds back a reply's leading ``<think>…</think>`` block (a reasoning model's
    thinking); everything after it, or a reply that does not start with one, passes."""

    OPEN, CLOSE = "<think>", "</think>"

    def __init__(self) -> None:
        self._held = ""
        self._passing = False
        self._trim = False  # after the thinking: the blank lines before the answer go

    def feed(self, piece: str) -> str:
        if self._passing:
            if self._trim:
                piece = piece.lstrip()
                self._trim = not piece
            return piece
        self._held += piece
        head = self._held.lstrip()
        if self.OPEN.startswith(head):
            return ""  # may still become "<think>"
        if not head.startswith(self.OPEN):
            self._passing = True
            out, self._held = self._held, ""
            return out
        end = head.find(self.CLOSE)
        if end < 0:
            return ""  # thinking: never shown
        self._passing = True
        out = head[end + len(self.CLOSE) :].lstrip()
        self._trim = not out
        self._held = ""
        return out

    def finish(self) -> str:
        """The end of the reply: what was held, unless it was (unfinished) thinking."""
        if self._passing or self._held.lstrip().startswith(self.OPEN[:2]):
            return ""
        out, self._held = self._held, ""
        return out


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(value)


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        seconds = float(response.headers.get("Retry-After", default))
    except ValueError:  # an HTTP date: not worth parsing for a bounded wait
        seconds = default
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_S)


def _detail(response: httpx.Response) -> str:
    """The server's error message: OpenAI's and Ollama's ``{"error": {"message"}}``,
    llama.cpp's ``{"error": "..."}`` or vLLM's ``{"message"}``; else the raw body."""
    try:
        data = response.json()
        error = data.get("error", data) if isinstance(data, dict) else None
        text = error.get("message") if isinstance(error, dict) else error
        text = text if isinstance(text, str) else response.text
    except (json.JSONDecodeError, UnicodeDecodeError):
        text = response.text
    return " ".join(text.split())[:_MAX_DETAIL_CHARS]


def _hint(status: int) -> str:
    if status in (401, 403):
        return f"HTTP {status}, check CREATOR_CHAT_OPENAI_API_KEY"
    if status == 404:
        return (
            f"HTTP {status}, check CREATOR_CHAT_OPENAI_MODEL (is the model pulled/served?) "
            "and that CREATOR_CHAT_OPENAI_BASE_URL ends in /v1"
        )
    if status == 413:
        return f"HTTP {status}, the prompt is too large for the server"
    return f"HTTP {status}, see the server log (the prompt may exceed the model's context)"

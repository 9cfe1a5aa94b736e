"""A bedrock-runtime client that streams at a model's pace, for tests and the bench.

``converse_stream`` answers with ConverseStream's event shape (``messageStart``,
``contentBlockDelta`` per token, ``contentBlockStop``, ``messageStop``, ``metadata``) after a
first-token delay, then at a steady rate — by default 400 ms, then 30 tokens/s, about what
Claude 3.5 Haiku does on Bedrock. ``converse`` answers the same text whole, after as long
as its stream would take. The reply
quotes the request's own sources (the first sentence of the first two, each cited), so a
chat on it cites real content; pass ``reply`` to choose it.

Faults for tests: ``throttle`` refuses the call as Bedrock does when over quota;
``fail_after`` sends that many tokens, then a ``throttlingException`` event inside the
stream (Bedrock's mid-stream failure). Never used outside tests, the bench and local runs
that choose it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

_SOURCE = re.compile(r"^\[(\d+)\][^\n]*\n(.+?)(?=\n\n\[\d+\]|\n\nQuestion:|\Z)", re.M | re.S)
_SENTENCE = re.compile(r"(.+?[.!?])(?:\s|$)", re.S)
_TOKEN = re.compile(r"\S+\s*|\s+")


def quote_sources(request: Mapping[str, Any]) -> str:
    """The first sentence of the first two sources in the request's last user turn, each
    with its marker; an honest not-found reply when there are none."""
    turn = request["messages"][-1]["content"]
    text = "\n".join(block.get("text", "") for block in turn)
    quotes: list[str] = []
    for match in _SOURCE.finditer(text):
        body = " ".join(match.group(2).split())
        sentence = _SENTENCE.match(body)
        quotes.append(f"{(sentence.group(1) if sentence else body)[:300]} [{match.group(1)}]")
        if len(quotes) == 2:
            break
    if not quotes:
        return "I couldn't find this in the creator's content."
    return "From the creator's content: " + " ".join(quotes)


class PacedConverseStub:
    """Stands in for ``boto3.client("bedrock-runtime")`` (``converse``, ``converse_stream``)."""

    def __init__(
        self,
        *,
        first_token_s: float = 0.4,
        tokens_per_s: float = 30.0,
        reply: Callable[[Mapping[str, Any]], str] = quote_sources,
        throttle: bool = False,
        fail_after: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.first_token_s = first_token_s
        self.tokens_per_s = tokens_per_s
        self.reply = reply
        self.throttle = throttle
        self.fail_after = fail_after
        self._sleep = sleep
        self._lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []

    def _record(self, request: Mapping[str, Any]) -> str:
        with self._lock:
            self.calls.append(dict(request))
        if self.throttle:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Too many requests"}},
                "ConverseStream",
            )
        return self.reply(request)

    @staticmethod
    def _usage(request: Mapping[str, Any], text: str) -> dict[str, int]:
        sent = sum(len(str(m["content"])) for m in request["messages"])
        return {"inputTokens": sent // 4, "outputTokens": max(1, len(text) // 4)}

    def converse(self, **request: Any) -> dict[str, Any]:
        text = self._record(request)
        # the whole reply takes as long as its stream would
        tokens = len(_TOKEN.findall(text))
        self._sleep(self.first_token_s + max(0, tokens - 1) / self.tokens_per_s)
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": self._usage(request, text),
        }

    def converse_stream(self, **request: Any) -> dict[str, Any]:
        text = self._record(request)
        return {"stream": self._events(request, text)}

    def _events(self, request: Mapping[str, Any], text: str) -> Iterator[dict[str, Any]]:
        yield {"messageStart": {"role": "assistant"}}
        self._sleep(self.first_token_s)
        for i, token in enumerate(_TOKEN.findall(text)):
            if self.fail_after is not None and i >= self.fail_after:
                yield {"throttlingException": {"message": "Too many tokens, slow down"}}
                return
            if i:
                self._sleep(1.0 / self.tokens_per_s)
            yield {"contentBlockDelta": {"delta": {"text": token}, "contentBlockIndex": 0}}
        yield {"contentBlockStop": {"contentBlockIndex": 0}}
        yield {"messageStop": {"stopReason": "end_turn"}}
        yield {"metadata": {"usage": self._usage(request, text), "metrics": {"latencyMs": 0}}}

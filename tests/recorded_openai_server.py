"""A recorded OpenAI-compatible server on loopback, for the generator's boundary tests.

A real HTTP server (stdlib, in a thread) on 127.0.0.1: it records every request it gets
(method, path, headers, JSON body) and answers each with the next queued reply — a recorded
chat completion from ``tests/fixtures/openai_compatible/``, an error, a body that is not
JSON, or a reply that comes too late. With nothing queued it answers ``default``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "openai_compatible"


def recorded(name: str) -> dict[str, Any]:
    """A recorded server reply, by file stem."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def completion(content: str, *, prompt_tokens: int = 100, completion_tokens: int = 20) -> Any:
    """The recorded Ollama completion with another answer text."""
    data = recorded("ollama_chat_completion")
    data["choices"][0]["message"]["content"] = content
    data["usage"] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    return data


def chunks(*texts: str, usage: dict[str, int] | None = None) -> list[Any]:
    """A chat completion as server-sent events: one chunk per text, the usage, ``[DONE]``."""
    events: list[Any] = [
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "model": "llama3.1:8b",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}}],
        }
        for text in texts
    ]
    events.append(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
    )
    if usage is not None:
        events.append({"id": "chatcmpl-1", "choices": [], "usage": usage})
    events.append("[DONE]")
    return events


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    # server-sent events instead of a body: each one JSON-encoded as ``data: ...`` (a
    # ``str`` is sent as the data as is, e.g. "[DONE]"), ``event_delay_s`` apart
    events: list[Any] | None = None
    event_delay_s: float = 0.0


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class RecordedOpenAIServer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.replies: deque[Reply] = deque()
        self.default = Reply(200, recorded("ollama_chat_completion"))
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        """The API root, as Ollama's ``http://localhost:11434/v1``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def start(self) -> RecordedOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append(
                Request(
                    handler.command,
                    handler.path,
                    {k.lower(): v for k, v in handler.headers.items()},
                    json.loads(raw) if raw else None,
                )
            )
            reply = self.replies.popleft() if self.replies else self.default
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.events is not None:
            self._stream(handler, reply)
            return
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        try:
            handler.send_response(reply.status)
            content_type = "application/json" if not isinstance(reply.body, bytes) else "text/html"
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the timeout tests)

    @staticmethod
    def _stream(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "text/event-stream")
            handler.end_headers()  # HTTP/1.0: the body ends when the connection closes
            for i, event in enumerate(reply.events or []):
                if i and reply.event_delay_s:
                    time.sleep(reply.event_delay_s)
                data = event if isinstance(event, str) else json.dumps(event)
                handler.wfile.write(f"data: {data}\n\n".encode())
                handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server._answer(self)

            def do_GET(self) -> None:
                server._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def recorded_openai_server() -> Iterator[RecordedOpenAIServer]:
    """A started server, stopped on exit (wrap it in a module's ``openai_server`` fixture)."""
    server = RecordedOpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()

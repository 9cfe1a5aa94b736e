"""End to end: HTTP through the local gateway, authorizer and real handlers, on the embedded
default (one SQLite database in a temporary data dir) — what `creator-chat serve` runs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from creator_chat.auth import issue_dev_token
from creator_chat.domain.models import Role, Tier
from creator_chat.local.runtime import LocalRuntime
from creator_chat.settings import Settings

DEMO = "cr_bench-shot"


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    rt = LocalRuntime(
        port=0,
        data_dir=tmp_path_factory.mktemp("runtime"),
        visibility_timeout_s=2,  # failed jobs come back in seconds, not minutes
        environ={
            "CREATOR_CHAT_RESOURCE_PREFIX": f"e2e{uuid.uuid4().hex[:6]}",
            "CREATOR_CHAT_ENV": "test",
            "CREATOR_CHAT_STORAGE": "embedded",
        },
    ).start()
    yield rt
    rt.stop()


@pytest.fixture(scope="session")
def api(runtime: LocalRuntime) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=runtime.url, timeout=30) as client:
        yield client


TokenFactory = Callable[..., str]


@pytest.fixture(scope="session")
def token(runtime: LocalRuntime) -> TokenFactory:
    settings = Settings()

    def make(
        user: str, role: str = "fan", tier: str = "free", creator: str | None = None, **kw: object
    ) -> str:
        return issue_dev_token(
            settings, user_id=user, role=Role(role), tier=Tier(tier), creator_id=creator, **kw
        )  # type: ignore[arg-type]

    return make


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


def wait_for_documents(
    api: httpx.Client, tok: str, creator_id: str, *, timeout_s: float = 90
) -> list[dict]:
    """Poll the documents API until no document is queued or processing."""
    deadline = time.monotonic() + timeout_s
    while True:
        docs = api.get(f"/v1/creators/{creator_id}/documents", headers=bearer(tok)).json()[
            "documents"
        ]
        if all(d["status"] in ("done", "failed") for d in docs) or time.monotonic() > deadline:
            return docs
        time.sleep(0.2)


@pytest.fixture(scope="session")
def demo_ready(api: httpx.Client, token: TokenFactory) -> list[dict]:
    docs = wait_for_documents(api, token("admin-e2e", "admin"), DEMO)
    assert docs and all(d["status"] == "done" for d in docs), docs
    return docs


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    return tmp_path


def answer_at_a_models_pace(
    runtime: LocalRuntime,
    monkeypatch: pytest.MonkeyPatch,
    *,
    first_token_s: float,
    tokens_per_s: float,
    model_id: str,
):
    """For one test: the runtime answers through the Bedrock Converse adapter on a stub that
    streams at a model's pace (``creator_chat.local.bedrock_stub``), with a breaker of its
    own so a throttled test leaves nothing behind. Returns the stub (its faults can be set)."""
    from creator_chat.adapters.aws.bedrock_generator import BedrockConverseGenerator
    from creator_chat.breaker import CircuitBreaker
    from creator_chat.local.bedrock_stub import PacedConverseStub

    stub = PacedConverseStub(first_token_s=first_token_s, tokens_per_s=tokens_per_s)
    container = runtime.container
    monkeypatch.setitem(container.__dict__, "generator", BedrockConverseGenerator(stub, model_id))
    monkeypatch.setitem(
        container.__dict__,
        "generator_breaker",
        CircuitBreaker("generator", failure_threshold=3, reset_timeout_s=30, clock=container.clock),
    )
    return stub

"""Fuzzing from the project's own OpenAPI document, through the local gateway.

Reuses the end-to-end fixtures (imported here, they give this directory its own runtime,
so whatever the fuzzer creates — creators, documents, threads — stays out of the other
suites' data). ``FUZZ_EXAMPLES`` is the budget of generated requests, spread over the
operations (default: a bounded run for the normal suite; ``make fuzz`` asks for more). It is
an upper bound: an operation with few distinct inputs (``GET /health``) runs out of new ones
first, so 2000 gives about 1,300 requests (the summary at the end counts them).
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e import conftest as e2e
from tests.e2e.conftest import TokenFactory, bearer, wait_for_documents
from tests.fuzz.spec import ingest_openapi, merge_openapi

runtime, api, token = e2e.runtime, e2e.api, e2e.token

DEFAULT_EXAMPLES = 400
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
# the normal suite replays the same examples every run (no flaky discoveries in CI); a
# longer run (FUZZ_EXAMPLES set) explores new ones each time
DERANDOMIZE = "FUZZ_EXAMPLES" not in os.environ

# what the fuzzer sent and got, for the summary at the end of the run
SENT: Counter[tuple[str, int]] = Counter()


@pytest.fixture(scope="session")
def openapi_doc(api: httpx.Client) -> dict[str, Any]:
    """The document the gateway serves (chat function) merged with the ingest function's."""
    served = api.get("/openapi.json")
    assert served.status_code == 200, served.text
    return merge_openapi(served.json(), ingest_openapi())


@dataclass(frozen=True)
class World:
    """Real ids the fuzzer mixes into generated paths, so requests reach the use cases."""

    creator_id: str
    document_id: str
    thread_id: str
    message_id: str
    fan_user: str
    creator_user: str


@pytest.fixture(scope="session")
def world(api: httpx.Client, token: TokenFactory) -> World:
    admin = token("fuzz-admin", "admin", "enterprise")
    slug = f"fuzz-{uuid.uuid4().hex[:6]}"
    created = api.post(
        "/v1/creators", json={"slug": slug, "name": "Fuzz Target"}, headers=bearer(admin)
    )
    assert created.status_code == 201, created.text
    creator_id = created.json()["creator_id"]
    doc = api.post(
        f"/v1/creators/{creator_id}/documents",
        json={
            "title": "Tamping",
            "kind": "text",
            "content": "Tamp level with about fifteen kilograms of pressure, then polish.",
        },
        headers=bearer(admin),
    )
    assert doc.status_code == 202, doc.text
    assert [d["status"] for d in wait_for_documents(api, admin, creator_id)] == ["done"]
    fan_user = "fuzz-fan"
    chat = api.post(
        f"/v1/creators/{creator_id}/chat",
        json={"message": "How hard should I tamp?"},
        headers=bearer(token(fan_user, "fan", "free")),
    )
    assert chat.status_code == 200, chat.text
    return World(
        creator_id=creator_id,
        document_id=doc.json()["document"]["document_id"],
        thread_id=chat.json()["thread_id"],
        message_id=chat.json()["message_id"],
        fan_user=fan_user,
        creator_user="fuzz-creator",
    )


_serial = itertools.count(1)


@pytest.fixture(scope="session")
def fresh_token(token: TokenFactory, world: World) -> Any:
    """A new token (so a new session) for every request: a generated request that revokes
    a session or erases its user must not turn the rest of the run into 403s."""

    def make(role: str) -> str:
        n = next(_serial)
        if role == "admin":
            return token("fuzz-admin", "admin", "enterprise", ttl_s=3600 + n)
        if role == "creator":
            return token(world.creator_user, "creator", "premium", world.creator_id, ttl_s=3600 + n)
        return token(world.fan_user, "fan", "free", ttl_s=3600 + n)

    return make


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not SENT:
        return
    total = sum(SENT.values())
    terminalreporter.section(f"fuzz: {total} generated requests")
    for caller in sorted({c for c, _ in SENT}):
        by_status = {s: n for (c, s), n in sorted(SENT.items()) if c == caller}
        line = ", ".join(f"{s}: {n}" for s, n in by_status.items())
        terminalreporter.write_line(f"{caller:>9}  {sum(by_status.values()):5d}  ({line})")

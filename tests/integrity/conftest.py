"""Integrity and security defects, reproduced through the public HTTP API on both adapter
families: the real chat and ingest apps and the real authorizer behind the local gateway,
wired to a container of the AWS adapters (DynamoDB, SQS, S3 on moto) or of the embedded ones
(SQLite). Ingest jobs are run by hand (``rig.run_ingest()``) so a test can interleave them
with requests exactly where a race would put them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from creator_chat.api.chat_app import create_app as create_chat_app
from creator_chat.api.ingest_app import create_app as create_ingest_app
from creator_chat.auth import TokenVerifier, issue_dev_token
from creator_chat.authorizer import authorize
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.models import Role, Tier
from creator_chat.local.gateway import LocalFunction, LocalGateway
from creator_chat.local.provision import provision
from creator_chat.resources import DECLARATION
from creator_chat.settings import Settings
from creator_chat.usecases.ingest import process_job
from starlette.testclient import TestClient

from tests.faults.conftest import FakeEmbedder, FakeGenerator

FAMILIES = ("aws", "embedded")
SECRET = "integrity-secret-of-thirty-two-bytes!"


def uid(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class Rig:
    family: str
    container: Container
    client: TestClient
    clock: FixedClock

    @property
    def settings(self) -> Settings:
        return self.container.settings

    def token(
        self,
        user: str,
        role: str = "fan",
        tier: str = "free",
        creator: str | None = None,
        ttl_s: int = 3600,
    ) -> str:
        return issue_dev_token(
            self.settings,
            user_id=user,
            role=Role(role),
            tier=Tier(tier),
            creator_id=creator,
            ttl_s=ttl_s,
            now=self.clock.now(),
        )

    def call(self, method: str, path: str, token: str | None = None, body: Any = None) -> Reply:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        content = None
        if body is not None:
            headers["content-type"] = "application/json"
            content = json.dumps(body).encode()
        r = self.client.request(method, path, headers=headers, content=content)
        try:
            parsed = r.json()
        except ValueError:
            parsed = r.text
        return Reply(r.status_code, parsed, dict(r.headers))

    # -- ingest jobs, by hand
    def take_jobs(self, queue: str = "ingest-jobs") -> list[dict[str, Any]]:
        """Every job waiting now on ``queue`` (received and acknowledged): ingest jobs unless
        another queue is named (``llm-jobs``: queued chats)."""
        return [json.loads(m["Body"]) for m in self._receive_all(queue)]

    def _receive_all(self, queue: str) -> list[dict[str, Any]]:
        name = self.settings.physical_name("queue", queue)
        out: list[dict[str, Any]] = []
        if self.family == "embedded":
            from creator_chat.adapters.embedded.queue import EmbeddedJobQueue

            queue = EmbeddedJobQueue(self.container.database, name, clock=self.clock)
            while batch := queue.receive(10, visibility_timeout_s=600):
                queue.delete(m["ReceiptHandle"] for m in batch)
                out.extend(batch)
            return out
        sqs = self.container.aws.client("sqs")
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )
            out.extend(batch)
        return out

    def run_job(self, job: dict[str, Any]) -> str:
        return process_job(self.container, job, final_attempt=False)

    def run_ingest(self) -> list[str]:
        """Run ingest jobs until none is waiting (a job may queue another)."""
        outcomes: list[str] = []
        while jobs := self.take_jobs():
            outcomes.extend(self.run_job(j) for j in jobs)
        return outcomes


def gateway_for(container: Container, max_concurrency: int = 8) -> LocalGateway:
    verifier = TokenVerifier(container.settings)
    functions = {
        "chat": LocalFunction("chat", create_chat_app(lambda: container)),
        "ingest": LocalFunction("ingest", create_ingest_app(lambda: container)),
    }
    return LocalGateway(
        list(DECLARATION.routes),
        functions,
        LocalFunction("authorizer", lambda event, _ctx: authorize(container, verifier, event)),
        max_concurrency=max_concurrency,
    )


@pytest.fixture(scope="module")
def aws_settings(emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    s = Settings(
        storage="aws",
        env="test",
        resource_prefix=f"i{uuid.uuid4().hex[:8]}",
        jwt_secret=SECRET,  # type: ignore[arg-type]
        data_dir=tmp_path_factory.mktemp("aws-data"),
    )
    provision(s, visibility_timeout_s=1)
    return s


@pytest.fixture(params=FAMILIES)
def family(request: pytest.FixtureRequest) -> str:
    return str(request.param)


RigFactory = Callable[..., Rig]


@pytest.fixture
def make_rig(family: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RigFactory]:
    made: list[Rig] = []

    def make(**setting_overrides: Any) -> Rig:
        if family == "aws":
            settings = request.getfixturevalue("aws_settings")
        else:
            settings = Settings(
                storage="embedded",
                env="test",
                data_dir=tmp_path / "data",
                resource_prefix="integrity",
                jwt_secret=SECRET,  # type: ignore[arg-type]
            )
        settings = settings.replace(**setting_overrides)
        # tokens are checked against the real time (PyJWT): the clock starts at now
        clock = FixedClock(float(int(time.time())))
        container = Container(settings, clock=clock)
        container.overrides.update(embedder=FakeEmbedder(), generator=FakeGenerator())
        rig = Rig(family, container, TestClient(gateway_for(container)), clock)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.container.close()


@pytest.fixture
def rig(make_rig: RigFactory) -> Rig:
    return make_rig()


def new_creator(rig: Rig, **fields: Any) -> tuple[str, str]:
    """A creator made through the API by an admin; returns (creator_id, the creator's token)."""
    admin = rig.token(uid("admin-"), "admin")
    slug = uid("c-")
    reply = rig.call(
        "POST",
        "/v1/creators",
        admin,
        {"slug": slug, "name": f"Creator {slug}", **fields},
    )
    assert reply.status == 201, reply
    creator_id = reply.body["creator_id"]
    return creator_id, rig.token(uid("owner-"), "creator", creator=creator_id)

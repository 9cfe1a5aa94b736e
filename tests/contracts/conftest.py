"""One contract suite per port, run against both adapter families: the same assertions on
the AWS adapters (DynamoDB, SQS, S3 on moto) and the embedded ones (SQLite, files), so the two
cannot drift. A test takes ``stores`` (a Container wired to one family) and uses fresh ids
(``uid()``): the AWS family's tables are shared by the tests of a module.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.local.provision import provision
from creator_chat.settings import Settings

FAMILIES = ("aws", "embedded")


def uid(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def aws_settings(emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    s = Settings(
        storage="aws",
        resource_prefix=f"c{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path_factory.mktemp("aws-data"),
    )
    provision(s, visibility_timeout_s=1)
    return s


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(1_800_000_000.0)


def embedded_settings(data_dir: Path) -> Settings:
    return Settings(storage="embedded", data_dir=data_dir, resource_prefix="contract")


@pytest.fixture(params=FAMILIES)
def family(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def stores(
    family: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock
) -> Iterator[Container]:
    """A container whose stores, queues and blobs are the ``family``'s adapters."""
    if family == "aws":
        settings = request.getfixturevalue("aws_settings")
    else:
        settings = embedded_settings(tmp_path / "data")
    container = Container(settings, clock=clock)
    yield container
    container.close()

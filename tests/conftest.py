"""Session-wide guards and the AWS emulator every layer of tests shares.

Nothing in the tests may reach AWS: before any test runs, boto3 is pointed at a closed
loopback port with fake credentials, and pytest-socket (``--allow-hosts`` in pyproject.toml)
refuses any connection off loopback; the ``emulator`` fixture then points boto3 at moto.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

for _var in (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
):
    os.environ.pop(_var, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # closed until the emulator starts
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "CREATOR_CHAT_ENV": "test",
        "HF_HUB_OFFLINE": "1",
    }
)


@pytest.fixture(scope="session")
def emulator() -> Iterator[str]:
    """moto's server on a free loopback port, shared by the whole session."""
    from creator_chat.local.emulator import Emulator

    emu = Emulator()
    endpoint = emu.start()
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    yield endpoint
    emu.stop()

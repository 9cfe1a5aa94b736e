"""Session-wide guards and the AWS emulator every layer of tests shares.

Nothing in the tests may reach AWS: before any test runs, boto3 is pointed at a closed
loopback port with fake credentials, and name lookups and connections off loopback are
refused outright; the ``emulator`` fixture then points boto3 at moto.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

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


class NetworkRefused(OSError):
    """A test tried to leave this machine (AWS, or anything else off loopback)."""


def _loopback(host: Any) -> bool:
    if host is None or host in ("localhost", "localhost.localdomain", ""):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False  # a name other than localhost: resolving it would already be traffic


_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _loopback(host.decode() if isinstance(host, bytes) else host):
        raise NetworkRefused(f"tests may not resolve {host!r}: only loopback is allowed")
    return _real_getaddrinfo(host, *args, **kwargs)


def _check_address(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        raise NetworkRefused(f"tests may not connect to {address!r}: only loopback is allowed")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(self, address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(self, address)
    return _real_connect_ex(self, address)


# Belt and braces for "nothing reaches AWS": the endpoint above already points every AWS SDK
# client at loopback, and these refuse, in this process, any name lookup or connection that
# is not loopback — an OpenSearch host, a Cognito JWKS URL or a Bedrock endpoint included.
# (Subprocesses the tests start get the same AWS_ENDPOINT_URL; they talk to the emulator.)
socket.getaddrinfo = _guarded_getaddrinfo
socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def emulator() -> Iterator[str]:
    """moto's server on a free loopback port, shared by the whole session."""
    from creator_chat.local.emulator import Emulator

    emu = Emulator()
    endpoint = emu.start()
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    yield endpoint
    emu.stop()

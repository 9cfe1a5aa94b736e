"""The session guard (pytest-socket, ``--allow-hosts=127.0.0.1,::1`` in pyproject.toml):
no test can reach AWS, or anything else off loopback, whatever endpoint it is given."""

from __future__ import annotations

import socket

import boto3
import httpx
import pytest
from pytest_socket import SocketConnectBlockedError

# the plugin warns on every blocked attempt; here they are the point
pytestmark = pytest.mark.filterwarnings("ignore:A test tried to use socket")


def test_a_public_address_is_refused() -> None:
    with socket.socket() as sock, pytest.raises(SocketConnectBlockedError):
        sock.connect(("52.94.0.1", 443))


def _causes(exc: BaseException | None) -> list[type[BaseException]]:
    out = []
    while exc is not None:
        out.append(type(exc))
        exc = exc.__cause__ or exc.__context__
    return out


def test_a_client_pointed_at_an_aws_address_is_stopped_by_the_guard() -> None:
    # an address, not a name: without the guard this would be a real connection attempt
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="https://52.94.0.1",
        config=boto3.session.Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    with pytest.raises(Exception) as caught:  # botocore wraps it: HTTPClientError
        client.list_tables()
    assert SocketConnectBlockedError in _causes(caught.value)


def test_an_http_call_to_an_aws_address_is_stopped_by_the_guard() -> None:
    with pytest.raises(Exception) as caught:
        httpx.get("https://52.94.0.1/.well-known/jwks.json", timeout=2)
    assert SocketConnectBlockedError in _causes(caught.value)


def test_loopback_still_works() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass

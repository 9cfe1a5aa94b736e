"""The session guard in tests/conftest.py: no test can reach AWS (or anything off loopback)."""

from __future__ import annotations

import socket

import boto3
import httpx
import pytest
from botocore.exceptions import EndpointConnectionError

from tests.conftest import NetworkRefused


def test_an_aws_hostname_is_refused_before_any_lookup() -> None:
    with pytest.raises(NetworkRefused):
        socket.getaddrinfo("dynamodb.us-east-1.amazonaws.com", 443)
    with pytest.raises(httpx.ConnectError):  # httpx wraps the refusal; no request leaves
        httpx.get("https://cognito-idp.us-east-1.amazonaws.com/x/.well-known/jwks.json")


def test_a_public_address_is_refused_even_without_a_name() -> None:
    with socket.socket() as sock, pytest.raises(NetworkRefused):
        sock.connect(("52.94.0.1", 443))


def test_a_client_pointed_at_real_aws_cannot_get_there() -> None:
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="https://dynamodb.us-east-1.amazonaws.com",
        config=boto3.session.Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(EndpointConnectionError) as caught:
        client.list_tables()
    assert "only loopback is allowed" in str(caught.value.__context__)


def test_loopback_still_works() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass

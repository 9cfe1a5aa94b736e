"""AwsClients finds a service's model by looking in its folder alone (no scan of every
service folder at each cold start), with botocore's behaviour otherwise unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import UnknownServiceError
from creator_chat.adapters.aws.clients import AwsClients
from creator_chat.settings import Settings

SECRET = "aws-clients-test-secret-0123456789abcdef"


@pytest.fixture
def clients() -> AwsClients:
    return AwsClients(Settings(storage="aws", jwt_secret=SECRET))  # type: ignore[arg-type]


def test_clients_and_resources_build_without_listing_every_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from botocore.loaders import Loader

    scans: list[str] = []
    original = Loader.list_available_services

    def counting(self: Any, type_name: str) -> Any:
        scans.append(type_name)
        return original(self, type_name)

    monkeypatch.setattr(Loader, "list_available_services", counting)
    clients = AwsClients(Settings(storage="aws", jwt_secret=SECRET))  # type: ignore[arg-type]
    assert clients.resource("dynamodb").meta.client.meta.service_model.service_name == "dynamodb"
    assert clients.client("sqs").meta.service_model.service_name == "sqs"
    assert scans == []
    assert "sqs" in list(clients.session.get_available_services())  # the full scan, on demand
    assert scans == ["service-2"]


def test_an_unknown_service_still_fails_with_the_list_of_known_ones(clients: AwsClients) -> None:
    with pytest.raises(UnknownServiceError, match=r"Valid service names are: .*dynamodb"):
        clients.session.client("no-such-service", region_name="us-east-1")
    with pytest.raises(ValueError, match="AWS_SERVICES"):  # ours refuses it before botocore
        clients.client("no-such-service")


def test_listing_services_answers_as_botocore_does(clients: AwsClients) -> None:
    services = clients.session.get_available_services()
    assert "dynamodb" in services
    assert "bedrock-runtime" in services
    assert "dynamodb" in clients.session.get_available_resources()

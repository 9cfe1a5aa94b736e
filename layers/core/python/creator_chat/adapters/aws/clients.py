"""boto3 sessions and clients: one place that knows the endpoint (AWS, LocalStack or moto)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import DataNotFoundError

from creator_chat.adapters.aws.services import AWS_SERVICES
from creator_chat.settings import Settings

# Adaptive retries back off on throttling; short timeouts keep a slow dependency from
# holding a request (API Gateway gives up after 29 s anyway).
_DEFAULT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 4},
    connect_timeout=2,
    read_timeout=10,
    max_pool_connections=50,
)

_S3_CONFIG = Config(signature_version="s3v4")


class _ServiceNames:
    """What botocore's loader answers for "which services have a ``type_name`` model": the
    question it asks before loading one service's model is ``name in services``, answered
    here by looking in that service's folder alone. botocore answers it by listing every
    service folder (some 4,000 ``stat`` calls, once per model type: ~35 ms of each cold
    start). Iterating, for any other caller, lists them all as botocore does."""

    def __init__(self, loader: Any, type_name: str, list_all: Any) -> None:
        self._loader = loader
        self._type_name = type_name
        self._list_all = list_all
        self._names: list[str] | None = None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            return bool(self._loader.list_api_versions(name, self._type_name))
        except DataNotFoundError:
            return False

    def _all(self) -> list[str]:
        if self._names is None:
            self._names = list(self._list_all(self._type_name))
        return self._names

    def __iter__(self) -> Any:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def _look_up_services_directly(session: boto3.session.Session) -> None:
    loader = session._session.get_component("data_loader")
    list_all = loader.list_available_services
    loader.list_available_services = lambda type_name: _ServiceNames(loader, type_name, list_all)


def declared(service: str) -> str:
    """``service``, if the dependency layer ships its model (:data:`AWS_SERVICES`); else a
    ValueError here, in any test, instead of ``UnknownServiceError`` in Lambda."""
    if service not in AWS_SERVICES:
        raise ValueError(
            f"AWS service {service!r} is not in creator_chat.adapters.aws.services."
            "AWS_SERVICES: the Lambda layer would ship without its model"
        )
    return service


def new_client(service: str, **kwargs: Any) -> Any:
    """``boto3.client(service, **kwargs)`` for a declared service: the one way the code
    creates a client outside :class:`AwsClients`."""
    return boto3.client(declared(service), **kwargs)  # type: ignore[call-overload]


class AwsClients:
    """Builds boto3 clients/resources once per process for one endpoint."""

    def __init__(self, settings: Settings, *, config: Config | None = None) -> None:
        self.session = boto3.session.Session(region_name=settings.aws_region)
        _look_up_services_directly(self.session)
        self._endpoint = settings.aws_endpoint_url
        self._config = config or _DEFAULT_CONFIG
        self._cache: dict[tuple[str, str], Any] = {}

    def client(self, service: str) -> Any:
        key = ("client", service)
        if key not in self._cache:
            config = self._config
            if service == "s3":
                # presigned URLs and POST policies signed with SigV4: botocore's default for
                # them in us-east-1 is still SigV2, which buckets created since 2020 refuse
                config = config.merge(_S3_CONFIG)
            self._cache[key] = self.session.client(
                declared(service),
                endpoint_url=self._endpoint,
                config=config,  # type: ignore[call-overload]
            )
        return self._cache[key]

    def resource(self, service: str) -> Any:
        key = ("resource", service)
        if key not in self._cache:
            self._cache[key] = self.session.resource(
                declared(service),
                endpoint_url=self._endpoint,
                config=self._config,  # type: ignore[call-overload]
            )
        return self._cache[key]

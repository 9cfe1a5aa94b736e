"""boto3 sessions and clients: one place that knows the endpoint (AWS, LocalStack or moto)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

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


class AwsClients:
    """Builds boto3 clients/resources once per process for one endpoint."""

    def __init__(self, settings: Settings, *, config: Config | None = None) -> None:
        self.session = boto3.session.Session(region_name=settings.aws_region)
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
                service,
                endpoint_url=self._endpoint,
                config=config,  # type: ignore[call-overload]
            )
        return self._cache[key]

    def resource(self, service: str) -> Any:
        key = ("resource", service)
        if key not in self._cache:
            self._cache[key] = self.session.resource(
                service,
                endpoint_url=self._endpoint,
                config=self._config,  # type: ignore[call-overload]
            )
        return self._cache[key]

"""``ConnectionSender`` for API Gateway WebSocket APIs: the management API's
``PostToConnection`` (boto3 ``apigatewaymanagementapi``).

The management API is reached at the stage's callback URL, ``https://{api id}.execute-api.
{region}.amazonaws.com/{stage}``. In AWS the CDK stack passes it to the stream function as
``CREATOR_CHAT_WEBSOCKET_CALLBACK_URL``; without it, the URL is built from the event's
``requestContext`` (:func:`callback_url`). Build the sender once per Lambda container
(:func:`connection_sender` caches one per endpoint).

- A connection the client has closed answers ``GoneException`` (410): :meth:`send` returns
  ``False`` and the caller stops streaming to it (and still stores the answer).
- Throttling (``LimitExceededException``, 429) and 5xx are retried by botocore's *standard*
  retry mode (exponential backoff with jitter); still throttled after the last attempt →
  :class:`~creator_chat.errors.DependencyUnavailable`, as are connection errors and timeouts.
- API Gateway refuses a message over 128 KB (``PayloadTooLargeException``; it bills 32 KB
  units and frames at most 32 KB, splitting larger messages itself). A ``delta`` over the cap
  is sent as several deltas whose texts join to the same text; any other message over it is
  refused with :class:`MessageTooLarge` before a request is made.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from creator_chat.adapters.aws.clients import new_client
from creator_chat.errors import DependencyUnavailable

CALLBACK_URL_ENV = "CREATOR_CHAT_WEBSOCKET_CALLBACK_URL"
# API Gateway's cap on one WebSocket message (PostToConnection's Data): 128 KB, hard
MAX_MESSAGE_BYTES = 128 * 1024
_THROTTLED = frozenset({"LimitExceededException", "ThrottlingException", "TooManyRequests"})


class MessageTooLarge(ValueError):
    """A message that is not a ``delta`` and encodes to more than API Gateway accepts."""


def encode(message: Mapping[str, Any]) -> bytes:
    """A message as the bytes of one WebSocket text frame: compact JSON, UTF-8."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


class ApiGatewayConnectionSender:
    """Posts JSON messages to WebSocket connections of one API stage."""

    def __init__(self, client: Any, *, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._client = client
        self.max_message_bytes = max_message_bytes

    @classmethod
    def for_endpoint(
        cls,
        endpoint_url: str,
        *,
        region: str | None = None,
        max_attempts: int = 5,
        timeout_s: float = 5.0,
    ) -> ApiGatewayConnectionSender:
        """A sender for the stage at ``endpoint_url`` (``https://…/{stage}``)."""
        return cls(
            build_client(
                endpoint_url, region=region, max_attempts=max_attempts, timeout_s=timeout_s
            )
        )

    def send(self, connection_id: str, message: Mapping[str, Any]) -> bool:
        """``False`` when the connection is gone; ``True`` once every part was accepted."""
        # all() stops at the first part the connection did not take
        return all(self._post(connection_id, data) for data in self._frames(message))

    def close(self, connection_id: str) -> bool:
        """Close the connection from the server side; ``False`` when it was already gone."""
        try:
            self._client.delete_connection(ConnectionId=connection_id)
        except ClientError as err:
            if _code(err) == "GoneException":
                return False
            _raise_unavailable(err)
            raise
        except (BotocoreConnectionError, ReadTimeoutError) as err:
            raise DependencyUnavailable("API Gateway management API unreachable") from err
        return True

    # -- internals ------------------------------------------------------------------------

    def _post(self, connection_id: str, data: bytes) -> bool:
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as err:
            if _code(err) == "GoneException":
                return False
            _raise_unavailable(err)
            raise
        except (BotocoreConnectionError, ReadTimeoutError) as err:
            raise DependencyUnavailable("API Gateway management API unreachable") from err
        return True

    def _frames(self, message: Mapping[str, Any]) -> Iterator[bytes]:
        data = encode(message)
        if len(data) <= self.max_message_bytes:
            yield data
            return
        text = message.get("text")
        if message.get("type") != "delta" or not isinstance(text, str):
            raise MessageTooLarge(
                f"a {message.get('type')!r} message of {len(data)} bytes is over API Gateway's "
                f"WebSocket message limit of {self.max_message_bytes} bytes"
            )
        yield from self._split_delta(message, text)

    def _split_delta(self, message: Mapping[str, Any], text: str) -> Iterator[bytes]:
        """Deltas of consecutive pieces of ``text``, each under the cap (whole characters)."""
        budget = self.max_message_bytes - len(encode({**message, "text": ""}))
        if budget < 8:  # room for at least one escaped character
            raise MessageTooLarge("a delta's other fields alone fill a WebSocket message")
        start, size = 0, 0
        for i, char in enumerate(text):
            # what the character adds inside a JSON string: escapes, UTF-8 bytes
            char_size = len(json.dumps(char, ensure_ascii=False).encode()) - 2
            if size + char_size > budget:
                yield encode({**message, "text": text[start:i]})
                start, size = i, 0
            size += char_size
        yield encode({**message, "text": text[start:]})


def build_client(
    endpoint_url: str, *, region: str | None = None, max_attempts: int = 5, timeout_s: float = 5.0
) -> Any:
    """An ``apigatewaymanagementapi`` client for one stage, with standard retries (which
    cover ``LimitExceededException`` and 5xx) and short timeouts: a delta that cannot be
    delivered within seconds is not worth holding the stream for."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=min(2.0, timeout_s),
        read_timeout=timeout_s,
        tcp_keepalive=True,
    )
    return new_client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint_url.rstrip("/"),
        region_name=region or _region_of(endpoint_url),
        config=config,
    )


def callback_url(event: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> str:
    """The management API's URL for the stage that sent ``event``: the CDK-set
    ``CREATOR_CHAT_WEBSOCKET_CALLBACK_URL`` when present, else built from the event's
    ``requestContext`` (``domainName`` + ``stage``; a custom domain name cannot serve the
    management API, so then the execute-api host from ``apiId`` and the region)."""
    env = os.environ if environ is None else environ
    configured = env.get(CALLBACK_URL_ENV, "").strip()
    if configured:
        return configured.rstrip("/")
    context = event.get("requestContext") or {}
    domain, stage = context.get("domainName"), context.get("stage")
    if not domain or not stage:
        raise ValueError(
            f"no {CALLBACK_URL_ENV} and no requestContext.domainName/stage in the event"
        )
    if ".execute-api." not in domain:
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if not context.get("apiId") or not region:
            raise ValueError(f"{domain} is a custom domain: set {CALLBACK_URL_ENV}")
        domain = f"{context['apiId']}.execute-api.{region}.amazonaws.com"
    return f"https://{domain}/{stage}"


@lru_cache(maxsize=4)
def connection_sender(endpoint_url: str) -> ApiGatewayConnectionSender:
    """One sender (one client, one connection pool) per endpoint, per process."""
    return ApiGatewayConnectionSender.for_endpoint(endpoint_url)


def _region_of(endpoint_url: str) -> str | None:
    # https://{api id}.execute-api.{region}.amazonaws.com/{stage}
    host = endpoint_url.split("://", 1)[-1].split("/", 1)[0]
    parts = host.split(".")
    if len(parts) > 3 and parts[1] == "execute-api":
        return parts[2]
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _raise_unavailable(err: ClientError) -> None:
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if _code(err) in _THROTTLED or status == 429 or status >= 500:
        raise DependencyUnavailable(
            f"API Gateway management API unavailable ({_code(err) or status})"
        ) from err

"""SQS adapter for the ``JobQueue`` port."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from creator_chat.errors import DependencyUnavailable
from creator_chat.ports import MAX_DELAY_S


class SqsJobQueue:
    """Sends JSON jobs to one queue; the queue URL is resolved once, on first send."""

    def __init__(self, client: Any, queue_name: str) -> None:
        self._client = client
        self._name = queue_name
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = self._client.get_queue_url(QueueName=self._name)["QueueUrl"]
        return self._url

    def ping(self) -> bool:
        return bool(self.url)

    def send(
        self, body: Mapping[str, Any], *, dedup_id: str | None = None, delay_s: int = 0
    ) -> str:
        if not 0 <= delay_s <= MAX_DELAY_S:
            raise ValueError(f"delay_s must be 0 to {MAX_DELAY_S} seconds")
        try:
            out = self._client.send_message(
                QueueUrl=self.url, MessageBody=json.dumps(body), DelaySeconds=int(delay_s)
            )
        except (ClientError, BotoCoreError) as err:
            raise DependencyUnavailable(f"could not queue job on {self._name}") from err
        return str(out["MessageId"])

"""Feeds queue batches to worker handlers, as a Lambda event source mapping does.

Per declared worker: ``concurrency`` threads long-poll a message source for up to
``batch_size`` messages, invoke the handler with an SQS event, delete the records it did not
report in ``batchItemFailures`` (all of them stay if the handler raised), and leave the
failures to reappear after the visibility timeout; after ``maxReceiveCount`` receives a
message moves to its DLQ. The source is SQS (``SqsSource``: the queue's redrive policy does
the moving) or the embedded database's queue (``EmbeddedSource``: the declared queue's
visibility timeout and max receives, applied by the receive itself).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from creator_chat.local.gateway import LocalFunction
from creator_chat.observability import logger

if TYPE_CHECKING:
    from creator_chat.adapters.embedded.queue import EmbeddedJobQueue
    from creator_chat.resources import Queue

REGION = "us-east-1"


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": m.get("Attributes", {}).get(
                        "ApproximateReceiveCount", "1"
                    ),
                    "SentTimestamp": m.get("Attributes", {}).get("SentTimestamp", "0"),
                    "SenderId": m.get("Attributes", {}).get("SenderId", "local"),
                    "ApproximateFirstReceiveTimestamp": m.get("Attributes", {}).get(
                        "ApproximateFirstReceiveTimestamp", "0"
                    ),
                },
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


class MessageSource(Protocol):
    """Where a poller receives messages (boto3 ``receive_message`` shape) and acknowledges them."""

    @property
    def arn(self) -> str: ...

    def receive(self, max_messages: int, wait_s: float) -> list[dict[str, Any]]: ...

    def delete(self, messages: Sequence[dict[str, Any]]) -> None: ...


class SqsSource:
    """An SQS queue (AWS, LocalStack or moto); its redrive policy moves messages to the DLQ."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self.url = queue_url
        self._arn: str = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    @property
    def arn(self) -> str:
        return self._arn

    def receive(self, max_messages: int, wait_s: float) -> list[dict[str, Any]]:
        out = self._sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=max(0, min(20, int(wait_s))),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(out.get("Messages", []))

    def delete(self, messages: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):  # DeleteMessageBatch takes 10 at most
            self._sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages[start : start + 10])
                ],
            )


class EmbeddedSource:
    """A queue of the embedded database, with the declared queue's visibility timeout and
    max receives (then the message moves to ``<name>-dlq``)."""

    def __init__(
        self,
        queue: EmbeddedJobQueue,
        declared: Queue,
        *,
        visibility_timeout_s: float | None = None,
    ) -> None:
        self.queue = queue
        self.visibility_timeout_s = (
            visibility_timeout_s
            if visibility_timeout_s is not None
            else float(declared.visibility_timeout_s)
        )
        self.max_receive_count = declared.max_receive_count
        self.dlq_name = queue.dlq_name
        self._arn = f"arn:aws:sqs:{REGION}:000000000000:{queue.name}"

    @property
    def arn(self) -> str:
        return self._arn

    def receive(self, max_messages: int, wait_s: float) -> list[dict[str, Any]]:
        return self.queue.receive(
            max_messages,
            visibility_timeout_s=self.visibility_timeout_s,
            max_receive_count=self.max_receive_count,
            dlq=self.dlq_name,
            wait_s=wait_s,
        )

    def delete(self, messages: Sequence[dict[str, Any]]) -> None:
        self.queue.delete(m["ReceiptHandle"] for m in messages)


class QueuePoller:
    """Feeds one worker handler from one message source, on ``concurrency`` threads."""

    def __init__(
        self,
        source: MessageSource,
        function: LocalFunction,
        *,
        batch_size: int,
        concurrency: int = 1,
        wait_s: int = 1,
    ) -> None:
        self.source = source
        self._function = function
        self._batch_size = batch_size
        self._wait_s = wait_s
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"poller-{function.name}-{i}", daemon=True)
            for i in range(max(1, concurrency))
        ]
        self.batches = 0

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def request_stop(self) -> None:
        """No new batch after this; a batch in progress finishes (or, if the process exits
        first, its messages are not deleted and its work is re-queued at the next start)."""
        self._stop.set()

    def stop(self, deadline: float | None = None) -> None:
        """Stop and wait for the threads until ``deadline`` (``time.monotonic()``)."""
        self.request_stop()
        if deadline is None:
            deadline = time.monotonic() + self._wait_s + 5
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _run(self) -> None:
        import asyncio

        asyncio.set_event_loop(asyncio.new_event_loop())  # handlers may use asyncio
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                logger.exception("poller error", extra={"function": self._function.name})
                self._stop.wait(1)

    def poll_once(self) -> int:
        """One receive → invoke → delete cycle; returns how many records were received."""
        messages = self.source.receive(self._batch_size, self._wait_s)
        if not messages:
            return 0
        self.batches += 1
        try:
            result = self._function.invoke(sqs_event(messages, self.source.arn))
        except Exception:
            logger.exception(
                "worker failed the whole batch", extra={"function": self._function.name}
            )
            return len(messages)  # nothing deleted: the whole batch comes back
        failed = {f.get("itemIdentifier") for f in (result or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.source.delete(done)
        return len(messages)

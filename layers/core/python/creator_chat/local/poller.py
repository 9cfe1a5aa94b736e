"""Feeds SQS batches to worker handlers, as a Lambda event source mapping does.

Per declared worker: ``concurrency`` threads long-poll the queue for up to ``batch_size``
messages, invoke the handler with an SQS event, delete the records it did not report in
``batchItemFailures`` (all of them stay if the handler raised), and leave the failures to
reappear after the visibility timeout; the queue's redrive policy moves a message to its
DLQ after ``maxReceiveCount`` receives.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from creator_chat.local.gateway import LocalFunction
from creator_chat.observability import logger

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


class QueuePoller:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        function: LocalFunction,
        *,
        batch_size: int,
        concurrency: int = 1,
        wait_s: int = 1,
    ) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._function = function
        self._batch_size = batch_size
        self._wait_s = wait_s
        self._stop = threading.Event()
        self._arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
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
        out = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = out.get("Messages", [])
        if not messages:
            return 0
        self.batches += 1
        try:
            result = self._function.invoke(sqs_event(messages, self._arn))
        except Exception:
            logger.exception(
                "worker failed the whole batch", extra={"function": self._function.name}
            )
            return len(messages)  # nothing deleted: the whole batch comes back
        failed = {f.get("itemIdentifier") for f in (result or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        return len(messages)

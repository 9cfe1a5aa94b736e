"""Stopping the local SQS pollers (Ctrl-C on ``creator-chat serve``) does not wait for a long
batch, and a batch cut short is not acknowledged: its messages stay on the queue."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import boto3
from creator_chat.local.gateway import LocalFunction
from creator_chat.local.poller import QueuePoller, SqsSource


def test_stop_returns_during_a_long_batch_and_leaves_its_messages_on_the_queue(
    emulator: str,
) -> None:
    sqs = boto3.client("sqs", endpoint_url=emulator)
    url = sqs.create_queue(
        QueueName=f"shutdown-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "30"}
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody='{"job": "a long ingest"}')
    entered, release = threading.Event(), threading.Event()

    def slow_worker(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        entered.set()
        release.wait(60)
        return {"batchItemFailures": []}

    poller = QueuePoller(
        SqsSource(sqs, url), LocalFunction("slow", slow_worker, 60, 1024), batch_size=1
    )
    poller.start()
    try:
        assert entered.wait(30), "the poller never delivered the message"

        poller.stop(deadline=time.monotonic() + 0.2)  # the runtime's grace period, shortened

        assert poller.running  # stop() returned while the batch is still being worked on
        attrs = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        assert attrs["ApproximateNumberOfMessagesNotVisible"] == "1"  # in flight, not deleted
    finally:
        release.set()
    poller.stop()
    assert not poller.running
    # a batch that did finish is acknowledged, and no new batch was taken after stop
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    visible = attrs["ApproximateNumberOfMessages"]
    in_flight = attrs["ApproximateNumberOfMessagesNotVisible"]
    assert (visible, in_flight) == ("0", "0")

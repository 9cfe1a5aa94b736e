"""SQS: each declared queue with its dead-letter queue ``{name}-dlq``."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from creator_chat.resources import Declaration, Queue

from infra_cdk.config import EnvConfig
from infra_cdk.naming import pascal_case

# AWS's guidance for a queue feeding Lambda: visibility timeout at least six times the
# function timeout, so a retried batch is not redelivered while a first attempt still runs.
VISIBILITY_TO_TIMEOUT_RATIO = 6
_DLQ_RETENTION = Duration.days(14)


def check_visibility_timeouts(declaration: Declaration) -> None:
    """Fail the synth when a worker's queue could redeliver a message still being worked on."""
    for worker in declaration.workers:
        queue = declaration.queue(worker.queue)
        function = declaration.function(worker.function)
        needed = VISIBILITY_TO_TIMEOUT_RATIO * function.timeout_s
        if queue.visibility_timeout_s < needed:
            raise ValueError(
                f"queue {queue.name!r}: visibility timeout {queue.visibility_timeout_s}s is "
                f"below {VISIBILITY_TO_TIMEOUT_RATIO} x the {function.name!r} timeout "
                f"({function.timeout_s}s) = {needed}s"
            )


class QueuesConstruct(Construct):
    """The queues and their DLQs, by logical name (``queues["llm-jobs"]``)."""

    def __init__(
        self, scope: Construct, id: str, *, declaration: Declaration, config: EnvConfig
    ) -> None:
        super().__init__(scope, id)
        check_visibility_timeouts(declaration)
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for queue in declaration.queues:
            dlq, main = self._build_queue(queue)
            self.queues[queue.name] = main
            self.dead_letter_queues[queue.name] = dlq

    def _build_queue(self, queue: Queue) -> tuple[sqs.Queue, sqs.Queue]:
        base = pascal_case(queue.name)
        dlq = sqs.Queue(
            self,
            f"{base}Dlq",
            retention_period=_DLQ_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        main = sqs.Queue(
            self,
            f"{base}Queue",
            visibility_timeout=Duration.seconds(queue.visibility_timeout_s),
            retention_period=Duration.seconds(queue.retention_s),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=dlq, max_receive_count=queue.max_receive_count
            ),
        )
        return dlq, main

"""Logger, Tracer and Metrics, created once and imported everywhere (Powertools).

Use cases log through ``logger`` and count through ``metrics``; handlers add the fixed
decorator stack (``lambda_entry``). Chat text never goes into traces or logs.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "creator-chat")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "CreatorChat")

logger = Logger(service=SERVICE)
# Tracing is off locally unless asked for: X-Ray has no daemon here.
tracer = Tracer(
    service=SERVICE, disabled=os.environ.get("POWERTOOLS_TRACE_DISABLED", "true") == "true"
)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# An invocation that counted nothing is normal (health checks); don't warn on each one.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def _metrics_disabled() -> bool:
    return os.environ.get("POWERTOOLS_METRICS_DISABLED", "false").lower() in ("1", "true", "yes")


F = TypeVar("F", bound=Callable[..., Any])


def count(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    """Add to an EMF metric; never lets a metrics problem fail a request."""
    if _metrics_disabled():
        # Powertools would still buffer them and print a batch at 100 values
        return
    try:
        metrics.add_metric(name=name, unit=unit, value=value)
    except Exception:  # metrics must not break requests
        logger.debug("metric dropped", extra={"metric": name})


def lambda_entry(fn: F) -> F:
    """The fixed decorator stack for every Lambda entry point.

    Inject Lambda context with a correlation id → flush metrics → trace the handler with
    ``capture_response=False`` (answers and questions stay out of traces).
    """
    traced = tracer.capture_lambda_handler(capture_response=False)(fn)
    flushed = metrics.log_metrics(traced)
    injected = logger.inject_lambda_context(correlation_id_path="requestContext.requestId")(flushed)
    return cast(F, injected)

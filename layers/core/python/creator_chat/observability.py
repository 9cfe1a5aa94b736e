"""Logger, Tracer and Metrics, created once and imported everywhere (Powertools).

Use cases log through ``logger`` and count through ``metrics``; handlers add the fixed
decorator stack (``lambda_entry``). Chat text never goes into traces or logs.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "creator-chat")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "CreatorChat")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# An invocation that counted nothing is normal (health checks); don't warn on each one.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def _metrics_disabled() -> bool:
    return os.environ.get("POWERTOOLS_METRICS_DISABLED", "false").lower() in ("1", "true", "yes")


F = TypeVar("F", bound=Callable[..., Any])
# AWS SDK calls are the only outbound calls the handlers make; patching everything X-Ray
# supports would import requests, httpx (and rich through it) into every cold start.
TRACED_MODULES = ("botocore",)


def tracing_enabled() -> bool:
    """X-Ray tracing runs in Lambda unless ``POWERTOOLS_TRACE_DISABLED`` turns it off, and
    never elsewhere (no daemon; the local runtime is not Lambda)."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true", "yes"):
        return False
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


@cache
def tracer() -> Tracer:
    """The process's Tracer, built on first use: the X-Ray SDK is imported only when traced."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE, patch_modules=TRACED_MODULES)


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
    ``capture_response=False`` (answers and questions stay out of traces) when tracing is on.
    """
    traced = (
        tracer().capture_lambda_handler(capture_response=False)(fn) if tracing_enabled() else fn
    )
    flushed = metrics.log_metrics(traced)
    injected = logger.inject_lambda_context(correlation_id_path="requestContext.requestId")(flushed)
    return cast(F, injected)

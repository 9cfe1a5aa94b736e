"""Run one Lambda handler as a new Lambda container would: a fresh interpreter, the
environment Lambda gives a deployed function, the handler file imported by path (nothing of
the local runtime), then optionally one invocation.

Used by ``bench/cold_start.py`` (how long) and ``tests/integration/test_handler_init.py``
(what gets imported). DynamoDB, SQS and S3 are whatever ``AWS_ENDPOINT_URL`` in the given
environment points at (the emulator).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from creator_chat.resources import FUNCTION_ENVIRONMENT

# A sampled X-Ray trace, as Lambda sets it per invocation when tracing is active.
TRACE_HEADER = "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1"

_CHILD = """
import time
t0 = time.perf_counter()
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
handler = getattr(module, {attr!r})
t1 = time.perf_counter()
event = json.loads({event!r})
result, first = None, None
if event is not None:
    class Context:
        function_name = {name!r}
        memory_limit_in_mb = 1024
        invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:" + {name!r}
        aws_request_id = "cold-start"
        def get_remaining_time_in_millis(self):
            return 29000
    result = handler(event, Context())
    first = (time.perf_counter() - t1) * 1000
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({watched!r}))
print(json.dumps({{"init": (t1 - t0) * 1000, "first": first, "result": result, "loaded": loaded}}))
"""


def lambda_environment(
    base: Mapping[str, str], *, name: str, task_root: Path, tracing: bool = True
) -> dict[str, str]:
    """``base`` plus what Lambda and the stack put in a deployed function's environment;
    tracing on as the stack deploys it (segments go to a UDP port where nothing listens)."""
    return {
        **base,
        **FUNCTION_ENVIRONMENT,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "LAMBDA_TASK_ROOT": str(task_root),
        "_X_AMZN_TRACE_ID": TRACE_HEADER,
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
    }


def child_code(
    handler_file: Path,
    attr: str,
    name: str,
    event: Mapping[str, Any] | None,
    *,
    watched: Sequence[str] = (),
) -> str:
    """The child's program: prints ``{init, first, result, loaded}`` as JSON (ms; ``loaded``
    = the ``watched`` top-level packages imported by the end)."""
    return _CHILD.format(
        path=str(handler_file),
        attr=attr,
        name=name,
        event=json.dumps(event),
        watched=tuple(watched),
    )


def run_cold(code: str, env: Mapping[str, str], *, timeout_s: float = 120) -> dict[str, Any]:
    """Run ``child_code`` in a fresh interpreter; raises with the child's stderr if it fails."""
    proc = subprocess.run(  # noqa: S603 (our own program, built by child_code)
        [sys.executable, "-c", code],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cold start child failed:\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out

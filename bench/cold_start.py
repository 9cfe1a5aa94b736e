"""Cold start of each Lambda function: a fresh interpreter → handler module imported and its
container built (Lambda's init phase), then the first invocation (what the first caller of a
new container waits for on top of init). Median of N runs, next to ``import boto3``.

The child processes see the environment a deployed function sees (``LAMBDA_TASK_ROOT``,
``AWS_LAMBDA_FUNCTION_NAME``, an X-Ray trace header, tracing on as the stack deploys it),
with DynamoDB, SQS and S3 served by the emulator on loopback. First invocations:

- authorizer: a valid token for a new session (JWT verify + session write);
- chat: ``GET /v1/threads`` as a fan (one DynamoDB query);
- ingest: ``GET /v1/creators/{id}/documents`` as the creator (two reads);
- the SQS workers: init only (no caller waits for them).

The code runs with its bytecode, as deployed (the core layer and each function folder are
bundled with ``.pyc`` files for the runtime's Python: ``infra_cdk/bytecode.py``): the repo's
``layers/core`` and ``functions`` are compiled first. boto3 and botocore are this
environment's, copied with botocore's models pruned as the dependency layer ships them
(``layers/build_deps.py``: only the services the code calls), first on every child's
``PYTHONPATH`` (the ``import boto3`` rows' too). More rows show the authorizer and chat as
Lambda ran them before: with the runtime's SDK (every model), and when they shipped as
source only (every module compiled at each cold start, the dependencies' too: Python's
bytecode cache is pointed at an empty folder).

    python bench/cold_start.py [--runs 10] [--import-profile]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers"))
import build_deps
import creator_chat.local  # noqa: F401  (quiet Powertools before it is imported)
from _table import header, row
from creator_chat.auth import issue_dev_token
from creator_chat.clock import SystemClock
from creator_chat.domain.models import Identity, Role, Tier
from creator_chat.local.cold_start import child_code, lambda_environment, run_cold
from creator_chat.local.emulator import Emulator
from creator_chat.local.provision import provision
from creator_chat.resources import DECLARATION
from creator_chat.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
BENCH_CREATOR = "cr_coldstart"
RATIO_TARGETS = {"authorizer": 1.5, "chat": 2.5}


def api_event(name: str, method: str, path: str, claims: dict[str, str]) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "http_get_creators.json").read_text())
    event["rawPath"] = path
    event["requestContext"]["http"].update(method=method, path=path)
    event["requestContext"]["authorizer"] = {"lambda": claims}
    event["requestContext"]["requestId"] = f"cold-start-{name}"
    event["pathParameters"] = {"proxy": path.removeprefix("/v1/")}
    return event


def first_events(settings: Settings) -> dict[str, dict[str, Any] | None]:
    token = issue_dev_token(settings, user_id="coldstart-fan", role=Role.FAN, tier=Tier.FREE)
    auth: dict[str, Any] = json.loads((EVENTS / "authorizer_request.json").read_text())
    auth["headers"]["authorization"] = f"Bearer {token}"
    return {
        "authorizer": auth,
        "chat": api_event(
            "chat",
            "GET",
            "/v1/threads",
            {"user_id": "coldstart-fan", "role": "fan", "tier": "free"},
        ),
        "ingest": api_event(
            "ingest",
            "GET",
            f"/v1/creators/{BENCH_CREATOR}/documents",
            {
                "user_id": "coldstart-creator",
                "role": "creator",
                "tier": "free",
                "creator_id": BENCH_CREATOR,
            },
        ),
    }


def _ok(result: dict[str, Any]) -> bool:
    return bool(result.get("isAuthorized", result.get("statusCode") == 200))


def import_profile(code: str, env: dict[str, str], top: int = 12) -> list[tuple[str, float]]:
    """Import time per top-level package during init (self time of all its modules, one
    run of ``python -X importtime``): what each dependency costs on its own."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True
    )
    totals: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \| *(\S+)", line)
        if m:
            package = m.group(2).split(".")[0]
            totals[package] = totals.get(package, 0.0) + int(m.group(1)) / 1000
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--import-profile", action="store_true", help="also list the heaviest imports"
    )
    args = parser.parse_args()
    emu = Emulator()
    emu.start()
    sdk = build_deps.shipped_sdk_copy(Path(tempfile.mkdtemp(prefix="shipped-sdk-")))
    pythonpath = os.environ.get("PYTHONPATH", "")
    base = {
        **os.environ,
        **emu.environment(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(sdk), pythonpath])),
        "CREATOR_CHAT_ENV": "local",
        "CREATOR_CHAT_JWT_SECRET": "bench-secret-0123456789abcdef0123456789",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    os.environ.update(base)
    settings = Settings()
    provision(settings)
    from creator_chat.container import container_from_env
    from creator_chat.usecases.creators import create_creator

    admin = Identity(user_id="bench-admin", role=Role.ADMIN, tier=Tier.ENTERPRISE)
    create_creator(
        container_from_env().creators,
        SystemClock(),
        admin,
        slug="cold-start",
        name="Cold start",
        creator_id=BENCH_CREATOR,
    )
    events = first_events(settings)
    # as deployed: with bytecode (dependencies have theirs from pip; our code gets its own)
    for folder in (ROOT / "layers" / "core" / "python", ROOT / "functions"):
        compileall.compile_dir(folder, quiet=1)

    # Every round runs each child once, in turn: a shared machine's load drifts over a
    # minute, and measuring all of one row before the next would put the drift into the
    # ratios. The ratio of a round compares children that ran seconds apart.
    runtime_sdk = {**base, "PYTHONPATH": pythonpath}
    children: dict[str, tuple[str, dict[str, str], bool]] = {}
    for fn in DECLARATION.functions:
        module, _, attr = fn.handler.rpartition(".")
        path = ROOT / "functions" / fn.code_dir / f"{module}.py"
        event = events.get(fn.name)
        code = child_code(path, attr, fn.name, event)
        children[fn.name] = (
            code,
            lambda_environment(base, name=fn.name, task_root=path.parent),
            event is not None,
        )
        if fn.name in RATIO_TARGETS and event is not None:
            children[f"{fn.name}, every model"] = (
                code,
                lambda_environment(runtime_sdk, name=fn.name, task_root=path.parent),
                True,
            )
    whole: list[float] = []
    inner: list[float] = []
    init: dict[str, list[float]] = {name: [] for name in children}
    first: dict[str, list[float]] = {name: [] for name in children}
    ratios: dict[str, list[float]] = {name: [] for name in RATIO_TARGETS}
    for _ in range(args.runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import boto3"], check=True)
        whole.append((time.perf_counter() - t) * 1000)
        inner.append(
            float(
                subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        "import time; t=time.perf_counter(); import boto3; "
                        "print((time.perf_counter()-t)*1000)",
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
        )
        for name, (code, env, invoked) in children.items():
            got = run_cold(code, env)
            if invoked and not _ok(got["result"]):
                raise SystemExit(f"{name}: first invocation failed: {got['result']}")
            init[name].append(float(got["init"]))
            if invoked:
                first[name].append(float(got["first"]))
                if name in ratios:
                    ratios[name].append((init[name][-1] + first[name][-1]) / whole[-1])

    print(header(f"import boto3 (fresh interpreter), {args.runs} rounds"))
    print(row('python -c "import boto3" (whole process)', whole))
    print(row("import boto3 (in-process)", inner))
    print(
        header(
            "cold start per function, Lambda-like environment: init = handler imported + "
            "container built; first = first invocation"
        )
    )
    for name in children:
        if name.endswith("every model"):
            continue
        print(row(f"{name}: init", init[name]))
        if first[name]:
            print(row(f"{name}: first invocation", first[name]))
            total = [a + b for a, b in zip(init[name], first[name], strict=True)]
            print(row(f"{name}: init + first", total))
    print(header("with the Lambda runtime's SDK: botocore with every service's model"))
    for name in children:
        if name.endswith("every model"):
            total = [a + b for a, b in zip(init[name], first[name], strict=True)]
            print(row(f"{name.removesuffix(', every model')}: init + first, every model", total))
    boto3_ms = statistics.median(whole)
    print(
        f'\ninit + first over python -c "import boto3" (median {boto3_ms:.0f} ms), '
        "the median of each round's ratio, and its range:"
    )
    for name, target in RATIO_TARGETS.items():
        if ratios[name]:
            print(
                f"  {name:<12} {statistics.median(ratios[name]):4.2f}x  "
                f"({min(ratios[name]):.2f} to {max(ratios[name]):.2f}; "
                f"issue 19's target: at most {target}x)"
            )
    profiles: dict[str, list[tuple[str, float]]] = {}
    if args.import_profile:
        seen: set[tuple[str, str]] = set()
        for fn in DECLARATION.functions:
            if (fn.code_dir, fn.handler) not in seen:
                seen.add((fn.code_dir, fn.handler))
                code, env, _ = children[fn.name]
                profiles[fn.name] = import_profile(code, env)
    print(
        header(
            "without bytecode: source only, every module compiled at each cold start "
            "(as the code shipped before it was bundled with .pyc)"
        )
    )
    with tempfile.TemporaryDirectory() as empty:
        no_bytecode = {"PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"}
        for fn in DECLARATION.functions:
            event = events.get(fn.name)
            if fn.name not in ("authorizer", "chat") or event is None:
                continue
            module, _, attr = fn.handler.rpartition(".")
            path = ROOT / "functions" / fn.code_dir / f"{module}.py"
            code = child_code(path, attr, fn.name, event)
            env = {
                **lambda_environment(base, name=fn.name, task_root=path.parent),
                **no_bytecode,
            }
            runs = [run_cold(code, env) for _ in range(args.runs)]
            print(
                row(f"{fn.name}: init + first, source only", [r["init"] + r["first"] for r in runs])
            )
    for name, ranked in profiles.items():
        print(f"\nimport time by package, {name}: init + first invocation (ms, self, one run)")
        for package, ms in ranked:
            print(f"  {package:<30} {ms:>8.1f}")
    emu.stop()
    shutil.rmtree(sdk, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

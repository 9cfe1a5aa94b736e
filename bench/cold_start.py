"""Cold start of each Lambda handler: a fresh interpreter → handler module imported and its
container built (Lambda's init phase), median of N runs, next to ``import boto3``.

    python bench/cold_start.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _table import header, row
from creator_chat.local.emulator import Emulator
from creator_chat.local.provision import provision
from creator_chat.resources import DECLARATION
from creator_chat.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

# Imports the handler file by path, as Lambda does, and nothing of the local runtime.
INIT = """
import time
t = time.perf_counter()
import importlib.util, sys
spec = importlib.util.spec_from_file_location("handler", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
getattr(module, {attr!r})
print(f"{{(time.perf_counter() - t) * 1000:.2f}}")
"""


def measure(code: str, env: dict[str, str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        wall = (time.perf_counter() - t) * 1000
        inner = proc.stdout.strip().splitlines()
        out.append(float(inner[-1]) if inner else wall)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    emu = Emulator()
    emu.start()
    env = {
        **os.environ,
        **emu.environment(),
        "CREATOR_CHAT_ENV": "local",
        "CREATOR_CHAT_JWT_SECRET": "bench-secret-0123456789abcdef0123456789",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    provision(Settings())
    print(
        header(
            f"cold start (fresh interpreter → handler imported + container built), {args.runs} runs"
        )
    )
    print(
        row(
            'python -c "import boto3" (whole process)',
            [
                (
                    lambda t: (
                        subprocess.run([sys.executable, "-c", "import boto3"], check=True),
                        (time.perf_counter() - t) * 1000,
                    )[1]
                )(time.perf_counter())
                for _ in range(args.runs)
            ],
        )
    )
    base = measure(
        "import time; t=time.perf_counter(); import boto3; "
        "print(f'{(time.perf_counter()-t)*1000:.2f}')",
        env,
        args.runs,
    )
    print(row("import boto3 (in-process)", base))
    seen = set()
    for fn in DECLARATION.functions:
        key = (fn.code_dir, fn.handler)
        if key in seen:
            continue
        seen.add(key)
        module, _, attr = fn.handler.rpartition(".")
        path = ROOT / "functions" / fn.code_dir / f"{module}.py"
        code = INIT.format(path=str(path), attr=attr)
        print(row(f"{fn.name} ({fn.code_dir}/{fn.handler})", measure(code, env, args.runs)))
    emu.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

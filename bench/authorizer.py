"""The authorizer warm: verify + session check per call (p50/p99), and the quota check's
cost (one conditional counter update): on the embedded database (what `creator-chat serve`
uses) and on DynamoDB in moto on loopback (the AWS adapters; moto adds an HTTP round trip).

    python bench/authorizer.py [--n 300]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import creator_chat.local  # noqa: F401  (quiet Powertools before it is imported)
from _table import header, row
from creator_chat.auth import issue_dev_token
from creator_chat.container import container_from_env, reset_container
from creator_chat.domain.models import Role, Tier
from creator_chat.local.emulator import Emulator
from creator_chat.local.gateway import LambdaContext
from creator_chat.local.provision import provision
from creator_chat.local.runtime import default_functions_dir, load_handler
from creator_chat.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def measure(family: str, n: int) -> None:
    settings = Settings()
    handler = load_handler(default_functions_dir(), "authorizer", "handler.handler")
    event = json.loads((ROOT / "events" / "authorizer_request.json").read_text())
    tok = issue_dev_token(settings, user_id="bench-fan", role=Role.FAN, tier=Tier.FREE)
    event["headers"]["authorization"] = f"Bearer {tok}"
    ctx = LambdaContext("authorizer", 256, 5, "r")
    assert handler(copy.deepcopy(event), ctx)["isAuthorized"]  # creates the session
    warm = []
    for _ in range(n):
        t = time.perf_counter()
        handler(copy.deepcopy(event), ctx)
        warm.append((time.perf_counter() - t) * 1000)
    limiter = container_from_env().rate_limiter
    quota = []
    for i in range(n):
        t = time.perf_counter()
        limiter.hit(f"chat:bench-{i % 50}", limit=5000, window_s=3600)
        quota.append((time.perf_counter() - t) * 1000)
    where = "embedded database" if family == "embedded" else "DynamoDB in moto on loopback"
    print(header(f"authorizer and quota, warm, {where}"))
    print(row("authorizer invocation (verify + session)", warm))
    print(row("quota check (conditional counter)", quota))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    os.environ["CREATOR_CHAT_JWT_SECRET"] = "bench-secret-0123456789abcdef0123456789"
    for family in ("embedded", "aws"):
        emu = None
        if family == "aws":
            emu = Emulator()
            emu.start()
            os.environ.update(emu.environment())
            os.environ["CREATOR_CHAT_STORAGE"] = "aws"
            provision(Settings())
        else:
            os.environ.pop("AWS_ENDPOINT_URL", None)
            os.environ["CREATOR_CHAT_STORAGE"] = "embedded"
            os.environ["CREATOR_CHAT_DATA_DIR"] = tempfile.mkdtemp(prefix="authorizer-")
        reset_container()
        measure(family, args.n)
        if emu is not None:
            emu.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

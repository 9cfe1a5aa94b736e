"""`creator-chat serve` as a real process on a free port (moto's state lives in the process,
so only a new process proves a restart). Stopped with Ctrl-C unless the test killed it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from creator_chat.local.runtime import free_port


@contextmanager
def server(data_dir: Path, secret: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CREATOR_CHAT_", "AWS_ENDPOINT"))
    }
    env.update({"CREATOR_CHAT_JWT_SECRET": secret, "CREATOR_CHAT_ENV": "local"})
    cmd = [
        sys.executable,
        "-m",
        "creator_chat.cli",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--no-demo",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "server exited"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C: the server saves its data and exits
        proc.wait(timeout=60)

"""`creator-chat serve` as a real process on a free port (only a new process proves a restart,
and only a real process can be killed with SIGKILL). Stopped with Ctrl-C unless the test killed
it; a server that does not stop within the grace period is killed, so no test leaves one
behind."""

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
def server(
    data_dir: Path,
    secret: str | None,
    *args: str,
    env: dict[str, str] | None = None,
    host: str | None = None,
    output: Path | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``secret=None``: the server's own (made in the data dir); ``env``: more variables;
    ``host``: the bind address (reached on 127.0.0.1 either way); ``output``: a file that
    gets the server's stdout and stderr."""
    port = free_port()
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("CREATOR_CHAT_", "AWS_ENDPOINT"))
    }
    environ["CREATOR_CHAT_ENV"] = "local"
    if secret is not None:
        environ["CREATOR_CHAT_JWT_SECRET"] = secret
    environ.update(env or {})
    if host is not None:
        args = ("--host", host, *args)
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
        *args,
    ]
    sink = output.open("ab") if output is not None else None
    proc = subprocess.Popen(
        cmd,
        env=environ,
        stdout=sink or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if sink else subprocess.DEVNULL,
    )
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
        stop(proc)
        if sink is not None:
            sink.close()


def stop(proc: subprocess.Popen[bytes], *, grace_s: float = 30) -> int:
    """Ctrl-C, then SIGKILL if it has not exited within ``grace_s``; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait(timeout=30)

"""``creator-chat serve``: the whole product on one machine, with the real handlers.

Start order: environment → emulator (unless ``AWS_ENDPOINT_URL`` or a deployed env says
otherwise) → declared resources → handler modules (imported from ``functions/``, the same
files CDK packages) → SQS pollers → demo creator → HTTP gateway.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from creator_chat.local.emulator import Emulator
from creator_chat.local.gateway import LocalFunction, LocalGateway
from creator_chat.local.poller import QueuePoller
from creator_chat.local.provision import provision
from creator_chat.local.static import StaticSite, dev_routes
from creator_chat.observability import logger
from creator_chat.resources import DECLARATION, Declaration
from creator_chat.settings import Settings

# Local and test only: the server and `creator-chat token` agree on it without setup.
LOCAL_DEV_SECRET = "creator-chat-local-dev-secret-not-for-production"  # noqa: S105
DEPLOYED_ENVS = ("dev", "staging", "prod")


def default_functions_dir() -> Path:
    """``functions/`` of the source tree this package is installed from (editable install)."""
    env = os.environ.get("CREATOR_CHAT_FUNCTIONS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[5] / "functions"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_handler(functions_dir: Path, code_dir: str, handler: str) -> Any:
    """Import ``functions/<code_dir>/<module>.py`` by path and return its handler."""
    module_name, _, attr = handler.rpartition(".")
    path = functions_dir / code_dir / f"{module_name}.py"
    spec = importlib.util.spec_from_file_location(f"lambda_{code_dir}_{module_name}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return getattr(module, attr)


SHUTDOWN_GRACE_S = 5.0


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


class LocalRuntime:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        data_dir: Path | None = None,
        functions_dir: Path | None = None,
        declaration: Declaration = DECLARATION,
        visibility_timeout_s: int | None = None,
        seed_demo: bool = True,
        environ: dict[str, str] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.data_dir = data_dir
        self.functions_dir = functions_dir or default_functions_dir()
        self.declaration = declaration
        self.visibility_timeout_s = visibility_timeout_s
        self.seed_demo = seed_demo
        self.environ = environ or {}
        self.emulator: Emulator | None = None
        self.pollers: list[QueuePoller] = []
        self.functions: dict[str, LocalFunction] = {}
        self.queue_urls: dict[str, str] = {}
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.gateway: LocalGateway | None = None
        self.snapshot: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _prepare_environment(self) -> None:
        os.environ.update(self.environ)
        os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "creator-chat")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            os.environ["CREATOR_CHAT_DATA_DIR"] = str(self.data_dir)
        deployed = os.environ.get("CREATOR_CHAT_ENV") in DEPLOYED_ENVS
        if not deployed:
            os.environ.setdefault("CREATOR_CHAT_ENV", "local")
            os.environ.setdefault("CREATOR_CHAT_JWT_SECRET", LOCAL_DEV_SECRET)
        if not os.environ.get("AWS_ENDPOINT_URL") and not deployed:
            self.emulator = Emulator()
            self.emulator.start()
            os.environ.update(self.emulator.environment())

    def start(self) -> LocalRuntime:
        from creator_chat.container import reset_container

        self._prepare_environment()
        settings = Settings()
        if settings.env not in DEPLOYED_ENVS:
            self.queue_urls = provision(
                settings, self.declaration, visibility_timeout_s=self.visibility_timeout_s
            )
        if self.emulator is not None and self.data_dir is not None:
            from creator_chat.local.persistence import EmulatorSnapshot

            self.snapshot = EmulatorSnapshot(settings, self.declaration, self.data_dir)
            restored = self.snapshot.restore()
            logger.info("restored local data", extra={"items": restored})
        reset_container()  # handler modules build theirs from the environment set above
        for fn in self.declaration.functions:
            handler = load_handler(self.functions_dir, fn.code_dir, fn.handler)
            self.functions[fn.name] = LocalFunction(fn.name, handler, fn.timeout_s, fn.memory_mb)
        from creator_chat.container import container_from_env

        container = container_from_env()
        sqs = container.aws.client("sqs")
        for worker in self.declaration.workers:
            url = sqs.get_queue_url(QueueName=settings.physical_name("queue", worker.queue))[
                "QueueUrl"
            ]
            poller = QueuePoller(
                sqs,
                url,
                self.functions[worker.function],
                batch_size=worker.batch_size,
                concurrency=worker.max_concurrency or 2,
            )
            poller.start()
            self.pollers.append(poller)
        if self.snapshot is not None:
            from creator_chat.local.persistence import recover_inflight

            recover_inflight(container)  # SQS messages do not survive a restart; re-queue
            self.snapshot.start()
        if self.seed_demo:
            from creator_chat.local.demo import seed_demo_creator

            seed_demo_creator(container)
        dev_sign_in = dev_routes(settings)  # the web client's; local and test only, never deployed
        self.gateway = LocalGateway(
            list(self.declaration.routes),
            {name: f for name, f in self.functions.items()},
            self.functions[self.declaration.authorizer_function],
            static=StaticSite(dev_sign_in=bool(dev_sign_in)),
            local_routes=dev_sign_in,
        )
        self._start_http()
        logger.info("local runtime started", extra={"url": self.url})
        return self

    def _start_http(self) -> None:
        import uvicorn

        if self.port == 0:
            self.port = free_port()
        assert self.gateway is not None
        config = uvicorn.Config(
            self.gateway,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="gateway", daemon=True)
        self._thread.start()
        started = threading.Event()

        def _wait() -> None:
            while not self._server.started and self._thread is not None and self._thread.is_alive():
                started.wait(0.02)

        _wait()
        if not self._server.started:
            raise RuntimeError(f"local gateway could not start on {self.url}")

    def serve_forever(self) -> None:
        """Serve until Ctrl-C or SIGTERM (``kill``, ``docker stop``, systemd): both save the
        data dir and stop the same way. Signals that arrive while stopping are ignored, so
        a second Ctrl-C (or a supervisor's repeated SIGTERM) cannot cut the final save short;
        it takes a few seconds (SIGKILL still ends the process at once)."""
        assert self._thread is not None
        main = threading.current_thread() is threading.main_thread()
        if main:
            signal.signal(signal.SIGTERM, _interrupt)
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            if main:
                for signum in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(signum, signal.SIG_IGN)
                print("stopping: saving the data dir…", flush=True)
            self.stop()

    def busy_workers(self) -> bool:
        """Whether a worker is still finishing a batch (after the shutdown grace period)."""
        return any(poller.running for poller in self.pollers)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        # All pollers stop taking batches at once, then share one grace period: Ctrl-C must
        # not wait for a long ingest batch (the worker threads are daemons; unfinished work
        # is re-queued from the data dir at the next start).
        for poller in self.pollers:
            poller.request_stop()
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        for poller in self.pollers:
            poller.stop(deadline)
        if self.gateway is not None:
            self.gateway.close()
        if self.snapshot is not None:
            self.snapshot.stop()
        if self.emulator is not None:
            self.emulator.stop()

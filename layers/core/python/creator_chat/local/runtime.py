"""``creator-chat serve``: the whole product on one machine, with the real handlers.

Three modes, one gateway and the same handler code:
- **embedded** (the default): one SQLite database in the data dir holds every table and job
  queue, uploads are files beside it; nothing emulates AWS.
- **aws-emulator** (``--aws-emulator``): the AWS adapters against moto's server on loopback,
  in memory — for trying the AWS code path without AWS; nothing survives a restart.
- **aws**: ``AWS_ENDPOINT_URL`` (LocalStack) or a deployed environment's settings.

Start order: environment → (emulator and declared resources, in the AWS modes) → handler
modules (imported from ``functions/``, the same files CDK packages) → queue pollers → demo
creator → HTTP gateway.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import secrets
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from creator_chat.local.gateway import LocalFunction, LocalGateway, LocalRoute
from creator_chat.local.poller import QueuePoller
from creator_chat.local.provision import provision
from creator_chat.local.static import StaticSite, dev_routes, refused_dev_routes
from creator_chat.observability import logger
from creator_chat.resources import DECLARATION, Declaration
from creator_chat.settings import Settings

DEPLOYED_ENVS = ("dev", "staging", "prod")


def is_loopback(host: str | None) -> bool:
    """``127.0.0.0/8``, ``::1`` or ``localhost``: only this machine can connect."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
PURGE_EVERY_S = 60.0


class DataDirInUse(RuntimeError):
    """Another ``creator-chat serve`` already serves this data dir."""


def lock_data_dir(data_dir: Path) -> Any:
    """Hold an exclusive lock on the data dir for this process's life (released by the OS
    when it ends, however it ends): two servers on one database would steal each other's
    queued jobs back at start."""
    import fcntl

    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / ".lock").open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as err:
        handle.close()
        raise DataDirInUse(
            f"another creator-chat serve is using {data_dir}; stop it, or pass another --data-dir"
        ) from err
    return handle


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
        aws_emulator: bool = False,
        allow_dev_sign_in: bool = False,
    ) -> None:
        self.host, self.port = host, port
        self.data_dir = data_dir
        self.functions_dir = functions_dir or default_functions_dir()
        self.declaration = declaration
        self.visibility_timeout_s = visibility_timeout_s
        self.seed_demo = seed_demo
        self.environ = environ or {}
        self.aws_emulator = aws_emulator
        self.allow_dev_sign_in = allow_dev_sign_in
        # the web page's dev sign-in (POST /local/dev-token): on only for a loopback bind,
        # unless allowed explicitly (then ``dev_sign_in_exposed``: say so loudly at start)
        self.dev_sign_in = False
        self.dev_sign_in_exposed = False
        self.dev_sign_in_refused = False
        self.emulator: Any = None
        self.mode = "embedded"
        self.pollers: list[QueuePoller] = []
        self.functions: dict[str, LocalFunction] = {}
        self.queue_urls: dict[str, str] = {}
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.gateway: LocalGateway | None = None
        self.container: Any = None
        self._lock_handle: Any = None
        self._stop_purge = threading.Event()
        self._purge_thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _prepare_environment(self) -> None:
        os.environ.update(self.environ)
        os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "creator-chat")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        if self.port == 0:
            self.port = free_port()
        if "CREATOR_CHAT_PUBLIC_URL" not in self.environ:
            # upload URLs must name an address a client can reach, not a wildcard bind
            host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
            os.environ["CREATOR_CHAT_PUBLIC_URL"] = f"http://{host}:{self.port}"
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            os.environ["CREATOR_CHAT_DATA_DIR"] = str(self.data_dir)
        deployed = os.environ.get("CREATOR_CHAT_ENV") in DEPLOYED_ENVS
        if not deployed:
            os.environ.setdefault("CREATOR_CHAT_ENV", "local")
            if not os.environ.get("CREATOR_CHAT_JWT_SECRET"):
                # an explicit secret wins; else the data dir's own, made at the first start
                # (`creator-chat token` reads it there), else one for this process alone
                from creator_chat.local.secret import load_or_create_secret

                os.environ["CREATOR_CHAT_JWT_SECRET"] = (
                    load_or_create_secret(self.data_dir)
                    if self.data_dir is not None
                    else secrets.token_urlsafe(48)
                )
        if self.aws_emulator:
            from creator_chat.local.emulator import Emulator

            self.mode = "aws-emulator"
            self.emulator = Emulator()
            self.emulator.start()
            os.environ.update(self.emulator.environment())
            os.environ["CREATOR_CHAT_STORAGE"] = "aws"
        elif deployed or (
            os.environ.get("AWS_ENDPOINT_URL")
            and os.environ.get("CREATOR_CHAT_STORAGE") != "embedded"
        ):
            self.mode = "aws"
            os.environ["CREATOR_CHAT_STORAGE"] = "aws"
        else:
            self.mode = "embedded"
            os.environ["CREATOR_CHAT_STORAGE"] = "embedded"
            if self.data_dir is None:
                raise ValueError("the embedded default needs a data dir (--data-dir)")

    def start(self) -> LocalRuntime:
        from creator_chat.container import container_from_env, reset_container

        self._prepare_environment()
        settings = Settings()
        if self.mode == "embedded":
            assert self.data_dir is not None
            self._lock_handle = lock_data_dir(self.data_dir)
            from creator_chat.local.legacy import import_legacy_data_dir

            import_legacy_data_dir(settings)
        elif settings.env not in DEPLOYED_ENVS:
            self.queue_urls = provision(
                settings, self.declaration, visibility_timeout_s=self.visibility_timeout_s
            )
        reset_container()  # handler modules build theirs from the environment set above
        for fn in self.declaration.functions:
            handler = load_handler(self.functions_dir, fn.code_dir, fn.handler)
            self.functions[fn.name] = LocalFunction(fn.name, handler, fn.timeout_s, fn.memory_mb)
        container = self.container = container_from_env()
        local_routes: dict[tuple[str, str], LocalRoute] = {}
        if self.mode == "embedded":
            self._start_embedded(container, local_routes)
        else:
            self._start_sqs_pollers(container, settings)
        if self.seed_demo:
            from creator_chat.local.demo import seed_demo_creator

            seed_demo_creator(container)
        dev_sign_in = self._dev_sign_in_routes(settings)
        local_routes.update(dev_sign_in)
        self.gateway = LocalGateway(
            list(self.declaration.routes),
            {name: f for name, f in self.functions.items()},
            self.functions[self.declaration.authorizer_function],
            static=StaticSite(
                dev_sign_in=self.dev_sign_in,
                max_upload_bytes=container.settings.max_document_bytes,
            ),
            local_routes=local_routes,
            max_concurrency=int(os.environ.get("CREATOR_CHAT_GATEWAY_THREADS", "64")),
            websocket_routes=list(self.declaration.websocket_routes),
        )
        # the stream function posts to the gateway's sockets, as to API Gateway's in AWS
        container.overrides["connection_sender"] = self.gateway.connections
        self._start_http()
        logger.info("local runtime started", extra={"url": self.url, "mode": self.mode})
        return self

    def _dev_sign_in_routes(self, settings: Settings) -> dict[tuple[str, str], LocalRoute]:
        """The web client's dev sign-in (local and test only, never deployed). It hands out
        any fan's account and any creator's (the dashboard's creator choice, which may also
        create a creator), so it is on only when the server listens on loopback alone and is
        not published elsewhere (``CREATOR_CHAT_PUBLIC_URL``): what decides is the bind
        address, not a request's source address (behind a proxy every request comes from
        127.0.0.1). ``--allow-dev-sign-in`` / ``CREATOR_CHAT_DEV_SIGN_IN=1`` turn it on
        anyway; otherwise the route answers 403 with the way to turn it on."""
        routes = dev_routes(settings, creators=self.container.creators, clock=self.container.clock)
        if not routes:
            return routes
        local_only = is_loopback(self.host) and is_loopback(urlsplit(settings.public_url).hostname)
        if local_only or self.allow_dev_sign_in or settings.dev_sign_in:
            self.dev_sign_in = True
            self.dev_sign_in_exposed = not local_only
            if self.dev_sign_in_exposed:
                logger.warning(
                    "dev sign-in is on for a server reachable from other hosts: anyone who "
                    "reaches it can sign in as any fan or creator",
                    extra={"host": self.host, "public_url": settings.public_url},
                )
            return routes
        self.dev_sign_in_refused = True
        return refused_dev_routes(
            f"dev sign-in is off: this server listens on {self.host}, not on loopback alone. "
            "Restart it with --allow-dev-sign-in (or CREATOR_CHAT_DEV_SIGN_IN=1) to turn it on "
            "for a trusted network, or sign in with a token (creator-chat token)."
        )

    def _start_embedded(
        self, container: Any, local_routes: dict[tuple[str, str], LocalRoute]
    ) -> None:
        from creator_chat.adapters.embedded.queue import EmbeddedJobQueue
        from creator_chat.local.poller import EmbeddedSource
        from creator_chat.local.uploads import (
            LEGACY_UPLOAD_ROUTE_KEY,
            UPLOAD_ROUTE_KEY,
            upload_route,
        )

        db = container.database
        started = time.perf_counter()
        verified = container.index.verify()
        released = 0
        for queue in self.declaration.queues:
            name = container.settings.physical_name("queue", queue.name)
            released += EmbeddedJobQueue(db, name).release_inflight()
        # the jobs handed back above were cut short by the last process's end: their
        # "in progress" idempotency records would refuse the redelivery until they expire
        container.idempotency_persistence().release_in_progress()
        logger.info(
            "embedded database ready",
            extra={
                "path": str(db.path),
                "schema_version": db.schema_version,
                "jobs_resumed": released,
                "check_ms": round((time.perf_counter() - started) * 1000, 1),
                **verified,
            },
        )
        for worker in self.declaration.workers:
            source = EmbeddedSource(
                container.job_queue(worker.queue),
                self.declaration.queue(worker.queue),
                visibility_timeout_s=self.visibility_timeout_s,
            )
            poller = QueuePoller(
                source,
                self.functions[worker.function],
                batch_size=worker.batch_size,
                concurrency=worker.max_concurrency or 2,
            )
            poller.start()
            self.pollers.append(poller)
        uploads = upload_route(container.blobs, max_bytes=container.settings.max_document_bytes)
        local_routes[UPLOAD_ROUTE_KEY] = local_routes[LEGACY_UPLOAD_ROUTE_KEY] = uploads
        from creator_chat.local.exports import EXPORT_DOWNLOAD_ROUTE_KEY, export_download_route

        local_routes[EXPORT_DOWNLOAD_ROUTE_KEY] = export_download_route(container.export_blobs)
        threading.Thread(target=container.index.preload, name="index-preload", daemon=True).start()
        self._purge_thread = threading.Thread(
            target=self._purge_loop, args=(container,), name="purge", daemon=True
        )
        self._purge_thread.start()

    def _purge_loop(self, container: Any) -> None:
        """Delete expired rows now and then (reads already treat them as absent)."""
        while not self._stop_purge.wait(PURGE_EVERY_S):
            try:
                from creator_chat.local.exports import purge_expired_exports

                exports = purge_expired_exports(container)  # files with their records
                removed = container.database.purge_expired(container.clock.now())
                removed["exports"] = exports
                if any(removed.values()):
                    logger.info("expired rows purged", extra=removed)
            except Exception:
                logger.exception("purge failed")

    def _start_sqs_pollers(self, container: Any, settings: Settings) -> None:
        from creator_chat.local.poller import SqsSource

        sqs = container.aws.client("sqs")
        for worker in self.declaration.workers:
            url = sqs.get_queue_url(QueueName=settings.physical_name("queue", worker.queue))[
                "QueueUrl"
            ]
            poller = QueuePoller(
                SqsSource(sqs, url),
                self.functions[worker.function],
                batch_size=worker.batch_size,
                concurrency=worker.max_concurrency or 2,
            )
            poller.start()
            self.pollers.append(poller)

    def _start_http(self) -> None:
        import uvicorn

        assert self.gateway is not None
        config = uvicorn.Config(
            self.gateway,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
            ws="websockets-sansio",  # /v1/stream (streamed answers)
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
        """Serve until Ctrl-C or SIGTERM (``kill``, ``docker stop``, systemd): both stop the
        same way. Every acknowledged write is already committed, so stopping only lets running
        work finish for a few seconds; signals that arrive meanwhile are ignored (SIGKILL
        still ends the process at once, and loses nothing that was acknowledged)."""
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
                print("stopping…", flush=True)
            self.stop()

    def busy_workers(self) -> bool:
        """Whether a worker is still finishing a batch (after the shutdown grace period)."""
        return any(poller.running for poller in self.pollers)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._stop_purge.set()
        # All pollers stop taking batches at once, then share one grace period: Ctrl-C must
        # not wait for a long ingest batch (the worker threads are daemons; a job cut short
        # is still in its queue and runs again at the next start).
        for poller in self.pollers:
            poller.request_stop()
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        for poller in self.pollers:
            poller.stop(deadline)
        if self.gateway is not None:
            self.gateway.close()
        if self.emulator is not None:
            self.emulator.stop()
        if self.container is not None and not self.busy_workers():
            self.container.close()  # a worker still running keeps the database open
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

"""A real, throwaway ``redis-server`` for integration tests.

``redis_server`` starts ``redis-server`` (Debian package ``redis-server``) on a free
127.0.0.1 port with persistence off, waits until it answers PING and yields a
``RedisServer`` with ``.url``, ``.port``, ``.client()``, ``.stop()`` (kill it mid-test)
and ``.start()`` (bring it back on the same port). It is killed at teardown. A missing
binary fails the test with a clear message; it is never skipped.

``start_redis_server(workdir, password=..., tls=True)`` starts variants: with
``requirepass``, or TLS-only with a self-signed certificate made on the spot (Debian's
redis-server is built with TLS); the caller stops those.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_START_TIMEOUT_S = 10.0


def free_port() -> int:
    """A port nothing listens on right now (bind to 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1; returns (cert, key) paths.

    The certificate is its own CA: trust it with ``?ssl_ca_certs=<cert>`` in the URL.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "redis-tls.crt"
    key_path = directory / "redis-tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class RedisServer:
    def __init__(
        self,
        binary: str,
        workdir: Path,
        *,
        port: int | None = None,
        password: str | None = None,
        tls: bool = False,
    ) -> None:
        self._binary = binary
        self._workdir = workdir
        self.port = port if port is not None else free_port()
        self.password = password
        self.tls_cert: Path | None = None
        self._args = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._args += ["--dir", str(workdir)]
        if password is not None:
            self._args += ["--requirepass", password]
        if tls:
            cert, key = make_self_signed_cert(workdir)
            self.tls_cert = cert
            self._args += ["--port", "0", "--tls-port", str(self.port)]
            self._args += ["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
            self._args += ["--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"]
        else:
            self._args += ["--port", str(self.port)]
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL a client uses: ``rediss://`` trusting the test CA when TLS is on."""
        auth = f":{self.password}@" if self.password is not None else ""
        if self.tls_cert is not None:
            return f"rediss://{auth}localhost:{self.port}/0?ssl_ca_certs={self.tls_cert}"
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def client(self, timeout_s: float = 2.0) -> redis.Redis:
        """A plain client for assertions (not behind any breaker)."""
        return redis.Redis.from_url(
            self.url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )

    def start(self) -> None:
        if self.running:
            return
        log_path = self._workdir / f"redis-{self.port}.log"
        with log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [self._binary, *self._args], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        probe = self.client(timeout_s=0.5)
        try:
            while True:
                if self._proc.poll() is not None:
                    code = self._proc.returncode
                    self._proc = None
                    raise RuntimeError(
                        f"redis-server exited with {code}: {log_path.read_text()[-2000:]}"
                    )
                try:
                    if probe.ping():
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not answer PING on {self.port}")
                time.sleep(0.02)
        finally:
            probe.close()

    def stop(self) -> None:
        """Kill the server at once (as a crash or a network cut would look to a client)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.kill()
        proc.wait(timeout=10)


def start_redis_server(
    workdir: Path, *, password: str | None = None, tls: bool = False
) -> RedisServer:
    """Start a server on a free port, retrying if the port was taken meanwhile."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server not found: install the Debian package 'redis-server'")
    last: RuntimeError | None = None
    for _attempt in range(3):
        server = RedisServer(binary, workdir, password=password, tls=tls)
        try:
            server.start()
        except RuntimeError as exc:
            last = exc
        else:
            return server
    pytest.fail(f"could not start redis-server: {last}")


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis_server(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()

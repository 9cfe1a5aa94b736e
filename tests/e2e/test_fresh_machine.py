"""The README's two commands on a stock Debian/Ubuntu machine (issue 15).

A distribution's own python3 refuses `pip install` (PEP 668), so the Makefile makes a project
virtual environment with it and runs every target inside. `.ci/run` takes that same path
with /usr/bin/python3 (`make setup PYTHON=/usr/bin/python3`, then `make test`): this suite
itself then runs in a venv made by Debian's interpreter. These tests check the parts of that
path one by one, without installing the dependencies a second time.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest
from creator_chat.local.runtime import free_port

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")
# the venv the tests run in (the Makefile's VENV), and its stamp: `-o` keeps make from
# installing anything again
VENV = Path(sys.prefix)
STAMP = VENV / ".creator-chat-setup.stamp"
MAKE = ("make", "--no-print-directory", "-C", str(REPO))
CLI = (sys.executable, "-m", "creator_chat.cli")


def make(*args: str, timeout: float = 300, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAKE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kw,  # type: ignore[arg-type]
    )


def externally_managed(python: Path) -> bool:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return (Path(out.stdout.strip()) / "EXTERNALLY-MANAGED").is_file()


needs_system_python = pytest.mark.skipif(
    not SYSTEM_PYTHON.exists() or not externally_managed(SYSTEM_PYTHON),
    reason="no distribution python3 (externally managed) on this machine",
)


@needs_system_python
def test_the_system_python_refuses_a_bare_pip_install():
    """What `make run` used to run: this is why the Makefile makes a venv."""
    out = subprocess.run(
        [str(SYSTEM_PYTHON), "-m", "pip", "install", "--dry-run", "creator-chat-nonexistent"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode != 0 and "externally-managed-environment" in out.stderr


@needs_system_python
@pytest.mark.slow
def test_make_creates_the_venv_with_the_system_python(tmp_path: Path):
    venv = tmp_path / "venv"
    out = make("venv", f"PYTHON={SYSTEM_PYTHON}", f"VENV={venv}")
    assert out.returncode == 0, out.stdout + out.stderr
    python = venv / "bin" / "python"
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import sys, pip; print(sys.prefix != sys.base_prefix, sys.base_prefix)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.split() == ["True", "/usr"]


FAKE_PYTHON = """#!/bin/sh
# {real} without ensurepip until the fake apt-get has "installed" python3.X-venv
if [ "$1" = "-c" ] && [ "$2" = "import ensurepip" ] && [ ! -e {marker} ]; then
  echo "ModuleNotFoundError: No module named 'ensurepip'" >&2; exit 1
fi
exec {real} "$@"
"""
FAKE_APT = """#!/bin/sh
echo "$@" >> {log}
case "$*" in *install*) touch {marker};; esac
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the Makefile installs Debian packages as root only")
@pytest.mark.slow
def test_a_python_without_ensurepip_gets_its_venv_package_installed(tmp_path: Path):
    """Debian without python3-venv: `python3 -m venv` fails for lack of ensurepip; make
    installs python3.X-venv and goes on."""
    marker, log = tmp_path / "installed", tmp_path / "apt.log"
    python, apt = tmp_path / "python3", tmp_path / "apt-get"
    python.write_text(FAKE_PYTHON.format(real=sys.executable, marker=marker))
    apt.write_text(FAKE_APT.format(log=log, marker=marker))
    for f in (python, apt):
        f.chmod(f.stat().st_mode | stat.S_IXUSR)
    out = make("venv", f"PYTHON={python}", f"APT_GET={apt}", f"VENV={tmp_path / 'venv'}")
    assert out.returncode == 0, out.stdout + out.stderr
    version = sysconfig.get_python_version()
    assert f"install -y -qq python{version}-venv" in log.read_text()
    assert f"installing Debian's python{version}-venv" in out.stdout
    assert (tmp_path / "venv" / "bin" / "python").exists()


def test_every_target_runs_inside_the_venv():
    out = make("-n", "run", "test", "lint", "synth", "VENV=/opt/v")
    assert out.returncode == 0, out.stderr
    for expected in (
        "python3 -m venv /opt/v",  # made with $(PYTHON), then only the venv's programs
        "/opt/v/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'",
        "/opt/v/bin/creator-chat serve --port 8080",
        "/opt/v/bin/python -m pytest -q",
        "/opt/v/bin/ruff check .",
        "/opt/v/bin/mypy layers/core/python/creator_chat functions",
        "/opt/v/bin/python app.py --env dev staging prod",
    ):
        assert expected in out.stdout, (expected, out.stdout)
    assert not any(c.startswith(("python3 -m pip", "pip ")) for c in out.stdout.splitlines())


def test_ci_takes_the_readme_path_with_the_system_python():
    ci = (REPO / ".ci" / "run").read_text()
    commands = [line for line in ci.splitlines() if not line.lstrip().startswith("#")]
    assert not any("pip install" in line for line in commands)  # installs only through make
    assert 'make setup PYTHON="$python"' in ci and "python=/usr/bin/python3" in ci
    assert ci.rstrip().endswith("make test")
    readme = (REPO / "README.md").read_text().split("```bash\n", 1)[1].splitlines()
    assert [line.split("#")[0].strip() for line in readme[:2]] == ["make run", "make test"]


@pytest.mark.slow
def test_make_run_serves_the_demo(tmp_path: Path):
    """`make run` (in the venv these tests run in) answers /health and has the demo creator."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREATOR_CHAT_", "AWS_"))}
    proc = subprocess.Popen(
        [*MAKE, "-o", str(STAMP), "run", f"VENV={VENV}", f"PORT={port}", f"DATA_DIR={tmp_path}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "make run did not serve"
            time.sleep(0.3)
        token = subprocess.run(
            [*CLI, "token", "--data-dir", str(tmp_path), "--user", "fan-1"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout.strip()
        r = httpx.get(f"{url}/v1/creators/bench-shot", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["slug"] == "bench-shot"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

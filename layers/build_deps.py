#!/usr/bin/env python3
"""Build the third-party dependency Lambda layer without Docker.

pip downloads prebuilt wheels for the Lambda platform (Linux arm64, CPython 3.12) and
unpacks them into ``<out>/python`` (the layer layout). The packages are the runtime group,
``[project].dependencies`` in pyproject.toml, boto3 and botocore included: the layer ships
the SDK version the code was tested with (the runtime's own drifts, and a layer's urllib3
next to the runtime's botocore is the misalignment AWS warns of), with botocore's models
pruned to the services the code calls (:data:`creator_chat.adapters.aws.services.AWS_SERVICES`).
Source distributions are refused (``--only-binary=:all:``): a package without an aarch64
wheel fails the build instead of being compiled for this machine.

    python layers/build_deps.py                 # → build/deps-layer/python
    python layers/build_deps.py --out /tmp/deps
    python layers/build_deps.py --if-stale      # only when missing or built from other
                                                # requirements (what `make synth` runs)
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "build" / "deps-layer"
PYTHON_VERSION = "3.12"  # = RUNTIME in infra_cdk/constructs/functions.py
# Lambda's python3.12 runs on Amazon Linux 2023 (glibc 2.34): any of these wheels loads.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
# The services whose botocore models the layer keeps: one list, read from the core layer.
SERVICES_FILE = REPO_ROOT / "layers/core/python/creator_chat/adapters/aws/services.py"
# Lambda's limit for a function plus all its layers, unzipped.
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024

# Written next to ``python/`` after a build: the requirements the layer was built from, so
# the CDK app can refuse to deploy a layer built before pyproject.toml changed.
STAMP_NAME = "requirements.built.txt"

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

# An interpreter of the runtime's version (``python3.12``), to compile the layers' bytecode
# with; found on PATH (or in pyenv's versions) unless this variable names one.
LAMBDA_PYTHON_ENV = "CREATOR_CHAT_LAMBDA_PYTHON"


def canonical_name(requirement: str) -> str:
    """PEP 503 name of a requirement string (``PyJWT[crypto]>=2.9`` → ``pyjwt``)."""
    match = _NAME.match(requirement)
    if not match:
        raise ValueError(f"not a requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def runtime_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The runtime group of ``pyproject``."""
    project = tomllib.loads(pyproject.read_text())["project"]
    return list(project.get("dependencies", []))


def aws_services(services_file: Path = SERVICES_FILE) -> frozenset[str]:
    """The services the deployed code calls (``AWS_SERVICES``), read without importing the
    package."""
    return frozenset(runpy.run_path(str(services_file))["AWS_SERVICES"])


def _read_json(path: Path) -> Any:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def _data_file(folder: Path, stem: str) -> Path | None:
    """``stem.json`` or ``stem.json.gz`` in ``folder`` (botocore reads either)."""
    for name in (f"{stem}.json", f"{stem}.json.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _endpoint_prefixes(service_folder: Path) -> set[str]:
    """The ``endpointPrefix`` of each API version's model of one service: the key botocore
    looks it up by in ``endpoints.json``."""
    prefixes = set()
    for version in service_folder.iterdir():
        model = _data_file(version, "service-2") if version.is_dir() else None
        if model is not None:
            prefixes.add(_read_json(model)["metadata"]["endpointPrefix"])
    return prefixes


def prune_botocore(site: Path, services: frozenset[str]) -> tuple[int, int]:
    """Keep only ``services``' models in ``site/botocore/data``, and only their entries in
    its ``endpoints.json`` (every partition and region stays). Every client botocore creates
    loads that file whole: 1.2 MB of JSON, ~23 ms of each cold start, for 450 services the
    code never calls. Returns (service folders kept, removed)."""
    data = site / "botocore" / "data"
    folders = [path for path in data.iterdir() if path.is_dir()]
    missing = services - {path.name for path in folders}
    if missing:
        raise SystemExit(f"botocore in {site} has no model for {sorted(missing)}")
    prefixes: set[str] = set()
    removed = 0
    for folder in folders:
        if folder.name in services:
            prefixes |= _endpoint_prefixes(folder)
        else:
            shutil.rmtree(folder)
            removed += 1
    endpoints_file = _data_file(data, "endpoints")
    if endpoints_file is None:
        raise SystemExit(f"botocore in {site} has no endpoints.json")
    endpoints = _read_json(endpoints_file)
    for partition in endpoints["partitions"]:
        partition["services"] = {
            name: entry for name, entry in partition["services"].items() if name in prefixes
        }
    endpoints_file.unlink()
    (data / "endpoints.json").write_text(
        json.dumps(endpoints, separators=(",", ":")), encoding="utf-8"
    )
    return len(folders) - removed, removed


def shipped_sdk_copy(into: Path) -> Path:
    """This environment's boto3, botocore and s3transfer copied into ``into`` (with their
    bytecode) and pruned as :func:`build` prunes the layer's: the SDK the functions get,
    for the cold-start bench and the tests to import (``PYTHONPATH=into``)."""
    import boto3
    import botocore
    import s3transfer

    for module in (boto3, botocore, s3transfer):
        source = Path(str(module.__file__)).parent
        shutil.copytree(source, into / source.name)
    prune_botocore(into, aws_services())
    return into


def pip_command(requirements: Sequence[str], target: Path) -> list[str]:
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-warn-conflicts",  # the host environment is not the layer
        *platforms,
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--no-compile",  # this machine's .pyc files would not match the Lambda Python
        "--target",
        str(target),
        *requirements,
    ]


def _prune(site: Path) -> None:
    """Drop scripts, man pages and caches."""
    for path in list(site.iterdir()):
        if path.name in {"bin", "share", "__pycache__"}:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def python_version_of(interpreter: str) -> str | None:
    """``"3.12"`` for a working interpreter of that version; None if it does not run."""
    try:
        out = subprocess.run(  # noqa: S603 (an interpreter path, no shell)
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def lambda_python() -> str | None:
    """An interpreter of the Lambda runtime's Python version (:data:`PYTHON_VERSION`):
    ``$CREATOR_CHAT_LAMBDA_PYTHON``, else ``python3.12`` on PATH, else one pyenv installed."""
    explicit = os.environ.get(LAMBDA_PYTHON_ENV)
    candidates = (
        [explicit]
        if explicit
        else [
            f"python{PYTHON_VERSION}",
            *sorted(
                glob.glob(os.path.expanduser(f"~/.pyenv/versions/{PYTHON_VERSION}.*/bin/python3")),
                reverse=True,
            ),
        ]
    )
    for candidate in candidates:
        found = shutil.which(candidate) or (candidate if os.path.isfile(candidate) else None)
        if found and python_version_of(found) == PYTHON_VERSION:
            return found
    return None


def compile_bytecode(folder: Path, python: str | None = None, *, ddir: str | None = None) -> bool:
    """Compile every module under ``folder`` for the Lambda runtime, next to its source.

    Lambda's layers and code are read-only, so a module shipped without its ``.pyc`` is
    compiled again at every cold start: measured with ``bench/cold_start.py``, ~0.9 s of the
    authorizer's and ~1.3 s of the chat function's. The files are compiled by an interpreter
    of the runtime's version, in ``unchecked-hash`` mode (valid whatever the timestamps the
    zip gives the sources). Returns False, with a warning, when no such interpreter exists:
    the layer then works, only its cold starts are slower. ``ddir`` is the folder's path in
    Lambda (``/opt/python``), for tracebacks — and for bytecode that does not depend on where
    it was built."""
    python = python or lambda_python()
    if python is None:
        print(
            f"warning: no Python {PYTHON_VERSION} found to compile {folder}'s bytecode (set "
            f"{LAMBDA_PYTHON_ENV}); it ships as source and every cold start compiles it",
            file=sys.stderr,
        )
        return False
    subprocess.run(  # noqa: S603 (our own argv)
        [
            python,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            *(["-d", ddir] if ddir else []),
            str(folder),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return True


def _stamp_lines(requirements: Sequence[str]) -> list[str]:
    """What a layer is built from: the requirements, and the services whose models it keeps
    (a service added to ``AWS_SERVICES`` makes a built layer stale too)."""
    return [*requirements, *(f"aws-service:{name}" for name in sorted(aws_services()))]


def write_stamp(out: Path, requirements: Sequence[str]) -> None:
    (out / STAMP_NAME).write_text("\n".join(_stamp_lines(requirements)) + "\n", encoding="utf-8")


def is_current(out: Path, requirements: Sequence[str]) -> bool:
    """Whether the layer in ``out`` was built from exactly ``requirements`` and keeps the
    models of exactly the services the code calls now."""
    stamp = out / STAMP_NAME
    if not (out / "python").is_dir() or not stamp.is_file():
        return False
    return stamp.read_text(encoding="utf-8").split() == _stamp_lines(requirements)


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def build(out: Path, requirements: Sequence[str]) -> Path:
    """Install ``requirements`` into ``out/python``; returns that folder."""
    site = out / "python"
    if out.exists():
        shutil.rmtree(out)
    site.mkdir(parents=True)
    subprocess.run(pip_command(requirements, site), check=True)  # noqa: S603 (our own argv)
    _prune(site)
    kept, removed = prune_botocore(site, aws_services())
    print(f"botocore: kept the models of {kept} services, removed {removed}")
    compiled = compile_bytecode(site, ddir="/opt/python")
    size = _size(site)
    if size > LAMBDA_UNZIPPED_LIMIT_BYTES:
        raise SystemExit(f"layer is {size / 2**20:.0f} MiB unzipped, over Lambda's 250 MiB")
    write_stamp(out, requirements)
    bytecode = f"bytecode for Python {PYTHON_VERSION}" if compiled else "no bytecode"
    print(f"dependency layer: {site} ({size / 2**20:.1f} MiB unzipped, {bytecode})")
    return site


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="layer folder")
    parser.add_argument(
        "--pyproject", type=Path, default=REPO_ROOT / "pyproject.toml", help="pyproject.toml"
    )
    parser.add_argument(
        "--if-stale",
        action="store_true",
        help="build only if the layer is missing or was built from other requirements",
    )
    args = parser.parse_args(argv)
    requirements = runtime_requirements(args.pyproject)
    if args.if_stale and is_current(args.out, requirements):
        print(
            f"dependency layer: {args.out / 'python'} is current (pyproject.toml's runtime group)"
        )
        return
    print("runtime requirements:", " ".join(requirements))
    build(args.out, requirements)


if __name__ == "__main__":
    main()

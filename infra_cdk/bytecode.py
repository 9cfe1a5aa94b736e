"""Code assets shipped with their bytecode for the Lambda runtime's Python.

Lambda's code and layers are read-only: a module shipped as source only is compiled again at
every cold start (``bench/cold_start.py``: ~0.9 s of the authorizer's, ~1.3 s of chat's).
The core layer and every function folder are therefore bundled locally — copied as they are,
then compiled by ``layers/build_deps.py``'s :func:`compile_bytecode` with an interpreter of
the runtime's version — with no Docker. Without such an interpreter the copy ships as
source, with a warning at synth.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/*.egg-info", "**/.mypy_cache", "**/tests"]
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".mypy_cache", "tests")


def load_build_deps() -> ModuleType:
    """``layers/build_deps.py`` (a script, not a package), loaded by path."""
    spec = importlib.util.spec_from_file_location(
        "build_deps", REPO_ROOT / "layers" / "build_deps.py"
    )
    if spec is None or spec.loader is None:
        raise ImportError("layers/build_deps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@jsii.implements(ILocalBundling)
class CompiledCopy:
    """Bundles a folder as a copy of itself plus its bytecode, the paths in tracebacks
    being where Lambda mounts it (``/var/task`` for code, ``/opt`` for a layer)."""

    def __init__(self, source: Path, mounted_at: str) -> None:
        self.source = source
        self.mounted_at = mounted_at

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: Any) -> bool:
        shutil.copytree(self.source, output_dir, dirs_exist_ok=True, ignore=_IGNORED)
        load_build_deps().compile_bytecode(Path(output_dir), ddir=self.mounted_at)
        return True


def compiled_code(folder: Path, *, runtime: lambda_.Runtime, mounted_at: str) -> lambda_.Code:
    """``folder`` as a Lambda code asset, with bytecode (see the module docstring)."""
    return lambda_.Code.from_asset(
        str(folder),
        exclude=ASSET_EXCLUDES,
        bundling=BundlingOptions(
            image=runtime.bundling_image,
            local=CompiledCopy(folder, mounted_at),
            # never used (the local bundling always succeeds); the same steps in a container
            command=[
                "bash",
                "-c",
                "cp -R /asset-input/. /asset-output/ && python -m compileall -q "
                f"--invalidation-mode unchecked-hash -d {mounted_at} /asset-output",
            ],
        ),
    )

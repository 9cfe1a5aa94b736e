"""Code ships with its bytecode for the Lambda runtime: Lambda's code and layers are
read-only, so a module shipped as source is compiled again at every cold start."""

from __future__ import annotations

import importlib.util
import marshal
import sys
from pathlib import Path

import pytest

from infra_cdk.bytecode import CompiledCopy, load_build_deps
from tests.infra.conftest import synthesize

ROOT = Path(__file__).resolve().parents[2]
TAG = f"cpython-{sys.version_info.major}{sys.version_info.minor}"


def _flags(pyc: Path) -> int:
    """A pyc's flags (PEP 552): 0b01 = hash-based, not checked against the source."""
    return int.from_bytes(pyc.read_bytes()[4:8], "little")


def test_bytecode_is_compiled_unchecked_with_lambda_s_paths(tmp_path: Path):
    package = tmp_path / "python" / "pkg"
    package.mkdir(parents=True)
    (package / "mod.py").write_text("def f():\n    raise ValueError('x')\n")
    build_deps = load_build_deps()
    assert build_deps.compile_bytecode(tmp_path / "python", sys.executable, ddir="/opt/python")
    (pyc,) = (package / "__pycache__").glob(f"mod.{TAG}.pyc")
    assert _flags(pyc) == 0b01  # valid whatever timestamps the zip gives the sources
    data = pyc.read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER
    assert marshal.loads(data[16:]).co_filename == "/opt/python/pkg/mod.py"


def test_without_an_interpreter_of_the_runtime_s_version_the_source_ships_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    (tmp_path / "mod.py").write_text("X = 1\n")
    build_deps = load_build_deps()
    # this interpreter is not 3.12 here: refused as the compiler of Lambda's bytecode
    monkeypatch.setattr(build_deps, "PYTHON_VERSION", "2.0")
    monkeypatch.setenv(build_deps.LAMBDA_PYTHON_ENV, sys.executable)
    assert build_deps.lambda_python() is None
    assert not build_deps.compile_bytecode(tmp_path)
    assert not (tmp_path / "__pycache__").exists()
    assert "every cold start compiles it" in capsys.readouterr().err


def test_the_interpreter_named_by_the_variable_is_used_when_its_version_matches(
    monkeypatch: pytest.MonkeyPatch,
):
    build_deps = load_build_deps()
    monkeypatch.setattr(
        build_deps, "PYTHON_VERSION", f"{sys.version_info.major}.{sys.version_info.minor}"
    )
    monkeypatch.setenv(build_deps.LAMBDA_PYTHON_ENV, sys.executable)
    assert build_deps.lambda_python() == sys.executable


def test_a_bundled_code_folder_is_a_copy_of_the_source_without_caches_or_tests(tmp_path: Path):
    source = tmp_path / "src"
    (source / "tests").mkdir(parents=True)
    (source / "__pycache__").mkdir()
    (source / "handler.py").write_text("def handler(event, context):\n    return 1\n")
    (source / "tests" / "test_x.py").write_text("")
    (source / "__pycache__" / "stale.cpython-312.pyc").write_bytes(b"old")
    out = tmp_path / "out"
    out.mkdir()
    bundler = CompiledCopy(source, "/var/task")
    assert bundler.try_bundle(str(out), image=None)  # type: ignore[arg-type]
    assert (out / "handler.py").read_text() == (source / "handler.py").read_text()
    assert not (out / "tests").exists()
    assert not (out / "__pycache__" / "stale.cpython-312.pyc").exists()
    compiled = list((out / "__pycache__").glob("handler.*.pyc"))
    if load_build_deps().lambda_python() is None:
        assert compiled == []
    else:
        assert [p.name for p in compiled] == ["handler.cpython-312.pyc"]


def test_a_synthesised_stack_ships_the_core_layer_and_functions_with_bytecode(
    tmp_path: Path, deps_layer_dir: Path
):
    """Bundling on, as ``cdk synth`` runs it: each code asset is the bundled copy."""
    out = tmp_path / "cdk.out"
    synthesize("dev", out, deps_layer_dir, bundle=True)
    assets = [p for p in out.iterdir() if p.name.startswith("asset.") and p.is_dir()]
    (core,) = [a for a in assets if (a / "python" / "creator_chat" / "settings.py").is_file()]
    handlers = [a for a in assets if (a / "handler.py").is_file()]
    assert {h.name for h in handlers} and all(
        not (h / "tests").exists() and not list(h.glob("*.egg-info")) for h in handlers
    )
    compiled = load_build_deps().lambda_python() is not None
    pyc = core / "python" / "creator_chat" / "__pycache__" / "settings.cpython-312.pyc"
    assert pyc.is_file() is compiled
    for handler in handlers:
        assert (handler / "__pycache__" / "handler.cpython-312.pyc").is_file() is compiled
    if compiled:
        assert _flags(pyc) == 0b01

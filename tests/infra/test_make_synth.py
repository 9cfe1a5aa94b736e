"""`make synth` on a fresh checkout (issue 15): the dependency layer is built when it is
missing or stale, then every environment is synthesised (or `ENV=...`), offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.test_stack import load_build_deps

REPO = Path(__file__).resolve().parents[2]
STAMP = Path(sys.prefix) / ".creator-chat-setup.stamp"  # the Makefile's, in the test's venv
MAKE = ("make", "--no-print-directory", "-C", str(REPO))


def current_placeholder(folder: Path) -> Path:
    """A stand-in layer that `build_deps --if-stale` takes as current (tests never build
    the real one: pip would download arm64 wheels)."""
    build_deps = load_build_deps()
    (folder / "python").mkdir(parents=True)
    build_deps.write_stamp(folder, build_deps.runtime_requirements())
    return folder


def test_if_stale_builds_a_missing_or_stale_layer_and_keeps_a_current_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    build_deps = load_build_deps()
    built: list[Path] = []
    monkeypatch.setattr(build_deps, "build", lambda out, requirements: built.append(out))

    build_deps.main(["--if-stale", "--out", str(tmp_path / "missing")])
    assert built == [tmp_path / "missing"]

    layer = current_placeholder(tmp_path / "current")
    build_deps.main(["--if-stale", "--out", str(layer)])
    assert built == [tmp_path / "missing"]  # not rebuilt
    assert "is current" in capsys.readouterr().out

    (layer / build_deps.STAMP_NAME).write_text("boto3\nsomething-else\n")  # pyproject changed
    build_deps.main(["--if-stale", "--out", str(layer)])
    assert built == [tmp_path / "missing", layer]

    # a service added to AWS_SERVICES: the layer lacks its model, so it is stale too
    layer = current_placeholder(tmp_path / "services")
    services = build_deps.aws_services()
    monkeypatch.setattr(build_deps, "aws_services", lambda: services | {"kinesis"})
    build_deps.main(["--if-stale", "--out", str(layer)])
    assert built == [tmp_path / "missing", tmp_path / "current", layer]


def make_synth(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAKE, "-o", str(STAMP), "synth", f"VENV={sys.prefix}", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_make_synth_synthesises_every_environment_by_default():
    out = subprocess.run(
        ["make", "-n", "-C", str(REPO), "synth", "VENV=/opt/v"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "layers/build_deps.py --if-stale" in out.stdout
    assert "app.py --env dev staging prod --outdir cdk.out" in out.stdout


@pytest.mark.slow
def test_make_synth_env_uses_a_current_layer_and_writes_that_environment(tmp_path: Path):
    layer = current_placeholder(tmp_path / "layer")
    out = make_synth("ENV=staging", f"SYNTH_OUT={tmp_path / 'out'}", f"DEPS_LAYER_DIR={layer}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "is current" in out.stdout  # offline: no pip run
    assert (tmp_path / "out" / "staging" / "CreatorChat-staging.template.json").is_file()
    assert not (tmp_path / "out" / "dev").exists()

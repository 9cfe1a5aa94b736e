"""`creator-chat` as a person meets it: `--help` that explains, and a partial install that
says what to install instead of a traceback (issue 15)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from creator_chat.cli import build_parser

COMMANDS = ("serve", "token", "ingest")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_is_covered_here():
    assert set(subcommands()) == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_explains_every_argument_and_gives_examples(command: str):
    sub = subcommands()[command]
    for action in sub._actions:
        assert action.help and action.help.strip(), f"{command}: {action.dest} has no help"
    text = sub.format_help()
    assert "examples:" in text
    examples = text.split("examples:", 1)[1]
    assert f"creator-chat {command}" in examples


def test_ingest_help_says_what_paths_are():
    text = subcommands()["ingest"].format_help()
    assert "PATH" in text and ".vtt" in text and "folders" in text


def test_the_top_level_help_shows_the_way_in():
    text = build_parser().format_help()
    assert "examples:" in text and "creator-chat serve" in text


# A module that cannot be found, as on a machine with the runtime group alone
# (`pip install creator-chat`, as the Lambda layer has it).
BLOCK = textwrap.dedent(
    """
    import sys
    from importlib.abc import MetaPathFinder

    class Missing(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {blocked!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Missing())
    from creator_chat.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def run_without(blocked: set[str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREATOR_CHAT_")}
    env["CREATOR_CHAT_JWT_SECRET"] = "cli-test-secret-0123456789abcdef0123456789"
    return subprocess.run(
        [sys.executable, "-c", BLOCK.format(blocked=blocked), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("module", ["uvicorn", "numpy", "onnxruntime"])
def test_serve_without_the_local_extra_says_what_to_install(tmp_path: Path, module: str):
    out = run_without({module}, "serve", "--port", "0", "--data-dir", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines == [
        "error: creator-chat serve needs the local extra: pip install 'creator-chat[local]' "
        f"(missing module: {module})"
    ]
    assert not (tmp_path / "creator-chat.sqlite3").exists()  # refused before starting anything


def test_a_local_module_missing_deeper_down_is_reported_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """Past the up-front check: an import of the local extra failing while serve starts."""
    from creator_chat import cli

    def serve(_args: argparse.Namespace) -> int:
        raise ModuleNotFoundError("No module named 'moto.server'", name="moto.server")

    monkeypatch.setattr(cli, "_serve", serve)
    assert cli.main(["serve", "--data-dir", str(tmp_path)]) == 2
    assert "pip install 'creator-chat[local]' (missing module: moto)" in capsys.readouterr().err

    def broken(_args: argparse.Namespace) -> int:
        raise ModuleNotFoundError("No module named 'not_ours'", name="not_ours")

    monkeypatch.setattr(cli, "_serve", broken)
    with pytest.raises(ModuleNotFoundError):  # a bug, not a partial install: not hidden
        cli.main(["serve", "--data-dir", str(tmp_path)])


def test_aws_emulator_needs_moto(tmp_path: Path):
    out = run_without(
        {"moto"}, "serve", "--aws-emulator", "--data-dir", str(tmp_path), cwd=tmp_path
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "pip install 'creator-chat[local]' (missing module: moto)" in out.stderr


def test_ingest_without_httpx_says_what_to_install(tmp_path: Path):
    (tmp_path / "a.txt").write_text("hello")
    out = run_without({"httpx"}, "ingest", "--creator", "x", str(tmp_path / "a.txt"), cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "creator-chat ingest needs the local extra" in out.stderr


def test_token_needs_only_the_runtime_group(tmp_path: Path):
    blocked = {"uvicorn", "numpy", "onnxruntime", "tokenizers", "httpx", "moto"}
    out = run_without(blocked, "token", "--user", "fan-1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count(".") == 2  # a JWT

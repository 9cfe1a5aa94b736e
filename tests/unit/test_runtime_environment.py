"""What `creator-chat serve` puts in its environment before anything is built."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from creator_chat.local.runtime import LocalRuntime, is_loopback
from creator_chat.local.secret import (
    SECRET_FILE,
    SecretFileError,
    load_or_create_secret,
    read_secret,
)


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREATOR_CHAT_")}
    env.pop("AWS_ENDPOINT_URL", None)
    monkeypatch.setattr(os, "environ", env)
    return env


def test_a_wildcard_bind_still_gives_upload_urls_a_reachable_address(
    environ: dict[str, str], tmp_path: Path
):
    LocalRuntime(host="0.0.0.0", port=8123, data_dir=tmp_path)._prepare_environment()
    assert environ["CREATOR_CHAT_PUBLIC_URL"] == "http://127.0.0.1:8123"
    assert environ["CREATOR_CHAT_STORAGE"] == "embedded"


def test_an_explicit_public_url_wins(environ: dict[str, str], tmp_path: Path):
    runtime = LocalRuntime(
        port=8123, data_dir=tmp_path, environ={"CREATOR_CHAT_PUBLIC_URL": "https://chat.example"}
    )
    runtime._prepare_environment()
    assert environ["CREATOR_CHAT_PUBLIC_URL"] == "https://chat.example"


def test_an_aws_endpoint_selects_the_aws_family(environ: dict[str, str], tmp_path: Path):
    environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:4566"
    runtime = LocalRuntime(port=8123, data_dir=tmp_path)
    runtime._prepare_environment()
    assert runtime.mode == "aws" and environ["CREATOR_CHAT_STORAGE"] == "aws"


def test_the_signing_secret_is_the_data_dirs_own_unless_one_is_given(
    environ: dict[str, str], tmp_path: Path
):
    LocalRuntime(port=8123, data_dir=tmp_path / "a")._prepare_environment()
    made = environ.pop("CREATOR_CHAT_JWT_SECRET")
    assert made == (tmp_path / "a" / SECRET_FILE).read_text().strip()
    assert stat.S_IMODE((tmp_path / "a" / SECRET_FILE).stat().st_mode) == 0o600

    LocalRuntime(port=8123, data_dir=tmp_path / "a")._prepare_environment()
    assert environ.pop("CREATOR_CHAT_JWT_SECRET") == made  # kept across starts
    LocalRuntime(port=8123, data_dir=tmp_path / "b")._prepare_environment()
    assert environ.pop("CREATOR_CHAT_JWT_SECRET") != made  # another data dir, another secret

    environ["CREATOR_CHAT_JWT_SECRET"] = "explicit-secret"
    LocalRuntime(port=8123, data_dir=tmp_path / "c")._prepare_environment()
    assert environ["CREATOR_CHAT_JWT_SECRET"] == "explicit-secret"
    assert not (tmp_path / "c" / SECRET_FILE).exists()


def test_a_secret_file_open_to_others_is_made_owner_only_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    made = load_or_create_secret(tmp_path)
    os.chmod(tmp_path / SECRET_FILE, 0o644)
    assert read_secret(tmp_path) == made
    assert stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode) == 0o600
    assert "owner-only" in capsys.readouterr().err
    (tmp_path / SECRET_FILE).write_text("short")
    with pytest.raises(SecretFileError):
        read_secret(tmp_path)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("chat.example.org", False),
        ("", False),
    ],
)
def test_what_counts_as_a_loopback_bind(host: str, loopback: bool):
    assert is_loopback(host) is loopback

"""What `creator-chat serve` puts in its environment before anything is built."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from creator_chat.local.runtime import LocalRuntime


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

"""`creator-chat ingest` against the running local server: files and folders, a summary,
and a non-zero exit when anything failed."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from creator_chat.cli import main
from creator_chat.local.runtime import LocalRuntime

from tests.e2e.conftest import TokenFactory, bearer

VTT = (
    "WEBVTT\n\n00:00:01.000 --> 00:00:09.000\n"
    "Kayak paddles should reach your chin when stood upright.\n"
)


@pytest.fixture
def creator(api: httpx.Client, token: TokenFactory) -> str:
    slug = f"cli-{uuid.uuid4().hex[:6]}"
    r = api.post(
        "/v1/creators", json={"slug": slug, "name": "CLI"}, headers=bearer(token("adm", "admin"))
    )
    return str(r.json()["creator_id"])


def ingest(runtime: LocalRuntime, token: TokenFactory, creator: str, *paths: str) -> int:
    """``creator-chat ingest`` as an admin against the local runtime; its exit code."""
    args = ["ingest", "--url", runtime.url, "--token", token("adm", "admin"), "--creator", creator]
    return main([*args, *paths])


def test_ingests_a_folder_and_summarises(
    tmp_path: Path,
    runtime: LocalRuntime,
    creator: str,
    token: TokenFactory,
    capsys: pytest.CaptureFixture[str],
):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "paddle-length.vtt").write_text(VTT)
    (tmp_path / "care.md").write_text(
        "# Care\n\nRinse the kayak with fresh water after salt water.\n"
    )
    code = ingest(runtime, token, creator, str(tmp_path / "videos"), str(tmp_path / "care.md"))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2/2 documents" in out


def test_a_failed_file_makes_the_exit_non_zero_and_is_named(
    tmp_path: Path,
    runtime: LocalRuntime,
    creator: str,
    token: TokenFactory,
    capsys: pytest.CaptureFixture[str],
):
    good, bad = tmp_path / "ok.txt", tmp_path / "broken.pdf"
    good.write_text("Spray skirts keep water out of the cockpit.")
    bad.write_bytes(b"%PDF-1.4 this is not really a pdf")
    code = ingest(runtime, token, creator, str(good), str(bad))
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED" in out and "broken.pdf" in out and "PDF" in out
    assert "1/2 documents" in out

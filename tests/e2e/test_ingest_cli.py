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


def test_the_cli_takes_a_creators_slug_for_a_creator_made_through_the_api(
    tmp_path: Path,
    api: httpx.Client,
    runtime: LocalRuntime,
    token: TokenFactory,
    capsys: pytest.CaptureFixture[str],
):
    """Issue 14, defect 9: `token --creator <slug>` and `ingest --creator <slug>` resolve the
    slug to the creator's (random) id; they used to mint `cr_<slug>`, which matched nothing."""
    slug = f"slugged-{uuid.uuid4().hex[:6]}"
    made = api.post(
        "/v1/creators",
        json={"slug": slug, "name": "Slugged"},
        headers=bearer(token("adm", "admin")),
    )
    creator_id = made.json()["creator_id"]
    assert creator_id != f"cr_{slug}"
    capsys.readouterr()

    data_dir = ["--data-dir", str(runtime.data_dir)]
    assert main(["token", "--user", "own", "--role", "creator", "--creator", slug, *data_dir]) == 0
    owner = capsys.readouterr().out.strip().split()[-1]
    docs = api.get(f"/v1/creators/{creator_id}/documents", headers=bearer(owner))
    assert docs.status_code == 200, docs.text  # the token is this creator's

    (tmp_path / "paddle.vtt").write_text(VTT)
    code = ingest(runtime, token, slug, str(tmp_path / "paddle.vtt"))
    assert code == 0, capsys.readouterr().out
    listed = api.get(f"/v1/creators/{creator_id}/documents", headers=bearer(owner)).json()
    assert [d["title"] for d in listed["documents"]] == ["paddle"]

    unknown = ["--creator", "no-such-creator", *data_dir]
    assert main(["token", "--user", "x", "--role", "creator", *unknown]) == 2
    assert "no creator 'no-such-creator'" in capsys.readouterr().err


def test_files_sharing_a_name_stay_apart_and_each_failure_names_its_format(
    tmp_path: Path,
    runtime: LocalRuntime,
    creator: str,
    token: TokenFactory,
    capsys: pytest.CaptureFixture[str],
):
    """Issue 15: `bad.json` (a YouTube transcript with a bad `start`) next to `bad.vtt` used
    to become one document titled "bad": the JSON was replaced by the VTT, and its failure
    read "VTT could not be read"."""
    (tmp_path / "bad.json").write_text(
        '[\n  {"text": "Hello", "start": 0, "duration": 2},\n'
        '  {"text": "Knots", "start": "abc", "duration": 2}\n]\n'
    )
    (tmp_path / "bad.vtt").write_text(VTT)
    code = ingest(runtime, token, creator, str(tmp_path))
    out = capsys.readouterr().out
    assert code == 1
    assert "1/2 documents" in out
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert failed == [
        f"FAILED  {tmp_path / 'bad.json'} (read as YouTube JSON): YouTube JSON transcript "
        "could not be read: entry 2 (line 3): 'start' must be a number of seconds, 0 or "
        "more (got 'abc')"
    ]


def test_titles_are_the_file_names_made_distinct_when_they_collide():
    from creator_chat.ingest_cli import titles

    files = [Path("a/bad.json"), Path("a/bad.vtt"), Path("a/intro.md"), Path("b/intro.md")]
    files.append(Path("a/paddle_length.srt"))
    assert titles(files) == {
        Path("a/bad.json"): "bad (json)",
        Path("a/bad.vtt"): "bad (vtt)",
        Path("a/intro.md"): "a/intro.md",
        Path("b/intro.md"): "b/intro.md",
        Path("a/paddle_length.srt"): "paddle length",
    }


def test_tags_given_with_tag_label_every_file_and_a_rerun_without_keeps_them(
    tmp_path: Path,
    api: httpx.Client,
    runtime: LocalRuntime,
    creator: str,
    token: TokenFactory,
    capsys: pytest.CaptureFixture[str],
):
    (tmp_path / "paddle.vtt").write_text(VTT)
    (tmp_path / "care.md").write_text("# Care\n\nRinse the kayak with fresh water.\n")
    tagged = ["--tag", "course: module 1", "--tag", "basics"]
    assert ingest(runtime, token, creator, *tagged, str(tmp_path)) == 0, capsys.readouterr()
    admin = bearer(token("adm", "admin"))

    def tags() -> dict[str, list[str]]:
        listed = api.get(f"/v1/creators/{creator}/documents", headers=admin).json()
        return {d["title"]: d["tags"] for d in listed["documents"]}

    assert tags() == {
        "paddle": ["course: module 1", "basics"],
        "care": ["course: module 1", "basics"],
    }
    assert ingest(runtime, token, creator, str(tmp_path)) == 0  # no --tag: kept as they are
    assert tags()["care"] == ["course: module 1", "basics"]
    found = api.post(
        f"/v1/creators/{creator}/search",
        json={"query": "kayak paddle", "include_below_gate": True, "filters": {"tags": ["basics"]}},
        headers=admin,
    ).json()["results"]
    assert {r["title"] for r in found} == {"paddle", "care"}
    assert ingest(runtime, token, creator, "--tag", "x" * 65, str(tmp_path)) == 1  # a 422 each
    assert "FAILED" in capsys.readouterr().out

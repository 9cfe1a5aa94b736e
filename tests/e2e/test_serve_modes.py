"""`creator-chat serve` as a user starts it: the embedded default, `--aws-emulator`, and the
data dirs it refuses (in use by another server, or written by a newer release)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from creator_chat.adapters.embedded.database import DATABASE_FILE, Database
from creator_chat.adapters.embedded.schema import MIGRATIONS
from creator_chat.auth import issue_dev_token
from creator_chat.domain.models import Role, Tier
from creator_chat.local.runtime import free_port
from creator_chat.settings import Settings

from tests import serve_process
from tests.e2e.conftest import bearer, wait_for_documents

SECRET = "modes-test-secret-0123456789abcdef0123456789"


def admin_token() -> str:
    settings = Settings(jwt_secret=SECRET)  # type: ignore[arg-type]
    return issue_dev_token(settings, user_id="admin-m", role=Role.ADMIN, tier=Tier.ENTERPRISE)


def ingest_one(api: httpx.Client, admin: str) -> str:
    r = api.post(
        "/v1/creators",
        json={"slug": f"modes-{uuid.uuid4().hex[:6]}", "name": "Modes"},
        headers=bearer(admin),
    )
    cid = str(r.json()["creator_id"])
    api.post(
        f"/v1/creators/{cid}/documents",
        json={"title": "Knots", "kind": "text", "content": "A bowline makes a fixed loop."},
        headers=bearer(admin),
    )
    assert wait_for_documents(api, admin, cid)[0]["status"] == "done"
    return cid


def test_the_default_keeps_everything_in_one_database_in_the_data_dir(tmp_path: Path):
    admin = admin_token()
    with (
        serve_process.server(tmp_path, SECRET) as (url, _),
        httpx.Client(base_url=url, timeout=30) as api,
    ):
        deps = {d["name"] for d in api.get("/health/deep").json()["dependencies"]}
        assert {"database", "queues", "uploads"} <= deps
        ingest_one(api, admin)
    assert (tmp_path / DATABASE_FILE).is_file()
    assert not (tmp_path / "emulator").exists()  # no emulator, no snapshots


def test_aws_emulator_mode_runs_the_aws_adapters_and_keeps_nothing(tmp_path: Path):
    admin = admin_token()
    with (
        serve_process.server(tmp_path, SECRET, "--aws-emulator") as (url, _),
        httpx.Client(base_url=url, timeout=30) as api,
    ):
        deps = {d["name"] for d in api.get("/health/deep").json()["dependencies"]}
        assert {"dynamodb", "sqs", "s3"} <= deps
        ingest_one(api, admin)
    assert not (tmp_path / DATABASE_FILE).exists()


def run_serve(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CREATOR_CHAT_", "AWS_ENDPOINT"))
    }
    env["CREATOR_CHAT_JWT_SECRET"] = SECRET
    cmd = [sys.executable, "-m", "creator_chat.cli", "serve", "--port", str(free_port())]
    cmd += ["--data-dir", str(data_dir), "--no-demo"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_second_server_on_the_same_data_dir_exits_with_a_clear_message(tmp_path: Path):
    with serve_process.server(tmp_path, SECRET):
        second = run_serve(tmp_path)
    assert second.returncode == 2
    assert "another creator-chat serve is using" in second.stderr


def test_a_database_from_a_newer_release_is_refused_and_left_untouched(tmp_path: Path):
    Database(tmp_path / DATABASE_FILE).close()
    conn = sqlite3.connect(tmp_path / DATABASE_FILE)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    out = run_serve(tmp_path)
    assert out.returncode == 2
    assert "newer release" in out.stderr
    conn = sqlite3.connect(tmp_path / DATABASE_FILE)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
    conn.close()

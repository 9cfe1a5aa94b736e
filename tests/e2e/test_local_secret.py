"""`creator-chat serve`'s local defaults: a random signing secret per data dir (owner-only,
kept across restarts, read by `creator-chat token`), and the web pages' dev sign-in (a fan, or
the dashboard's creator) only on a loopback bind unless explicitly allowed (then with a
warning)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from creator_chat.auth import issue_dev_token
from creator_chat.domain.models import Role, Tier
from creator_chat.local.secret import SECRET_FILE
from creator_chat.settings import Settings

from tests import serve_process
from tests.e2e.conftest import bearer

# what every server signed with before: anyone could mint tokens with it
OLD_CONSTANT = "creator-chat-local-dev-secret-not-for-production"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CREATOR_CHAT_", "AWS_ENDPOINT"))
    }
    cmd = [sys.executable, "-m", "creator_chat.cli", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)


def dev_sign_in(url: str) -> httpx.Response:
    return httpx.post(f"{url}/local/dev-token", json={"user_id": "fan-dev"}, timeout=30)


def creator_sign_in(url: str, slug: str) -> httpx.Response:
    """The dashboard's choice: the owner of a new creator."""
    body = {"user_id": "owner-dev", "role": "creator", "new_creator": {"slug": slug, "name": "Dev"}}
    return httpx.post(f"{url}/local/dev-token", json=body, timeout=30)


def creators(url: str, token: str) -> int:
    return httpx.get(f"{url}/v1/creators", headers=bearer(token), timeout=30).status_code


@pytest.mark.slow
def test_each_data_dir_has_its_own_secret_and_the_old_constant_signs_nothing(tmp_path: Path):
    first, second = tmp_path / "first", tmp_path / "second"
    old = issue_dev_token(
        Settings(jwt_secret=OLD_CONSTANT),  # type: ignore[arg-type]
        user_id="fan-1",
        role=Role.FAN,
        tier=Tier.FREE,
    )
    with serve_process.server(first, None) as (url, _):
        assert creators(url, old) == 403  # the authorizer denies it

        minted = cli("token", "--data-dir", str(first), "--user", "fan-1")
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.split()[-1]
        assert creators(url, token) == 200
        assert dev_sign_in(url).status_code == 200  # loopback bind: the page's sign-in works
        assert creator_sign_in(url, "loop-creator").status_code == 200  # and the dashboard's

        elsewhere = cli("token", "--data-dir", str(tmp_path / "never-served"), "--user", "x")
        assert elsewhere.returncode == 2
        assert "no signing secret" in elsewhere.stderr

    with serve_process.server(second, None):
        pass

    secrets = [(d / SECRET_FILE).read_text().strip() for d in (first, second)]
    assert secrets[0] != secrets[1]
    assert all(len(s) >= 32 and s != OLD_CONSTANT for s in secrets)
    for d in (first, second):
        assert stat.S_IMODE((d / SECRET_FILE).stat().st_mode) == 0o600

    with serve_process.server(first, None) as (url, _):
        assert creators(url, token) == 200  # the secret outlives a restart: so do tokens


@pytest.mark.slow
def test_dev_sign_in_is_off_on_a_wildcard_bind_unless_allowed_and_then_it_warns(tmp_path: Path):
    log = tmp_path / "serve.log"
    with serve_process.server(tmp_path / "data", None, host="0.0.0.0", output=log) as (url, _):
        refused = dev_sign_in(url)  # reached on 127.0.0.1: the bind address decides
        assert refused.status_code == 403
        assert "--allow-dev-sign-in" in refused.json()["error"]["message"]
        # the creator choice and its list of creators: the same rule
        assert creator_sign_in(url, "wild-creator").status_code == 403
        assert httpx.get(f"{url}/local/dev-creators", timeout=30).status_code == 403
        assert httpx.get(f"{url}/config.json", timeout=30).json()["dev_sign_in"] is False
    assert "dev sign-in is off" in log.read_text()

    log.unlink()
    with serve_process.server(
        tmp_path / "data",
        None,
        "--allow-dev-sign-in",
        host="0.0.0.0",
        output=log,
    ) as (url, _):
        allowed = dev_sign_in(url)
        assert allowed.status_code == 200
        assert creators(url, allowed.json()["token"]) == 200
        owner = creator_sign_in(url, "wild-creator")
        assert owner.status_code == 200, owner.text
        documents = httpx.get(
            f"{url}/v1/creators/wild-creator/documents",
            headers=bearer(owner.json()["token"]),
            timeout=30,
        )
        assert documents.status_code == 200, documents.text
        listed = httpx.get(f"{url}/local/dev-creators", timeout=30).json()["creators"]
        assert [c["slug"] for c in listed] == ["wild-creator"]
    assert "WARNING: dev sign-in is ON" in log.read_text()

"""What `creator-chat serve` prints while it runs (issue 15): one access line per request
(never a token or a query string), ingest and worker events at info; `--quiet` keeps only
warnings and errors; `--log-format json` prints Powertools JSON lines."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import httpx
from creator_chat.auth import issue_dev_token
from creator_chat.domain.models import Role, Tier
from creator_chat.settings import Settings

from tests import serve_process
from tests.e2e.conftest import bearer, wait_for_documents

SECRET = "output-test-secret-0123456789abcdef0123456789"
# the tests' environment sets POWERTOOLS_LOG_LEVEL=WARNING: unset, as a user's is
DEFAULT_LEVEL = {"POWERTOOLS_LOG_LEVEL": ""}
ACCESS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  (\S+) (\S+) (\d{3}) (\d+) ms req=(\S+)$")


def admin() -> str:
    settings = Settings(jwt_secret=SECRET)  # type: ignore[arg-type]
    return issue_dev_token(settings, user_id="admin-o", role=Role.ADMIN, tier=Tier.ENTERPRISE)


def wait_for_line(log: Path, needle: str, timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if needle in text:
            return text
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} not in:\n{log.read_text(errors='replace')}")


def exercise(url: str, token: str) -> dict[str, str]:
    """A 200, a 401, a 404 and a 422, with a token in a header and one in a query string;
    returns the request ids the API gave."""
    ids = {}
    with httpx.Client(base_url=url, timeout=30) as api:
        api.get("/health")
        api.get("/v1/creators?access_token=QUERY-SECRET-123")
        api.get("/no/such/page")
        r = api.post("/v1/creators", json={"slug": "x"}, headers=bearer(token))
        ids["422"] = r.json()["error"]["request_id"]
    return ids


def test_serve_prints_one_access_line_per_request_and_the_worker_events(tmp_path: Path):
    log = tmp_path / "serve.log"
    token = admin()
    with (
        serve_process.server(tmp_path / "data", SECRET, env=DEFAULT_LEVEL, output=log) as (url, _),
        httpx.Client(base_url=url, timeout=30) as api,
    ):
        ids = exercise(url, token)
        r = api.post(
            "/v1/creators",
            json={"slug": f"out-{uuid.uuid4().hex[:6]}", "name": "Out"},
            headers=bearer(token),
        )
        cid = r.json()["creator_id"]
        api.post(
            f"/v1/creators/{cid}/documents",
            json={"title": "Knots", "kind": "text", "content": "A bowline makes a fixed loop."},
            headers=bearer(token),
        )
        assert wait_for_documents(api, token, cid)[0]["status"] == "done"
        text = wait_for_line(log, "POST /v1/creators/")
        text = wait_for_line(log, "job done")
    access = [m.groups() for m in map(ACCESS.match, text.splitlines()) if m]
    seen = {(method, path, status) for method, path, status, _, _ in access}
    assert ("GET", "/health", "200") in seen
    assert ("GET", "/v1/creators", "401") in seen  # the path, without its query string
    assert ("GET", "/no/such/page", "404") in seen
    assert ("POST", "/v1/creators", "422") in seen
    assert ("POST", f"/v1/creators/{cid}/documents", "202") in seen
    assert ids["422"] in {rid for *_, rid in access}  # the id in the error body
    # never a token, a query string or a body
    assert "QUERY-SECRET-123" not in text and "access_token" not in text
    assert token not in text and token.split(".")[2] not in text
    assert "bowline" not in text
    worker = next(line for line in text.splitlines() if "job done" in line)
    assert "INFO" in worker and "queue=ingest-jobs" in worker and "outcome=done" in worker


def test_quiet_prints_no_access_lines_nor_info_events(tmp_path: Path):
    log = tmp_path / "serve.log"
    with serve_process.server(
        tmp_path / "data", SECRET, "--quiet", env=DEFAULT_LEVEL, output=log
    ) as (url, _):
        exercise(url, admin())
    text = log.read_text()
    assert "creator-chat is serving on" in text  # the banner stays
    assert "/v1/stream?token=TOKEN" in text  # where answers stream, as the README says
    assert not any(ACCESS.match(line) for line in text.splitlines())
    assert " INFO " not in text and "GET /health" not in text


def test_log_format_json_prints_powertools_json_lines(tmp_path: Path):
    log = tmp_path / "serve.log"
    args = ("--log-format", "json")
    with serve_process.server(tmp_path / "data", SECRET, *args, env=DEFAULT_LEVEL, output=log) as (
        url,
        _,
    ):
        ids = exercise(url, admin())
        text = wait_for_line(log, ids["422"])
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    access = [r for r in records if "status" in r and "method" in r]
    assert {r["service"] for r in records} == {"creator-chat"}
    assert {(r["method"], r["path"], r["status"]) for r in access} >= {
        ("GET", "/health", 200),
        ("GET", "/no/such/page", 404),
        ("POST", "/v1/creators", 422),
    }
    denied = next(r for r in access if r["status"] == 401)
    assert denied["route"] == "/v1/{proxy+}" and denied["path"] == "/v1/creators"
    assert all(r["level"] in ("INFO", "WARNING", "ERROR") for r in records)
    assert any(r["message"] == "local runtime started" for r in records)
    assert "QUERY-SECRET-123" not in text

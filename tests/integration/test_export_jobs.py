"""GDPR export jobs at the use-case level, on both adapter families (DynamoDB/SQS/S3 on moto,
and the embedded database): inline or job, the job's file equals the inline export, only the
owner reads it, erasure leaves no export behind, failures end ``failed``."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.models import (
    ExportStatus,
    FanProfile,
    Feedback,
    Identity,
    Message,
    Role,
    Thread,
    Tier,
)
from creator_chat.errors import NotFound
from creator_chat.ids import random_id, sortable_id
from creator_chat.local.gateway import LocalRequest
from creator_chat.settings import Settings
from creator_chat.usecases import exports, privacy


@pytest.fixture(params=("aws", "embedded"))
def c(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Container]:
    if request.param == "aws":
        settings: Settings = request.getfixturevalue("settings")
    else:
        settings = Settings(storage="embedded", data_dir=tmp_path / "data", resource_prefix="x")
    container = Container(settings, clock=clock)
    yield container
    container.close()


def fan(user: str | None = None) -> Identity:
    return Identity(user or random_id("fan-"), Role.FAN, Tier.FREE)


def chat_history(c: Container, user: str, threads: int, answers: int = 1) -> None:
    """``threads`` threads of a question and ``answers`` answers each, one rated; a profile."""
    now = int(c.clock.now())
    c.users.put_profile(FanProfile(user, channel_name="Latte Lab", updated_at=now))
    for i in range(threads):
        t = Thread(random_id("th_"), user, "cr_a", now, now, now + c.settings.thread_idle_ttl_s)

        def msg(role: str, text: str, t: Thread = t) -> Message:
            return Message(sortable_id(c.clock.now()), t.thread_id, user, "cr_a", role, text, now)

        c.threads.create_thread(t, msg("user", f"question {i}"))
        for k in range(answers):
            answer = msg("assistant", f"answer {i}.{k}")
            c.threads.append_message(t, answer)
        c.threads.put_feedback(Feedback(answer.message_id, user, "cr_a", t.thread_id, "up"))
        c.clock.advance(1)  # type: ignore[attr-defined]


def old_style_threads(c: Container, user: str) -> list[dict]:
    """What the export held before it was made linear: a query per thread."""
    return [
        {**asdict(t), "messages": [asdict(m) for m in c.threads.list_messages(t.thread_id)]}
        for t in c.threads.list_threads(user, limit=10_000)
    ]


def download(c: Container, url: str) -> tuple[int, bytes]:
    if not c.embedded:
        response = httpx.get(url)
        return response.status_code, response.content
    from creator_chat.local.exports import export_download_route

    parts = urlsplit(url)
    answer = export_download_route(c.export_blobs)(  # type: ignore[arg-type]
        LocalRequest("GET", parts.path, parts.query, {}, b"", "127.0.0.1")
    )
    return answer.status, answer.body


def run_worker(c: Container, job_id: str, user: str, *, final: bool = False) -> str:
    return exports.run_export_job(c, {"export_id": job_id, "user_id": user}, final_attempt=final)


def file_exists(c: Container, export_id: str) -> bool:
    try:
        c.export_blobs.get(exports.blob_key(export_id))
    except NotFound:
        return False
    return True


def test_the_linear_export_holds_what_the_per_thread_export_held(c: Container):
    me = fan()
    chat_history(c, me.user_id, threads=12, answers=2)
    chat_history(c, random_id("other-"), threads=3)

    built = exports.build_export(c, me.user_id)

    assert built["threads"] == old_style_threads(c, me.user_id)
    assert sum(len(t["messages"]) for t in built["threads"]) == 36
    assert len(built["feedback"]) == 12
    assert built["profile"]["channel_name"] == "Latte Lab"


def test_a_small_account_is_answered_inline_and_a_large_one_gets_a_job(c: Container):
    me = fan()
    chat_history(c, me.user_id, threads=3)  # 6 messages
    small = exports.export_or_queue(c, me)
    assert small.inline is not None and small.job is None
    assert small.inline["threads"] == old_style_threads(c, me.user_id)

    c.settings = c.settings.replace(export_inline_max_messages=5)
    large = exports.export_or_queue(c, me)
    assert large.inline is None and large.job is not None
    assert large.job.status is ExportStatus.PENDING
    assert large.job.expires_at == int(c.clock.now()) + c.settings.export_ttl_s


def test_the_jobs_file_is_the_inline_export_and_only_its_owner_reads_it(c: Container):
    me = fan()
    chat_history(c, me.user_id, threads=4, answers=2)
    job = exports.request_export(c, me, "req-1")
    assert exports.get_export(c, me, job.export_id).download_url is None  # still pending
    inline = exports.build_export(c, me.user_id)  # the same instant (a fixed clock)

    assert run_worker(c, job.export_id, me.user_id) == "ready"
    assert run_worker(c, job.export_id, me.user_id) == "already-done"  # a duplicate delivery

    view = exports.get_export(c, me, job.export_id)
    assert view.job.status is ExportStatus.READY and view.download_url
    assert view.download_expires_at == int(c.clock.now()) + c.settings.export_url_ttl_s
    status, body = download(c, view.download_url)
    assert status == 200
    assert json.loads(body) == json.loads(json.dumps(inline))
    assert view.job.size_bytes == len(body)

    with pytest.raises(NotFound):
        exports.get_export(c, fan(), job.export_id)  # another user: not found, not forbidden


def test_asking_again_while_an_export_is_pending_returns_that_export(c: Container):
    me = fan()
    first = exports.request_export(c, me)
    assert exports.request_export(c, me).export_id == first.export_id
    run_worker(c, first.export_id, me.user_id)
    assert exports.request_export(c, me).export_id != first.export_id  # a ready one is not


def test_a_download_link_never_outlives_its_export(c: Container, clock: FixedClock):
    me = fan()
    job = exports.request_export(c, me)
    run_worker(c, job.export_id, me.user_id)
    clock.advance(c.settings.export_ttl_s - 60)

    view = exports.get_export(c, me, job.export_id)
    assert view.download_expires_at == job.expires_at
    clock.advance(60)
    with pytest.raises(NotFound):
        exports.get_export(c, me, job.export_id)


def test_erasure_removes_the_users_exports_and_their_files_only(c: Container):
    me, other = fan(), fan()
    mine = exports.request_export(c, me)
    run_worker(c, mine.export_id, me.user_id)
    theirs = exports.request_export(c, other)
    run_worker(c, theirs.export_id, other.user_id)
    assert file_exists(c, mine.export_id)

    receipt = privacy.erase_user_data(c, me)

    assert receipt["deleted_items"]["exports"] == 1
    assert not file_exists(c, mine.export_id)
    assert c.exports.list_exports(me.user_id, include_expired=True) == []
    with pytest.raises(NotFound):
        exports.get_export(c, me, mine.export_id)
    assert file_exists(c, theirs.export_id)
    assert exports.get_export(c, other, theirs.export_id).download_url


def test_an_export_queued_before_an_erasure_is_never_built(c: Container):
    me = fan()
    chat_history(c, me.user_id, threads=1)
    job = exports.request_export(c, me)
    privacy.erase_user_data(c, me)

    assert run_worker(c, job.export_id, me.user_id) == "gone"
    assert not file_exists(c, job.export_id)


@pytest.mark.parametrize("erased", ["before the file is written", "after it is written"])
def test_an_erasure_while_the_export_is_built_leaves_no_file(c: Container, erased: str):
    me = fan()
    chat_history(c, me.user_id, threads=1)
    job = exports.request_export(c, me)
    blobs = c.export_blobs
    real_put = blobs.put

    def put_with_erasure(key: str, data: bytes, **kw: object) -> None:
        # the fan erases everything while the worker builds the export
        if erased.startswith("before"):
            privacy.erase_user_data(c, me)
        real_put(key, data, **kw)  # type: ignore[arg-type]
        if erased.startswith("after"):
            privacy.erase_user_data(c, me)

    blobs.put = put_with_erasure  # type: ignore[method-assign]
    try:
        assert run_worker(c, job.export_id, me.user_id) == "gone"
    finally:
        blobs.put = real_put  # type: ignore[method-assign]
    assert not file_exists(c, job.export_id)


def test_a_failing_build_is_retried_and_ends_failed_on_the_final_attempt(
    c: Container, monkeypatch: pytest.MonkeyPatch
):
    me = fan()
    job = exports.request_export(c, me)

    def broken(*_a: object, **_k: object) -> dict:
        raise RuntimeError("store down")

    monkeypatch.setattr(exports, "build_export", broken)
    with pytest.raises(RuntimeError):
        run_worker(c, job.export_id, me.user_id)
    assert exports.get_export(c, me, job.export_id).job.status is ExportStatus.PENDING
    with pytest.raises(RuntimeError):
        run_worker(c, job.export_id, me.user_id, final=True)

    failed = exports.get_export(c, me, job.export_id)
    assert failed.job.status is ExportStatus.FAILED
    assert failed.job.failure_reason == exports.FAILED_REASON
    assert failed.download_url is None


def test_the_local_purge_removes_expired_exports_with_their_files(
    tmp_path: Path, clock: FixedClock
):
    from creator_chat.local.exports import purge_expired_exports

    settings = Settings(storage="embedded", data_dir=tmp_path / "data", resource_prefix="x")
    c = Container(settings, clock=clock)
    me = fan()
    old = exports.request_export(c, me)
    run_worker(c, old.export_id, me.user_id)
    clock.advance(c.settings.export_ttl_s)
    fresh = exports.request_export(c, me)
    run_worker(c, fresh.export_id, me.user_id)
    stray = tmp_path / "data" / "exports" / "exp_orphan.json"  # no record names it
    stray.write_bytes(b"{}")
    week_ago = time.time() - 7 * 24 * 3600
    os.utime(stray, (week_ago, week_ago))

    assert purge_expired_exports(c) == 1

    assert not file_exists(c, old.export_id)
    assert c.exports.list_exports(me.user_id, include_expired=True) == [
        c.exports.get_export(me.user_id, fresh.export_id)
    ]
    assert file_exists(c, fresh.export_id)
    assert not stray.exists()
    c.close()

"""ExportStore contract, and the export files' download URLs (BlobStore.presigned_get_url):
an export is its user's alone, moves pending → ready/failed once, expires, and erasure removes
every export of the user and nothing of anyone else's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.models import ExportJob, ExportStatus
from creator_chat.errors import Conflict, NotFound
from creator_chat.local.gateway import LocalRequest

from tests.contracts.conftest import embedded_settings, uid

PENDING, READY, FAILED = ExportStatus.PENDING, ExportStatus.READY, ExportStatus.FAILED


def new_export(c: Container, user: str | None = None, ttl_s: int = 3600) -> ExportJob:
    now = int(c.clock.now())
    job = ExportJob(uid("exp_"), user or uid("fan-"), PENDING, now, now, now + ttl_s)
    c.exports.create_export(job)
    return job


def test_an_export_reads_back_for_its_user_only(stores: Container):
    job = new_export(stores)

    assert stores.exports.get_export(job.user_id, job.export_id) == job
    assert stores.exports.get_export(uid("intruder-"), job.export_id) is None
    assert stores.exports.get_export(job.user_id, uid("exp_")) is None
    assert stores.exports.list_exports(job.user_id) == [job]
    assert stores.exports.list_exports(uid("fan-")) == []


def test_creating_an_export_under_a_taken_id_is_a_conflict(stores: Container):
    job = new_export(stores)
    with pytest.raises(Conflict):
        stores.exports.create_export(job)


def test_an_export_moves_from_pending_once(stores: Container, clock: FixedClock):
    job = new_export(stores)
    clock.advance(5)

    assert stores.exports.set_status(
        job.user_id, job.export_id, READY, expected=(PENDING,), blob_key="k.json", size_bytes=42
    )
    stored = stores.exports.get_export(job.user_id, job.export_id)
    assert stored is not None
    assert (stored.status, stored.blob_key, stored.size_bytes) == (READY, "k.json", 42)
    assert stored.updated_at == job.created_at + 5
    # a second worker (a duplicate delivery) cannot move it again
    assert not stores.exports.set_status(
        job.user_id, job.export_id, FAILED, expected=(PENDING,), failure_reason="late"
    )
    assert stores.exports.get_export(job.user_id, job.export_id) == stored


def test_setting_the_status_of_a_missing_or_foreign_export_writes_nothing(stores: Container):
    job = new_export(stores)
    assert not stores.exports.set_status(uid("other-"), job.export_id, READY, expected=(PENDING,))
    assert not stores.exports.set_status(job.user_id, uid("exp_"), READY, expected=(PENDING,))
    assert stores.exports.list_exports(uid("other-")) == []
    assert stores.exports.get_export(job.user_id, job.export_id) == job


def test_a_failed_export_keeps_its_reason(stores: Container):
    job = new_export(stores)
    assert stores.exports.set_status(
        job.user_id, job.export_id, FAILED, expected=(PENDING,), failure_reason="boom"
    )
    stored = stores.exports.get_export(job.user_id, job.export_id)
    assert stored is not None and (stored.status, stored.failure_reason) == (FAILED, "boom")


def test_an_expired_export_reads_as_absent(stores: Container, clock: FixedClock):
    job = new_export(stores, ttl_s=60)
    clock.advance(59)
    assert stores.exports.get_export(job.user_id, job.export_id) is not None
    clock.advance(1)

    assert stores.exports.get_export(job.user_id, job.export_id) is None
    assert stores.exports.list_exports(job.user_id) == []
    assert stores.exports.list_exports(job.user_id, include_expired=True) == [job]
    assert not stores.exports.set_status(job.user_id, job.export_id, READY, expected=(PENDING,))


def test_exports_are_listed_oldest_first(stores: Container, clock: FixedClock):
    user = uid("fan-")
    first = new_export(stores, user)
    clock.advance(1)
    second = new_export(stores, user)
    assert [j.export_id for j in stores.exports.list_exports(user)] == [
        first.export_id,
        second.export_id,
    ]


def test_erasure_removes_every_export_of_the_user_only(stores: Container, clock: FixedClock):
    user, other = uid("erase-me-"), uid("keep-me-")
    new_export(stores, user, ttl_s=10)
    clock.advance(11)  # expired, not yet removed by the TTL
    new_export(stores, user)
    kept = new_export(stores, other)

    assert stores.exports.delete_user_exports(user) == 2

    assert stores.exports.list_exports(user, include_expired=True) == []
    assert stores.exports.list_exports(other) == [kept]
    assert stores.exports.delete_user_exports(user) == 0


# ----------------------------------------------------------------------- download URLs
def download(stores: Container, url: str) -> tuple[int, bytes]:
    """GET a download URL as a client would (no token): S3 (moto) or the local gateway."""
    if not stores.embedded:
        response = httpx.get(url)
        return response.status_code, response.content
    from creator_chat.local.exports import export_download_route

    parts = urlsplit(url)
    route = export_download_route(stores.export_blobs)  # type: ignore[arg-type]
    request = LocalRequest("GET", parts.path, parts.query, {}, b"", "127.0.0.1")
    answer = route(request)
    return answer.status, answer.body


def test_a_download_url_returns_the_file_without_credentials(stores: Container):
    key = f"{uid('exp_')}.json"
    stores.export_blobs.put(key, b'{"user_id": "u"}', content_type="application/json")

    url = stores.export_blobs.presigned_get_url(key, expires_s=900)

    assert download(stores, url) == (200, b'{"user_id": "u"}')
    if not stores.embedded:  # SigV4: buckets made since 2020 refuse SigV2 URLs
        assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Expires=900" in url
    stores.export_blobs.delete(key)
    assert download(stores, url)[0] in (403, 404)  # S3 answers 403 for a missing key


@pytest.fixture
def embedded(tmp_path: Path, clock: FixedClock) -> Iterator[Container]:
    """The embedded family alone: what S3 checks itself (moto does not enforce signatures)."""
    container = Container(embedded_settings(tmp_path / "data"), clock=clock)
    yield container
    container.close()


def test_embedded_download_urls_refuse_a_forged_signature_another_key_or_an_expired_url(
    embedded: Container, clock: FixedClock
):
    key, other = f"{uid('exp_')}.json", f"{uid('exp_')}.json"
    embedded.export_blobs.put(key, b"mine")
    embedded.export_blobs.put(other, b"theirs")
    url = embedded.export_blobs.presigned_get_url(key, expires_s=60)
    assert urlsplit(url).path.startswith("/_local/exports/")

    assert download(embedded, url.replace("signature=", "signature=0"))[0] == 403
    assert download(embedded, url.replace(key, other))[0] == 403
    clock.advance(61)
    assert download(embedded, url)[0] == 403


def test_embedded_download_urls_are_not_upload_urls_and_stay_in_their_store(
    embedded: Container,
):
    # the uploads store's files are not reachable through an export download URL
    embedded.blobs.put("cr_a/doc/raw", b"uploaded")
    with pytest.raises(NotFound):
        embedded.export_blobs.get("cr_a/doc/raw")
    url = embedded.export_blobs.presigned_get_url("cr_a/doc/raw", expires_s=60)
    assert download(embedded, url)[0] == 404

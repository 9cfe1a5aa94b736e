"""BlobStore contract: raw uploads in S3 (moto) and in the data dir, and their upload URLs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.errors import InvalidInput, NotFound
from creator_chat.local.gateway import LocalRequest

from tests.contracts.conftest import embedded_settings, uid


def put_to_upload_url(stores: Container, url: str, data: bytes, content_type: str) -> int:
    """PUT to an upload URL as a client would; returns the HTTP status."""
    if not stores.embedded:
        return httpx.put(url, content=data, headers={"content-type": content_type}).status_code
    from creator_chat.local.uploads import upload_route

    parts = urlsplit(url)
    route = upload_route(stores.blobs, max_bytes=stores.settings.max_document_bytes)  # type: ignore[arg-type]
    request = LocalRequest(
        "PUT", parts.path, parts.query, {"content-type": content_type}, data, "127.0.0.1"
    )
    return route(request).status


def test_a_stored_blob_reads_back_and_is_gone_after_delete(stores: Container):
    key = f"cr_a/{uid('doc_')}/abc"
    stores.blobs.put(key, b"WEBVTT\n\nhello")
    assert stores.blobs.get(key) == b"WEBVTT\n\nhello"
    stores.blobs.delete(key)
    with pytest.raises(NotFound):
        stores.blobs.get(key)
    stores.blobs.delete(key)  # deleting twice is fine


def test_a_missing_blob_is_not_found(stores: Container):
    with pytest.raises(NotFound):
        stores.blobs.get(f"cr_a/{uid()}/nothing")


def test_the_store_answers_a_ping(stores: Container):
    assert stores.blobs.ping() is True


def test_an_upload_url_accepts_the_file_for_its_key(stores: Container):
    key = f"cr_a/{uid('doc_')}/upload-1"
    url = stores.blobs.presigned_put_url(key, expires_s=900, content_type="application/pdf")
    assert put_to_upload_url(stores, url, b"%PDF-1.4 manual", "application/pdf") == 200
    assert stores.blobs.get(key) == b"%PDF-1.4 manual"


@pytest.fixture
def embedded(tmp_path: Path, clock: FixedClock) -> Iterator[Container]:
    """The embedded family alone: what S3 checks itself (moto does not enforce signatures)."""
    container = Container(embedded_settings(tmp_path / "data"), clock=clock)
    yield container
    container.close()


def test_embedded_upload_urls_refuse_a_forged_signature_another_type_or_an_expired_url(
    embedded: Container, clock: FixedClock
):
    stores = embedded
    key = f"cr_a/{uid('doc_')}/upload-2"
    url = stores.blobs.presigned_put_url(key, expires_s=60, content_type="application/pdf")
    forged = url.replace("signature=", "signature=0")
    assert put_to_upload_url(stores, forged, b"x", "application/pdf") == 403
    assert put_to_upload_url(stores, url, b"x", "text/html") == 403
    other_key = url.replace("upload-2", "upload-3")
    assert put_to_upload_url(stores, other_key, b"x", "application/pdf") == 403
    clock.advance(61)
    assert put_to_upload_url(stores, url, b"x", "application/pdf") == 403
    with pytest.raises(NotFound):
        stores.blobs.get(key)


def test_embedded_keys_cannot_leave_the_uploads_folder(embedded: Container):
    for key in ("../escape", "cr_a/../../x", "/etc/passwd", ""):
        with pytest.raises(InvalidInput):
            embedded.blobs.put(key, b"x")

"""BlobStore contract: raw uploads in S3 (moto) and in the data dir, and their upload forms."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.errors import InvalidInput, NotFound
from creator_chat.local.gateway import LocalRequest
from creator_chat.ports import UploadForm

from tests.contracts.conftest import embedded_settings, uid


def post_to_upload_form(
    stores: Container, form: UploadForm, data: bytes, content_type: str | None = None
) -> int:
    """Upload as a client would (the form's fields, then the file); returns the HTTP status."""
    fields = dict(form.fields)
    if content_type is not None:
        fields["Content-Type"] = content_type
    request = httpx.Request(
        "POST", form.url, data=fields, files={"file": ("f.bin", data, "application/octet-stream")}
    )
    if not stores.embedded:
        with httpx.Client() as client:
            return client.send(request).status_code
    from creator_chat.local.uploads import upload_route

    parts = urlsplit(form.url)
    route = upload_route(stores.blobs, max_bytes=stores.settings.max_document_bytes)  # type: ignore[arg-type]
    body = request.read()
    headers = {k.lower(): v for k, v in request.headers.items()}
    return route(LocalRequest("POST", parts.path, parts.query, headers, body, "127.0.0.1")).status


def s3_policy_admits(form: UploadForm, *, size: int, content_type: str, now: datetime) -> bool:
    """What S3 decides for a POST of this form (moto stores any: it checks no policy)."""
    policy = json.loads(base64.b64decode(form.fields["policy"]))
    if datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00")) <= now:
        return False
    sent = {**{k.lower(): v for k, v in form.fields.items()}, "content-type": content_type}
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            ((name, value),) = condition.items()
            condition = ["eq", f"${name}", value]
        op, *args = condition
        if op == "content-length-range":
            admitted = args[0] <= size <= args[1]
        else:
            field, value = args[0].lstrip("$").lower(), args[1]
            have = str(sent.get(field, ""))
            admitted = field == "bucket" or (
                have == value if op == "eq" else have.startswith(value)
            )
        if not admitted:
            return False
    return True


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


def test_an_upload_form_accepts_a_file_of_its_declared_size(stores: Container):
    key = f"cr_a/{uid('doc_')}/upload-1"
    data = b"%PDF-1.4 manual"
    form = stores.blobs.presigned_post(
        key, expires_s=900, content_type="application/pdf", max_bytes=len(data)
    )
    assert post_to_upload_form(stores, form, data) in (200, 204)
    assert stores.blobs.get(key) == data


def test_an_upload_form_refuses_a_file_over_its_declared_size(stores: Container):
    key = f"cr_a/{uid('doc_')}/upload-2"
    form = stores.blobs.presigned_post(
        key, expires_s=900, content_type="application/pdf", max_bytes=100
    )
    if stores.embedded:
        assert post_to_upload_form(stores, form, b"x" * 101) == 413
        assert post_to_upload_form(stores, form, b"x" * (4 * 1024 * 1024)) == 413
        assert post_to_upload_form(stores, form, b"") == 400
        with pytest.raises(NotFound):
            stores.blobs.get(key)  # nothing stored
        assert post_to_upload_form(stores, form, b"x" * 100) == 204
    else:
        # S3 checks the signed policy itself (moto does not): a content-length-range of 1 to
        # the declared size, the content type, the key and the expiry
        now = datetime.now(UTC)
        ok = {"content_type": "application/pdf", "now": now}
        assert s3_policy_admits(form, size=100, **ok)  # type: ignore[arg-type]
        assert s3_policy_admits(form, size=1, **ok)  # type: ignore[arg-type]
        assert not s3_policy_admits(form, size=101, **ok)  # type: ignore[arg-type]
        assert not s3_policy_admits(form, size=20 * 1024 * 1024, **ok)  # type: ignore[arg-type]
        assert not s3_policy_admits(form, size=0, **ok)  # type: ignore[arg-type]
        assert not s3_policy_admits(form, size=10, content_type="text/html", now=now)
        assert not s3_policy_admits(
            form, size=10, content_type="application/pdf", now=now + timedelta(seconds=901)
        )
        assert form.fields["key"] == key


@pytest.fixture
def embedded(tmp_path: Path, clock: FixedClock) -> Iterator[Container]:
    """The embedded family alone: what S3 checks itself (moto does not enforce signatures)."""
    container = Container(embedded_settings(tmp_path / "data"), clock=clock)
    yield container
    container.close()


def test_embedded_upload_forms_refuse_a_forged_url_another_type_or_an_expired_url(
    embedded: Container, clock: FixedClock
):
    stores = embedded
    key = f"cr_a/{uid('doc_')}/upload-2"
    form = stores.blobs.presigned_post(
        key, expires_s=60, content_type="application/pdf", max_bytes=10
    )

    def variant(url: str) -> UploadForm:
        return UploadForm(url, form.fields)

    assert (
        post_to_upload_form(stores, variant(form.url.replace("signature=", "signature=0")), b"x")
        == 403
    )
    assert post_to_upload_form(stores, form, b"x", "text/html") == 403
    assert (
        post_to_upload_form(stores, variant(form.url.replace("upload-2", "upload-3")), b"x") == 403
    )
    bigger = variant(form.url.replace("max_bytes=10", "max_bytes=99999"))
    assert post_to_upload_form(stores, bigger, b"x" * 11) == 403  # the size is signed
    clock.advance(61)
    assert post_to_upload_form(stores, form, b"x") == 403
    with pytest.raises(NotFound):
        stores.blobs.get(key)


def test_embedded_keys_cannot_leave_the_uploads_folder(embedded: Container):
    for key in ("../escape", "cr_a/../../x", "/etc/passwd", ""):
        with pytest.raises(InvalidInput):
            embedded.blobs.put(key, b"x")

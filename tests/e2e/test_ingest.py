"""Ingest end to end: upload → worker → index → search, idempotency, replacement, tenancy."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.conftest import TokenFactory, bearer, wait_for_documents

VTT = """WEBVTT

00:00:00.000 --> 00:00:06.000
Welcome back to the workshop, today we restore a vintage film camera.

00:00:06.000 --> 00:00:15.000
First, the light seals. Old foam turns to sticky goo, so scrape it out with a wooden toothpick.

00:01:40.000 --> 00:01:52.000
The shutter on this Zeiss Ikon was stuck, and a single drop of naphtha on the blades freed it.

00:01:52.000 --> 00:02:05.000
Never oil shutter blades: oil migrates and glues them together within a year.
"""

MANUAL = """# Darkroom Kit Manual

## Developer dilution

Mix the developer one part to nine parts water at 20 degrees Celsius.

## Fixer

Fix for five minutes with agitation every thirty seconds.
"""


@pytest.fixture(scope="module")
def two_creators(api: httpx.Client, token: TokenFactory) -> tuple[str, str]:
    admin = bearer(token("admin-ingest", "admin"))
    ids = []
    for name in ("alpha", "beta"):
        slug = f"{name}-{uuid.uuid4().hex[:6]}"
        r = api.post("/v1/creators", json={"slug": slug, "name": name.title()}, headers=admin)
        assert r.status_code == 201, r.text
        ids.append(r.json()["creator_id"])
    return ids[0], ids[1]


def post_doc(api: httpx.Client, tok: str, creator: str, **body: object) -> httpx.Response:
    return api.post(f"/v1/creators/{creator}/documents", json=body, headers=bearer(tok))


def search(api: httpx.Client, tok: str, creator: str, query: str) -> list[dict]:
    """Every hit, those under the answerability gate too (this file tests what is indexed)."""
    body = {"query": query, "top_k": 3, "include_below_gate": True}
    r = api.post(f"/v1/creators/{creator}/search", json=body, headers=bearer(tok))
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_transcript_and_manual_are_searchable_with_timestamps_and_only_by_their_creator(
    api: httpx.Client, token: TokenFactory, two_creators: tuple[str, str]
):
    a, b = two_creators
    tok_a, tok_b = token("owner-a", "creator", creator=a), token("owner-b", "creator", creator=b)
    r = post_doc(
        api,
        tok_a,
        a,
        title="Restoring a Zeiss Ikon",
        kind="vtt",
        content=VTT,
        source_url="https://www.youtube.com/watch?v=ZeissIkon01",
        video_id="ZeissIkon01",
    )
    assert r.status_code == 202 and r.json()["document"]["status"] == "queued"
    r = post_doc(api, tok_a, a, title="Darkroom Kit Manual", kind="markdown", content=MANUAL)
    assert r.status_code == 202

    docs = wait_for_documents(api, tok_a, a)
    assert [d["status"] for d in docs] == ["done", "done"]
    assert all(d["chunk_count"] > 0 for d in docs)

    hits = search(api, tok_a, a, "my shutter is stuck, how do I free it?")
    top = hits[0]
    assert top["title"] == "Restoring a Zeiss Ikon" and "naphtha" in top["text"]
    assert top["start_s"] is not None and top["start_s"] <= 100 <= top["end_s"]
    manual = search(api, tok_a, a, "how long do I fix the prints")[0]
    assert manual["title"] == "Darkroom Kit Manual" and "five minutes" in manual["text"]
    assert "Fixer" in manual["heading"]

    # creator B searches the same words and sees nothing of A's
    assert all("naphtha" not in h["text"] for h in search(api, tok_b, b, "shutter stuck naphtha"))
    # and B's token cannot search A at all
    assert (
        api.post(
            f"/v1/creators/{a}/search", json={"query": "shutter"}, headers=bearer(tok_b)
        ).status_code
        == 403
    )


def test_reposting_is_a_no_op_editing_replaces_and_deleting_removes(
    api: httpx.Client, token: TokenFactory, two_creators: tuple[str, str]
):
    a, _ = two_creators
    tok = token("owner-a", "creator", creator=a)
    body = {
        "title": "Lens cleaning",
        "kind": "text",
        "source_url": "https://example.com/lens",
        "content": "Clean lens elements with a drop of isopropyl alcohol on a microfiber cloth.",
    }
    first = post_doc(api, tok, a, **body)
    assert first.status_code == 202
    doc_id = first.json()["document"]["document_id"]
    wait_for_documents(api, tok, a)

    again = post_doc(api, tok, a, **body)
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["document"]["document_id"] == doc_id

    edited = {
        **body,
        "content": "Clean lens elements only with a rocket blower; never use liquids.",
    }
    assert post_doc(api, tok, a, **edited).json()["document"]["document_id"] == doc_id
    wait_for_documents(api, tok, a)
    texts = [
        h["text"] for h in search(api, tok, a, "how to clean a lens") if h["document_id"] == doc_id
    ]
    assert texts and all("rocket blower" in t for t in texts)
    assert not any("isopropyl" in t for t in texts)

    r = api.delete(f"/v1/creators/{a}/documents/{doc_id}", headers=bearer(tok))
    assert r.status_code == 200 and r.json()["chunks_removed"] >= 1
    assert all(h["document_id"] != doc_id for h in search(api, tok, a, "rocket blower lens"))
    assert api.get(f"/v1/creators/{a}/documents/{doc_id}", headers=bearer(tok)).status_code == 404


def test_corrupt_pdf_fails_with_a_reason_and_loses_nothing_else(
    api: httpx.Client, token: TokenFactory, two_creators: tuple[str, str]
):
    a, _ = two_creators
    tok = token("owner-a", "creator", creator=a)
    before = {d["document_id"]: d["status"] for d in wait_for_documents(api, tok, a)}
    r = post_doc(
        api, tok, a, title="Broken manual", kind="pdf", content="%PDF-1.4 garbage \x00 not a pdf"
    )
    assert r.status_code == 202
    doc_id = r.json()["document"]["document_id"]
    docs = {d["document_id"]: d for d in wait_for_documents(api, tok, a)}
    assert docs[doc_id]["status"] == "failed"
    assert "PDF" in docs[doc_id]["failure_reason"]
    assert {k: v["status"] for k, v in docs.items() if k != doc_id} == before


def test_creator_cannot_ingest_into_another_creator(
    api: httpx.Client, token: TokenFactory, two_creators: tuple[str, str]
):
    a, b = two_creators
    r = post_doc(
        api, token("owner-a", "creator", creator=a), b, title="x", kind="text", content="hello"
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    fan = post_doc(api, token("some-fan"), a, title="x", kind="text", content="hello")
    assert fan.status_code == 403


def test_oversized_inline_content_is_413_with_a_way_forward(
    api: httpx.Client, token: TokenFactory, two_creators: tuple[str, str]
):
    a, _ = two_creators
    r = post_doc(
        api,
        token("owner-a", "creator", creator=a),
        a,
        title="huge",
        kind="text",
        content="x" * (1024 * 1024 + 10),
    )
    assert r.status_code == 413
    assert "upload" in r.json()["error"]["message"]


def upload(ticket: dict, data: bytes, **kw: object) -> httpx.Response:
    """The client flow of an upload ticket: a multipart POST of its fields, then the file."""
    assert ticket["upload_method"] == "POST"
    return httpx.post(
        ticket["upload_url"],
        data=ticket["upload_fields"],
        files={"file": ("file.bin", data, "application/octet-stream")},
        **kw,  # type: ignore[arg-type]
    )


def test_large_files_go_through_a_presigned_upload(
    api: httpx.Client, token: TokenFactory, two_creators: tuple[str, str]
):
    a, _ = two_creators
    tok = token("owner-a", "creator", creator=a)
    r = post_doc(
        api,
        tok,
        a,
        title="Big transcript",
        kind="vtt",
        upload=True,
        size_bytes=len(VTT),
        source_url="https://www.youtube.com/watch?v=BigTranscr1",
    )
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert upload(ticket, VTT.encode()).status_code == 204
    doc_id = ticket["document"]["document_id"]
    done = api.post(f"/v1/creators/{a}/documents/{doc_id}/complete", headers=bearer(tok))
    assert done.status_code == 202
    docs = {d["document_id"]: d for d in wait_for_documents(api, tok, a)}
    assert docs[doc_id]["status"] == "done"


def test_an_upload_larger_than_its_ticket_declared_is_refused_and_never_stored(
    api: httpx.Client, token: TokenFactory, two_creators: tuple[str, str]
):
    a, _ = two_creators
    tok = token("owner-a", "creator", creator=a)
    r = post_doc(api, tok, a, title="Declared small", kind="text", upload=True, size_bytes=100)
    assert r.status_code == 201, r.text
    ticket = r.json()
    doc_id = ticket["document"]["document_id"]
    complete = f"/v1/creators/{a}/documents/{doc_id}/complete"

    over = upload(ticket, b"x" * 101)
    assert over.status_code == 413
    assert "100" in over.json()["error"]["message"]
    # refused from its Content-Length, before the body is kept
    big = upload(ticket, b"x" * (4 * 1024 * 1024), timeout=60)
    assert big.status_code == 413
    nothing = api.post(complete, headers=bearer(tok))
    assert nothing.status_code == 409  # not uploaded yet: a state, not a field error
    assert "nothing was uploaded" in nothing.json()["error"]["message"]

    assert upload(ticket, b"Fits: exactly one hundred bytes ".ljust(100, b".")).status_code == 204
    assert api.post(complete, headers=bearer(tok)).status_code == 202
    docs = {d["document_id"]: d for d in wait_for_documents(api, tok, a)}
    assert docs[doc_id]["status"] == "done"

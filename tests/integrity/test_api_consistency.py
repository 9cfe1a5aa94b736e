"""Defect 9: one API surface. A creator route takes the slug wherever it takes the id; the
same kind of field error gets the same status; refused reads are audited with the request id
the caller was given."""

from __future__ import annotations

import pytest

from tests.integrity.conftest import Rig, new_creator, uid


def slug_of(rig: Rig, creator_id: str, token: str) -> str:
    return str(rig.call("GET", f"/v1/creators/{creator_id}", token).body["slug"])


def test_every_creator_route_takes_the_slug_as_it_takes_the_id(rig: Rig):
    creator_id, owner = new_creator(rig)
    slug = slug_of(rig, creator_id, owner)
    posted = rig.call(
        "POST",
        f"/v1/creators/{slug}/documents",
        owner,
        {"title": "Grind", "kind": "text", "content": "Grind finer when the shot runs fast."},
    )
    assert posted.status == 202, posted
    rig.run_ingest()
    doc_id = posted.body["document"]["document_id"]

    for ref in (creator_id, slug):
        base = f"/v1/creators/{ref}"
        listed = rig.call("GET", f"{base}/documents", owner)
        assert listed.status == 200 and [d["document_id"] for d in listed.body["documents"]] == [
            doc_id
        ]
        assert rig.call("GET", f"{base}/documents/{doc_id}", owner).status == 200
        found = rig.call("POST", f"{base}/search", owner, {"query": "shot runs fast"})
        assert found.status == 200 and found.body["results"], found
        assert rig.call("GET", f"{base}/trending", owner).status == 200
        patched = rig.call("PATCH", base, owner, {"specialty": f"espresso via {ref}"})
        assert patched.status == 200 and patched.body["creator_id"] == creator_id
        fan = rig.token(uid("fan-"))
        assert rig.call("POST", f"{base}/chat", fan, {"message": "Why grind finer?"}).status == 200

    # and another creator's owner is refused by slug exactly as by id
    _, intruder = new_creator(rig)
    for ref in (creator_id, slug):
        assert rig.call("GET", f"/v1/creators/{ref}/documents", intruder).status == 403
        assert rig.call("DELETE", f"/v1/creators/{ref}/documents/{doc_id}", intruder).status == 403
    assert rig.call("GET", f"/v1/creators/{slug}/documents/{doc_id}", owner).status == 200


@pytest.mark.parametrize("slug", ["Bad Slug!", "ab", "-leading", "under_score"])
def test_an_invalid_slug_is_a_422_like_every_invalid_field(rig: Rig, slug: str):
    admin = rig.token(uid("admin-"), "admin")

    reply = rig.call("POST", "/v1/creators", admin, {"slug": slug, "name": "X"})

    assert reply.status == 422, reply
    assert reply.body["error"]["code"] == "invalid_input"


def test_field_errors_checked_by_the_use_case_are_422_too(rig: Rig):
    creator_id, owner = new_creator(rig)
    fan = rig.token(uid("fan-"))
    blank = rig.call("POST", f"/v1/creators/{creator_id}/chat", fan, {"message": "   "})
    too_long = rig.call("POST", f"/v1/creators/{creator_id}/chat", fan, {"message": "x" * 4001})
    empty_doc = rig.call(
        "POST",
        f"/v1/creators/{creator_id}/documents",
        owner,
        {"title": "Empty", "kind": "text", "content": "  \n "},
    )
    for reply in (blank, too_long, empty_doc):
        assert reply.status == 422, reply
        assert reply.body["error"]["code"] == "invalid_input"


def test_refused_reads_are_audited_with_the_request_id_the_caller_got(rig: Rig):
    creator_id, _owner = new_creator(rig)
    intruder_id = uid("owner-")
    intruder = rig.token(intruder_id, "creator", creator=uid("cr_"))
    refused = {
        "document.list": rig.call("GET", f"/v1/creators/{creator_id}/documents", intruder),
        "document.read": rig.call("GET", f"/v1/creators/{creator_id}/documents/doc_x", intruder),
        "document.search": rig.call(
            "POST", f"/v1/creators/{creator_id}/search", intruder, {"query": "x"}
        ),
        "trending.read": rig.call("GET", f"/v1/creators/{creator_id}/trending", intruder),
    }
    for reply in refused.values():
        assert reply.status == 403, reply

    audit = {
        (e.action, e.request_id)
        for e in rig.container.audit.entries_for(intruder_id)
        if e.outcome == "denied"
    }
    for action, reply in refused.items():
        rid = reply.body["error"]["request_id"]
        assert rid and (action, rid) in audit, (action, audit)

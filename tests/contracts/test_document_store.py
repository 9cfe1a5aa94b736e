"""DocumentStore contract: documents per creator, conditional status changes, hash claims."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.models import Document, DocumentKind, DocumentStatus

from tests.contracts.conftest import uid

Q, P, D, F = (
    DocumentStatus.QUEUED,
    DocumentStatus.PROCESSING,
    DocumentStatus.DONE,
    DocumentStatus.FAILED,
)


def new_doc(
    creator: str, *, status: DocumentStatus = Q, created_at: int = 1_800_000_000, **kw
) -> Document:
    return Document(
        creator_id=creator,
        document_id=kw.pop("document_id", uid("doc_")),
        title=kw.pop("title", "Dialing in espresso"),
        kind=kw.pop("kind", DocumentKind.VTT),
        content_hash=kw.pop("content_hash", uid("h")),
        status=status,
        created_at=created_at,
        updated_at=created_at,
        **kw,
    )


def test_a_document_round_trips_with_its_enums(stores: Container):
    doc = new_doc(
        uid("cr_"),
        source_url="https://youtu.be/x",
        video_id="x",
        blob_key="cr/doc/h",
        job_id="job_1",
        chunk_count=4,
        failure_reason="earlier failure",
        size_bytes=1234,
    )
    stores.documents.put_document(doc)

    got = stores.documents.get_document(doc.creator_id, doc.document_id)

    assert got == doc
    assert got is not None and got.status is Q and got.kind is DocumentKind.VTT


def test_a_missing_document_is_none_and_another_creator_cannot_read_it(stores: Container):
    doc = new_doc(uid("cr_"))
    stores.documents.put_document(doc)

    assert stores.documents.get_document(doc.creator_id, uid("doc_")) is None
    assert stores.documents.get_document(uid("cr_"), doc.document_id) is None


def test_putting_a_document_again_replaces_it(stores: Container):
    doc = new_doc(uid("cr_"), chunk_count=3)
    stores.documents.put_document(doc)
    newer = new_doc(
        doc.creator_id, document_id=doc.document_id, status=D, title="Re-cut", chunk_count=7
    )
    stores.documents.put_document(newer)

    assert stores.documents.get_document(doc.creator_id, doc.document_id) == newer
    assert stores.documents.list_documents(doc.creator_id) == [newer]


def test_documents_are_listed_oldest_first_and_per_creator(stores: Container):
    creator = uid("cr_")
    late = new_doc(creator, created_at=1_800_000_300)
    early = new_doc(creator, created_at=1_800_000_100)
    middle = new_doc(creator, created_at=1_800_000_200)
    for doc in (late, early, middle, new_doc(uid("cr_"))):
        stores.documents.put_document(doc)

    listed = stores.documents.list_documents(creator)

    assert [d.document_id for d in listed] == [
        early.document_id,
        middle.document_id,
        late.document_id,
    ]
    assert stores.documents.list_documents(uid("cr_")) == []


def test_set_status_moves_a_document_and_stamps_the_time(stores: Container, clock: FixedClock):
    doc = new_doc(uid("cr_"), chunk_count=2)
    stores.documents.put_document(doc)
    clock.advance(90)

    assert stores.documents.set_status(doc.creator_id, doc.document_id, P)

    got = stores.documents.get_document(doc.creator_id, doc.document_id)
    assert got is not None and got.status is P
    assert got.updated_at == int(clock.now()) and got.created_at == doc.created_at
    assert got.chunk_count == 2  # untouched when not given
    assert [d.status for d in stores.documents.list_documents(doc.creator_id)] == [P]


def test_set_status_with_expected_refuses_a_document_in_another_state(stores: Container):
    doc = new_doc(uid("cr_"))
    stores.documents.put_document(doc)

    assert stores.documents.set_status(doc.creator_id, doc.document_id, P, expected=[Q])
    assert not stores.documents.set_status(doc.creator_id, doc.document_id, P, expected=[Q])
    assert not stores.documents.set_status(doc.creator_id, doc.document_id, D, expected=[Q, F])

    got = stores.documents.get_document(doc.creator_id, doc.document_id)
    assert got is not None and got.status is P
    assert stores.documents.set_status(doc.creator_id, doc.document_id, D, expected=[Q, P])


@pytest.mark.parametrize("expected", [None, [Q]])
def test_set_status_on_a_missing_document_changes_nothing(stores: Container, expected):
    creator, document_id = uid("cr_"), uid("doc_")

    assert not stores.documents.set_status(creator, document_id, F, expected=expected)

    assert stores.documents.get_document(creator, document_id) is None
    assert stores.documents.list_documents(creator) == []


def test_a_failure_reason_is_kept_until_the_next_status_without_one(stores: Container):
    doc = new_doc(uid("cr_"), chunk_count=5)
    stores.documents.put_document(doc)

    assert stores.documents.set_status(
        doc.creator_id, doc.document_id, F, failure_reason="no text", chunk_count=0
    )
    failed = stores.documents.get_document(doc.creator_id, doc.document_id)
    assert failed is not None and failed.failure_reason == "no text" and failed.chunk_count == 0

    assert stores.documents.set_status(doc.creator_id, doc.document_id, D, chunk_count=9)
    done = stores.documents.get_document(doc.creator_id, doc.document_id)
    assert done is not None and done.status is D
    assert done.failure_reason is None and done.chunk_count == 9


def test_a_deleted_document_is_gone(stores: Container):
    doc = new_doc(uid("cr_"))
    kept = new_doc(doc.creator_id)
    stores.documents.put_document(doc)
    stores.documents.put_document(kept)

    stores.documents.delete_document(doc.creator_id, doc.document_id)
    stores.documents.delete_document(doc.creator_id, uid("doc_"))  # absent: no error

    assert stores.documents.get_document(doc.creator_id, doc.document_id) is None
    assert stores.documents.list_documents(doc.creator_id) == [kept]


def test_claiming_a_hash_twice_returns_the_first_document(stores: Container):
    creator, digest = uid("cr_"), uid("sha")

    assert stores.documents.claim_content_hash(creator, digest, "doc_1") == "doc_1"
    assert stores.documents.claim_content_hash(creator, digest, "doc_2") == "doc_1"
    assert stores.documents.claim_content_hash(creator, uid("sha"), "doc_2") == "doc_2"


def test_a_hash_is_claimed_per_creator(stores: Container):
    digest = uid("sha")
    assert stores.documents.claim_content_hash(uid("cr_"), digest, "doc_1") == "doc_1"
    assert stores.documents.claim_content_hash(uid("cr_"), digest, "doc_2") == "doc_2"


def test_a_released_hash_can_be_claimed_anew(stores: Container):
    creator, digest = uid("cr_"), uid("sha")
    stores.documents.claim_content_hash(creator, digest, "doc_1")

    stores.documents.release_content_hash(creator, digest)
    stores.documents.release_content_hash(creator, digest)  # already released: no error

    assert stores.documents.claim_content_hash(creator, digest, "doc_2") == "doc_2"


def test_parallel_claims_of_one_hash_agree_on_one_document(stores: Container):
    creator, digest = uid("cr_"), uid("sha")

    def claim(i: int) -> str:
        return stores.documents.claim_content_hash(creator, digest, f"doc_{i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        winners = set(pool.map(claim, range(20)))

    assert len(winners) == 1
    assert stores.documents.claim_content_hash(creator, digest, "late") in winners

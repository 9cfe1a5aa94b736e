"""Metadata filters through the public HTTP API: tags set at ingest reach every chunk, and a
search or a chat given ``filters`` (video ids, document kinds, tags) only ever sees, and
cites, matching documents of its own creator — on the embedded family, on the AWS family
(DynamoDB, SQS, S3 on moto; the in-memory index), and on the AWS family with the S3 Vectors
adapter (on the fake of the service). The caches key on the filters, and a queued chat
carries them to the worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from creator_chat.adapters.aws.s3vectors_index import S3VectorsIndex
from creator_chat.domain.models import Chunk, Generation, Identity, Role, Tier
from creator_chat.usecases import ingest as ingest_uc
from creator_chat.usecases.chat import answer_queued

from tests.integrity.conftest import Rig, RigFactory, new_creator, uid
from tests.unit.fake_s3vectors import FakeS3Vectors

QUESTION = "How firmly should I tamp the espresso puck?"

# (kind, body fields): four documents of one creator that all answer the question
VIDEO_1 = "vidTamp01"
VIDEO_2 = "vidTamp02"
DOCUMENTS: dict[str, dict[str, Any]] = {
    "video-1": {
        "kind": "vtt",
        "video_id": VIDEO_1,
        "tags": ["module-1", "basics"],
        "content": "WEBVTT\n\n00:00:01.000 --> 00:00:06.000\n"
        "Tamp the espresso puck firmly and level, about fifteen kilos.\n",
    },
    "notes": {
        "kind": "text",
        "tags": ["module-2"],
        "content": "Tamp the espresso puck firmly; a level puck matters more than force.",
    },
    "manual": {
        "kind": "markdown",
        "content": "# Tamping\n\nTamp the espresso puck firmly with the supplied tamper.",
    },
    "video-2": {
        "kind": "srt",
        "video_id": VIDEO_2,
        "tags": ["module-2"],
        "content": "1\n00:00:01,000 --> 00:00:05,000\n"
        "Tamp the espresso puck firmly after distributing the grounds.\n",
    },
}

VARIANTS = {"embedded": ("embedded", None), "aws": ("aws", None), "aws-s3vectors": ("aws", "s3")}


class CitingGenerator:
    """Quotes and cites every source it is given: the citations show all it was shown."""

    model_id = "citing-generator"

    def generate(
        self,
        *,
        system: str,
        history: Sequence[Any],
        question: str,
        sources: Sequence[Chunk],
        max_tokens: int,
    ) -> Generation:
        text = " ".join(f"{s.text} [{n}]" for n, s in enumerate(sources, 1))
        return Generation(text, 10, 10, self.model_id, cited=list(range(1, len(sources) + 1)))


@pytest.fixture(params=list(VARIANTS))
def variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def family(variant: str) -> str:  # the conftest's family, per variant
    return VARIANTS[variant][0]


@pytest.fixture
def rig(make_rig: RigFactory, variant: str) -> Rig:
    rig = make_rig()
    if VARIANTS[variant][1] == "s3":
        dimension = rig.container.embedder.dimension
        index = S3VectorsIndex(FakeS3Vectors(), "vectors", f"chunks-{dimension}", dimension)
        rig.container.overrides["index"] = index
    rig.container.overrides["generator"] = CitingGenerator()
    return rig


def post_document(rig: Rig, creator_id: str, owner: str, title: str, **fields: Any) -> Any:
    return rig.call(
        "POST", f"/v1/creators/{creator_id}/documents", owner, {"title": title, **fields}
    )


def seed(rig: Rig) -> tuple[str, str, dict[str, str]]:
    """A creator with the four documents indexed; (creator id, owner token, id by name)."""
    creator_id, owner = new_creator(rig)
    ids: dict[str, str] = {}
    for name, fields in DOCUMENTS.items():
        reply = post_document(rig, creator_id, owner, name, **fields)
        assert reply.status == 202, reply
        ids[name] = reply.body["document"]["document_id"]
    assert set(rig.run_ingest()) == {"done"}
    return creator_id, owner, ids


def search(rig: Rig, creator_id: str, token: str, filters: Any = None, **body: Any) -> Any:
    payload = {"query": QUESTION, "top_k": 10, "include_below_gate": True, **body}
    if filters is not None:
        payload["filters"] = filters
    return rig.call("POST", f"/v1/creators/{creator_id}/search", token, payload)


def found(rig: Rig, creator_id: str, token: str, ids: dict[str, str], filters: Any) -> set[str]:
    reply = search(rig, creator_id, token, filters)
    assert reply.status == 200, reply
    names = {v: k for k, v in ids.items()}
    return {names.get(r["document_id"], r["document_id"]) for r in reply.body["results"]}


def chat(rig: Rig, creator_id: str, token: str, filters: Any = None, **body: Any) -> Any:
    payload = {"message": QUESTION, **body}
    if filters is not None:
        payload["filters"] = filters
    return rig.call("POST", f"/v1/creators/{creator_id}/chat", token, payload)


def cited(reply: Any, ids: dict[str, str]) -> set[str]:
    names = {v: k for k, v in ids.items()}
    return {names.get(c["document_id"], c["document_id"]) for c in reply.body["citations"]}


# ------------------------------------------------------------------------------ ingest
def test_tags_set_at_ingest_reach_the_document_and_every_chunk(rig: Rig):
    creator_id, owner, ids = seed(rig)

    doc = rig.call("GET", f"/v1/creators/{creator_id}/documents/{ids['video-1']}", owner)
    assert doc.body["tags"] == ["module-1", "basics"]
    listed = rig.call("GET", f"/v1/creators/{creator_id}/documents", owner).body["documents"]
    assert {d["title"]: d["tags"] for d in listed}["manual"] == []

    results = search(rig, creator_id, owner).body["results"]
    by_doc = {r["document_id"]: r for r in results}
    assert len(by_doc) == 4
    video = by_doc[ids["video-1"]]
    assert (video["kind"], video["video_id"], video["tags"]) == (
        "vtt",
        VIDEO_1,
        ["module-1", "basics"],
    )
    assert (by_doc[ids["manual"]]["kind"], by_doc[ids["manual"]]["tags"]) == ("markdown", [])


def test_the_same_content_with_other_tags_is_indexed_again_with_them(rig: Rig):
    creator_id, owner, ids = seed(rig)
    notes = DOCUMENTS["notes"]

    same = post_document(rig, creator_id, owner, "notes", **notes)
    assert (same.status, same.body["created"]) == (200, False)  # same content, same tags
    without_tags = {k: v for k, v in notes.items() if k != "tags"}
    kept = post_document(rig, creator_id, owner, "notes", **without_tags)
    assert (kept.status, kept.body["document"]["tags"]) == (200, ["module-2"])  # kept as is
    assert rig.take_jobs() == []

    retagged = post_document(rig, creator_id, owner, "notes", **{**notes, "tags": ["module-3"]})
    assert (retagged.status, retagged.body["created"]) == (202, True)
    assert retagged.body["document"]["tags"] == ["module-3"]
    assert rig.run_ingest() == ["done"]
    assert found(rig, creator_id, owner, ids, {"tags": ["module-3"]}) == {"notes"}
    assert found(rig, creator_id, owner, ids, {"tags": ["module-2"]}) == {"video-2"}

    cleared = post_document(rig, creator_id, owner, "notes", **{**notes, "tags": []})
    assert (cleared.status, cleared.body["document"]["tags"]) == (202, [])
    assert rig.run_ingest() == ["done"]
    assert found(rig, creator_id, owner, ids, {"tags": ["module-3"]}) == set()
    doc = rig.call("GET", f"/v1/creators/{creator_id}/documents/{ids['notes']}", owner)
    assert (doc.body["status"], doc.body["tags"]) == ("done", [])


def test_an_uploaded_document_carries_the_tags_of_its_ticket(rig: Rig):
    creator_id, owner = new_creator(rig)
    caller = Identity("owner", Role.CREATOR, Tier.FREE, creator_id=creator_id)
    data = b"Tamp the espresso puck firmly, then polish it with a quarter turn."
    ticket = ingest_uc.request_upload(
        rig.container,
        caller,
        creator_id,
        title="Tamper manual",
        kind=ingest_uc.DocumentKind.TEXT,
        size_bytes=len(data),
        tags=[" manual ", "tamper"],
    )
    assert ticket.document.tags == ["manual", "tamper"]
    rig.container.blobs.put(ticket.document.blob_key, data)  # what the upload form stores
    ingest_uc.complete_upload(rig.container, caller, creator_id, ticket.document.document_id)
    assert rig.run_ingest() == ["done"]

    reply = search(rig, creator_id, owner, {"tags": ["tamper"]})
    assert [(r["title"], r["tags"]) for r in reply.body["results"]] == [
        ("Tamper manual", ["manual", "tamper"])
    ]


# ------------------------------------------------------------------------------ search
def test_search_filters_narrow_by_tag_kind_and_video(rig: Rig):
    creator_id, owner, ids = seed(rig)

    def names(filters: Any) -> set[str]:
        return found(rig, creator_id, owner, ids, filters)

    assert names(None) == {"video-1", "notes", "manual", "video-2"}
    assert names({}) == names(None)  # an empty filter does not restrict
    assert names({"tags": ["module-1"]}) == {"video-1"}
    assert names({"tags": ["module-1", "module-2"]}) == {"video-1", "notes", "video-2"}
    assert names({"kinds": ["markdown"]}) == {"manual"}
    assert names({"kinds": ["vtt", "srt"]}) == {"video-1", "video-2"}
    assert names({"video_ids": [VIDEO_2]}) == {"video-2"}
    assert names({"video_ids": [VIDEO_1, VIDEO_2], "tags": ["module-2"]}) == {"video-2"}
    assert names({"kinds": ["text"], "tags": ["module-1"]}) == set()  # the facets AND-ed
    assert names({"tags": ["Module-1"]}) == set()  # tags match exactly
    # the video_id field and the filters both apply
    reply = search(rig, creator_id, owner, {"tags": ["module-2"]}, video_id=VIDEO_1)
    assert reply.body["results"] == []
    # answerable hits only (no include_below_gate): still only matching ones
    gated = search(rig, creator_id, owner, {"kinds": ["markdown"]}, include_below_gate=False)
    assert {r["document_id"] for r in gated.body["results"]} == {ids["manual"]}


# -------------------------------------------------------------------------------- chat
def test_chat_with_filters_cites_only_matching_documents(rig: Rig):
    creator_id, _owner, ids = seed(rig)

    def cites(filters: Any, **body: Any) -> set[str]:
        reply = chat(rig, creator_id, rig.token(uid("fan-")), filters, **body)
        assert reply.status == 200, reply
        return cited(reply, ids)

    assert cites(None) == {"video-1", "notes", "manual", "video-2"}
    assert cites({"tags": ["module-2"]}) == {"notes", "video-2"}
    assert cites({"kinds": ["markdown", "text"]}) == {"manual", "notes"}
    assert cites({"video_ids": [VIDEO_1]}) == {"video-1"}
    # watching one video while filtering to another: that video's opening passages, which
    # join the sources when a fan moves to a video, are not cited either
    assert cites({"video_ids": [VIDEO_2]}, video_id=VIDEO_1) == {"video-2"}
    nothing = chat(rig, creator_id, rig.token(uid("fan-")), {"tags": ["nobody-tagged-this"]})
    assert nothing.status == 200 and nothing.body["citations"] == []


def test_the_same_question_with_other_filters_is_never_served_from_the_others_cache(rig: Rig):
    creator_id, _owner, ids = seed(rig)

    def ask(filters: Any) -> tuple[bool, set[str]]:
        reply = chat(rig, creator_id, rig.token(uid("fan-")), filters)
        assert reply.status == 200, reply
        return reply.body["cached"], cited(reply, ids)

    everything = {"video-1", "notes", "manual", "video-2"}
    assert ask(None) == (False, everything)
    assert ask({"tags": ["module-2"]}) == (False, {"notes", "video-2"})  # not the one above
    assert ask({"kinds": ["markdown"]}) == (False, {"manual"})
    # the same filters, however written, share the answer; no filter keeps its own
    assert ask({"tags": ["module-2"]}) == (True, {"notes", "video-2"})
    assert ask({"tags": ["module-2", "module-2"], "kinds": []}) == (True, {"notes", "video-2"})
    assert ask({}) == (True, everything)
    assert ask(None) == (True, everything)

    # a second turn (no response cache): the retrieval-context cache keys on filters too
    fan = rig.token(uid("fan-"))
    first = chat(rig, creator_id, fan)
    thread = first.body["thread_id"]
    again = chat(rig, creator_id, fan, {"video_ids": [VIDEO_2]}, thread_id=thread)
    assert again.status == 200 and cited(again, ids) == {"video-2"}
    unfiltered = chat(rig, creator_id, fan, thread_id=thread)
    assert cited(unfiltered, ids) == everything


def test_a_queued_chat_carries_its_filters_and_the_worker_applies_them(rig: Rig):
    creator_id, _owner, ids = seed(rig)
    fan = rig.token(uid("fan-"))

    reply = chat(rig, creator_id, fan, {"tags": ["module-2", "basics"]}, mode="async")

    assert reply.status == 202, reply
    [job] = rig.take_jobs("llm-jobs")
    assert job["filters"] == {"tags": ["basics", "module-2"]}
    assert answer_queued(rig.container, job, final_attempt=False) == "answered"
    answered = rig.call("GET", reply.body["status_url"], fan)
    assert answered.body["status"] == "answered"
    assert cited(answered, ids) == {"video-1", "notes", "video-2"}  # never the untagged manual

    unfiltered = chat(rig, creator_id, fan, mode="async")
    [job] = rig.take_jobs("llm-jobs")
    assert "filters" not in job
    answer_queued(rig.container, job, final_attempt=False)
    done = rig.call("GET", unfiltered.body["status_url"], fan)
    assert cited(done, ids) == {"video-1", "notes", "manual", "video-2"}


# ------------------------------------------------------------------------------ tenancy
def test_a_filter_never_reaches_another_creators_content(rig: Rig):
    creator_id, owner, ids = seed(rig)
    other_id, other_owner = new_creator(rig)
    # the other creator's documents match every facet the first creator's filters name
    for title, video in (("theirs", VIDEO_1), ("only theirs", "vidTheirsOnly")):
        reply = post_document(
            rig, other_id, other_owner, title, **{**DOCUMENTS["video-1"], "video_id": video}
        )
        assert reply.status == 202, reply
    assert set(rig.run_ingest()) == {"done"}

    mine = found(rig, creator_id, owner, ids, {"video_ids": [VIDEO_1], "tags": ["module-1"]})
    assert mine == {"video-1"}
    assert found(rig, creator_id, owner, ids, {"video_ids": ["vidTheirsOnly"]}) == set()
    fan = rig.token(uid("fan-"))
    reply = chat(rig, creator_id, fan, {"video_ids": ["vidTheirsOnly", VIDEO_1]})
    assert cited(reply, ids) == {"video-1"}
    assert chat(rig, creator_id, fan, {"video_ids": ["vidTheirsOnly"]}).body["citations"] == []
    # and a creator's filters are no way into another creator's preview
    refused = search(rig, other_id, owner, {"tags": ["module-1"]})
    assert refused.status == 403


# --------------------------------------------------------------------------- validation
BAD_FILTERS = [
    {"kinds": ["video"]},  # not a document kind
    {"kinds": "vtt"},
    {"tags": [""]},
    {"tags": ["   "]},
    {"tags": ["x" * 65]},
    {"tags": [f"t{i}" for i in range(21)]},
    {"tags": ["tab\there"]},
    {"tags": "module-1"},
    {"tags": [3]},
    {"video_ids": ["not a video id"]},
    {"video_ids": ["v" * 65]},
    {"video_ids": [f"v{i}" for i in range(51)]},
    {"playlists": ["x"]},  # an unknown facet
    ["module-1"],
]


@pytest.mark.parametrize("filters", BAD_FILTERS, ids=range(len(BAD_FILTERS)))
def test_bad_filters_are_a_422_on_search_and_on_chat(rig: Rig, filters: Any):
    creator_id, owner = new_creator(rig)
    fan = rig.token(uid("fan-"))

    for reply in (search(rig, creator_id, owner, filters), chat(rig, creator_id, fan, filters)):
        assert reply.status == 422, reply
        assert reply.body["error"]["code"] == "invalid_input"


BAD_TAGS = [
    [""],
    ["x" * 65],
    [f"t{i}" for i in range(21)],
    [f"{i:02d}" + "é" * 62 for i in range(20)],  # 20 x 64 characters, but 2,520 bytes
    ["nul\u0000"],
    "basics",
    [["nested"]],
]


@pytest.mark.parametrize("tags", BAD_TAGS, ids=range(len(BAD_TAGS)))
def test_bad_tags_are_a_422_at_ingest(rig: Rig, tags: Any):
    creator_id, owner = new_creator(rig)

    inline = post_document(rig, creator_id, owner, "notes", **{**DOCUMENTS["notes"], "tags": tags})
    upload = post_document(
        rig, creator_id, owner, "pdf", kind="pdf", upload=True, size_bytes=10, tags=tags
    )

    for reply in (inline, upload):
        assert reply.status == 422, reply
        assert reply.body["error"]["code"] == "invalid_input"
    assert rig.take_jobs() == []

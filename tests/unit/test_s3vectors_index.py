"""S3VectorsIndex at its request boundary, then the behaviour contract the other indexes pass.

The boundary truth: a real ``boto3.client("s3vectors")`` with botocore's ``Stubber``, which
validates every request against the service model and compares it with the exact parameters
expected, and answers with responses of the service's own shapes. The contract half runs the
local index's behaviour assertions against the adapter on ``FakeS3Vectors`` (a fake of the
service: see its docstring) and against ``LocalVectorIndex``, side by side.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber
from creator_chat.adapters import keywords
from creator_chat.adapters.aws import s3vectors_index
from creator_chat.adapters.aws.s3vectors_index import S3VectorsIndex, index_name_for
from creator_chat.adapters.embedded import local_index
from creator_chat.adapters.embedded.local_index import LocalVectorIndex
from creator_chat.domain.models import Chunk, SearchFilters
from creator_chat.errors import DependencyUnavailable, InvalidInput
from creator_chat.ports import VectorIndex

from tests.unit.fake_s3vectors import FakeS3Vectors

BUCKET, INDEX = "creator-chat-vectors", "creator-chunks-4"
TARGET = {"vectorBucketName": BUCKET, "indexName": INDEX}
E1, E2 = [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]
PROBE = [0.5, 0.5, 0.5, 0.5]  # 1 / sqrt(4): the keys-only query vector


def chunk(creator: str, cid: str, text: str, **kw: Any) -> Chunk:
    kw.setdefault("document_id", "d1")
    return Chunk(cid, creator, text=text, title="T", **kw)


def metadata(c: Chunk, write_id: str = "w1") -> dict[str, Any]:
    out: dict[str, Any] = {
        "creator_id": c.creator_id,
        "document_id": c.document_id,
        "ordinal": c.ordinal,
        "write_id": write_id,
    }
    if c.video_id is not None:
        out["video_id"] = c.video_id
    if c.kind:
        out["kind"] = c.kind
    if c.tags:
        out["tags"] = list(c.tags)
    out["chunk"] = json.dumps(asdict(c), separators=(",", ":"), ensure_ascii=False)
    return out


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[S3VectorsIndex, Stubber]]:
    client = boto3.client(
        "s3vectors",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ids = iter(["w1", "w2", "w3"])

    class _Id:
        def __init__(self) -> None:
            self.hex = next(ids)

    monkeypatch.setattr(s3vectors_index.uuid, "uuid4", _Id)
    with Stubber(client) as stubber:
        yield S3VectorsIndex(client, BUCKET, INDEX, 4, candidates=3), stubber
        stubber.assert_no_pending_responses()


def query_params(flt: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {**TARGET, "topK": 100, "queryVector": {"float32": PROBE}, "filter": flt, **kw}


# -- request boundary (Stubber) ----------------------------------------------------------


def test_index_name_per_dimension() -> None:
    assert index_name_for("creator-chunks", 1024) == "creator-chunks-1024"


def test_upsert_puts_keys_prefixed_by_creator_with_filterable_and_chunk_metadata(
    stubbed: tuple[S3VectorsIndex, Stubber],
) -> None:
    index, stubber = stubbed
    a = chunk("alice", "d1:0000", "hello", ordinal=0)
    b = chunk("alice", "d1:0001", "world", ordinal=1, video_id="v1", start_s=3.5)
    stubber.add_response(
        "put_vectors",
        {},
        {
            **TARGET,
            "vectors": [
                {"key": "alice#d1:0000", "data": {"float32": E1}, "metadata": metadata(a)},
                # sent unit length: [0, 2, 0, 0] -> E2
                {"key": "alice#d1:0001", "data": {"float32": E2}, "metadata": metadata(b)},
            ],
        },
    )
    index.upsert("alice", [a, b], [E1, [0.0, 2.0, 0.0, 0.0]])


def test_upsert_sends_at_most_500_vectors_per_request() -> None:
    fake = FakeS3Vectors()
    index = S3VectorsIndex(fake, BUCKET, INDEX, 4)
    chunks = [chunk("alice", f"d1:{i:04d}", "x", ordinal=i) for i in range(1001)]
    index.upsert("alice", chunks, [E1] * len(chunks))
    assert fake.calls == ["PutVectors"] * 3
    assert len(fake.vectors) == 1001


def test_search_filters_by_creator_and_video_and_fuses_bm25_over_the_candidates(
    stubbed: tuple[S3VectorsIndex, Stubber],
) -> None:
    index, stubber = stubbed
    mic = chunk("alice", "d1:0000", "my shotgun microphone", video_id="v1")
    other = chunk("alice", "d1:0001", "colour grading", video_id="v1")
    stranger = chunk("mallory", "d9:0000", "shotgun microphone", video_id="v1")
    stubber.add_response(
        "query_vectors",
        {
            "vectors": [
                {"key": "alice#d1:0001", "distance": 0.45, "metadata": metadata(other)},
                {"key": "alice#d1:0000", "distance": 0.5, "metadata": metadata(mic)},
                # never expected from the service (the filter names alice): dropped anyway
                {"key": "mallory#d9:0000", "distance": 0.0, "metadata": metadata(stranger)},
            ],
            "distanceMetric": "cosine",
        },
        {
            **TARGET,
            "topK": 3,  # max(top_k, candidates)
            "queryVector": {"float32": E1},
            "filter": {"$and": [{"creator_id": {"$eq": "alice"}}, {"video_id": {"$eq": "v1"}}]},
            "returnMetadata": True,
            "returnDistance": True,
        },
    )
    hits = index.search("alice", [3.0, 0.0, 0.0, 0.0], "which shotgun mic?", top_k=2, video_id="v1")

    assert [h.chunk for h in hits] == [mic, other]
    assert [h.similarity for h in hits] == pytest.approx([0.5, 0.55])  # 1 - cosine distance
    # the only keyword match is lifted: 0.8 * 0.5 + 0.2 * 1; the other keeps its cosine
    assert hits[0].score == pytest.approx(0.8 * 0.5 + 0.2 * 1.0)
    assert hits[1].score == pytest.approx(0.55)


def test_search_without_video_filters_by_creator_only(
    stubbed: tuple[S3VectorsIndex, Stubber],
) -> None:
    index, stubber = stubbed
    stubber.add_response(
        "query_vectors",
        {"vectors": [], "distanceMetric": "cosine"},
        {
            **TARGET,
            "topK": 10,
            "queryVector": {"float32": E2},
            "filter": {"creator_id": {"$eq": "alice"}},
            "returnMetadata": True,
            "returnDistance": True,
        },
    )
    assert index.search("alice", E2, "anything", top_k=10) == []
    assert index.search("alice", E2, "anything", top_k=0) == []  # no request
    with pytest.raises(InvalidInput):
        index.search("alice", [1.0, 0.0], "x", top_k=1)  # wrong dimension, no request
    with pytest.raises(InvalidInput):
        index.search("al#ice", E1, "x", top_k=1)  # would forge another creator's key prefix


def test_kind_and_tags_are_filterable_metadata_and_filters_join_the_query_filter(
    stubbed: tuple[S3VectorsIndex, Stubber],
) -> None:
    index, stubber = stubbed
    tagged = chunk(
        "alice", "d1:0000", "tamp evenly", kind="vtt", video_id="v1", tags=("module 1", "bäsics")
    )
    sent = metadata(tagged)
    assert (sent["kind"], sent["tags"]) == ("vtt", ["module 1", "bäsics"])
    assert s3vectors_index.NON_FILTERABLE_KEYS == ["chunk"]  # kind and tags are filterable
    stubber.add_response(
        "put_vectors",
        {},
        {
            **TARGET,
            "vectors": [{"key": "alice#d1:0000", "data": {"float32": E1}, "metadata": sent}],
        },
    )
    index.upsert("alice", [tagged], [E1])

    found = {"key": "alice#d1:0000", "distance": 0.1, "metadata": sent}
    stubber.add_response(
        "query_vectors",
        {"vectors": [found], "distanceMetric": "cosine"},
        {
            **TARGET,
            "topK": 3,
            "queryVector": {"float32": E1},
            # inside the query's filter (applied before the nearest are taken), AND-ed with
            # the creator's; a tag matches a vector holding it anywhere in its list ($eq)
            "filter": {
                "$and": [
                    {"creator_id": {"$eq": "alice"}},
                    {"video_id": {"$in": ["v1", "v2"]}},
                    {"kind": {"$in": ["srt", "vtt"]}},
                    {"$or": [{"tags": {"$eq": "bäsics"}}, {"tags": {"$eq": "module 1"}}]},
                ]
            },
            "returnMetadata": True,
            "returnDistance": True,
        },
    )
    filters = SearchFilters(
        video_ids=("v2", "v1"), kinds=("vtt", "srt"), tags=("module 1", "bäsics")
    )
    hits = index.search("alice", E1, "tamp", top_k=2, filters=filters)
    assert [h.chunk for h in hits] == [tagged]
    assert hits[0].chunk.tags == ("module 1", "bäsics")

    # the video_id parameter still applies, next to the filters; one tag is one $eq
    stubber.add_response(
        "query_vectors",
        {"vectors": [], "distanceMetric": "cosine"},
        {
            **TARGET,
            "topK": 3,
            "queryVector": {"float32": E1},
            "filter": {
                "$and": [
                    {"creator_id": {"$eq": "alice"}},
                    {"video_id": {"$eq": "v1"}},
                    {"tags": {"$eq": "module 1"}},
                ]
            },
            "returnMetadata": True,
            "returnDistance": True,
        },
    )
    filters = SearchFilters(tags=("module 1",))
    assert index.search("alice", E1, "tamp", top_k=2, video_id="v1", filters=filters) == []


def test_twenty_tags_of_64_characters_fit_the_filterable_metadata() -> None:
    fake = FakeS3Vectors()
    index = S3VectorsIndex(fake, BUCKET, INDEX, 4)
    tags = tuple(f"{i:02d}" + "t" * 62 for i in range(20))  # the most a document may have
    long_ids = chunk(
        "cr_" + "c" * 60, "doc_" + "d" * 24 + ":9999", "x", kind="youtube_json", ordinal=9999
    )
    big = Chunk(**{**asdict(long_ids), "video_id": "v" * 64, "tags": tags})
    index.upsert(big.creator_id, [big], [E1])
    assert fake.vectors[f"{big.creator_id}#{big.chunk_id}"][1]["tags"] == list(tags)


def test_replace_document_puts_first_then_deletes_older_writes_of_the_document(
    stubbed: tuple[S3VectorsIndex, Stubber],
) -> None:
    index, stubber = stubbed
    new = chunk("alice", "d1:0000", "new")
    stale = {"$and": [
        {"creator_id": {"$eq": "alice"}},
        {"document_id": {"$eq": "d1"}},
        {"write_id": {"$ne": "w1"}},
    ]}  # fmt: skip
    stubber.add_response(
        "put_vectors",
        {},
        {**TARGET, "vectors": [{"key": "alice#d1:0000", "data": {"float32": E1},
                                "metadata": metadata(new)}]},
    )  # fmt: skip
    stubber.add_response(
        "query_vectors",
        {
            "vectors": [{"key": "alice#d1:0001"}, {"key": "alice#d1:0002"}],
            "distanceMetric": "cosine",
        },
        query_params(stale),
    )
    stubber.add_response(
        "delete_vectors", {}, {**TARGET, "keys": ["alice#d1:0001", "alice#d1:0002"]}
    )
    stubber.add_response(
        "query_vectors", {"vectors": [], "distanceMetric": "cosine"}, query_params(stale)
    )
    index.replace_document("alice", "d1", [new], [E1])

    # a racing writer rewrote one of our new keys (another write_id): never deleted, and a
    # round with nothing to delete ends the loop
    stale["$and"][2] = {"write_id": {"$ne": "w2"}}
    stubber.add_response(
        "put_vectors",
        {},
        {**TARGET, "vectors": [{"key": "alice#d1:0000", "data": {"float32": E1},
                                "metadata": metadata(new, "w2")}]},
    )  # fmt: skip
    stubber.add_response(
        "query_vectors",
        {"vectors": [{"key": "alice#d1:0000"}], "distanceMetric": "cosine"},
        query_params(stale),
    )
    index.replace_document("alice", "d1", [new], [E1])

    with pytest.raises(InvalidInput):
        index.replace_document("alice", "d1", [chunk("alice", "x", "x", document_id="d2")], [E1])


def test_delete_document_loops_until_no_key_is_left_and_counts(
    stubbed: tuple[S3VectorsIndex, Stubber],
) -> None:
    index, stubber = stubbed
    doc = {"$and": [{"creator_id": {"$eq": "alice"}}, {"document_id": {"$eq": "d1"}}]}
    first = [{"key": f"alice#d1:{i:04d}"} for i in range(100)]
    stubber.add_response(
        "query_vectors", {"vectors": first, "distanceMetric": "cosine"}, query_params(doc)
    )
    stubber.add_response("delete_vectors", {}, {**TARGET, "keys": [v["key"] for v in first]})
    stubber.add_response(
        "query_vectors",
        {"vectors": [{"key": "alice#d1:0100"}], "distanceMetric": "cosine"},
        query_params(doc),
    )
    stubber.add_response("delete_vectors", {}, {**TARGET, "keys": ["alice#d1:0100"]})
    # a service lagging on deletes returns a deleted key again: the loop stops, no spin
    stubber.add_response(
        "query_vectors",
        {"vectors": [{"key": "alice#d1:0100"}], "distanceMetric": "cosine"},
        query_params(doc),
    )
    assert index.delete_document("alice", "d1") == 101


def test_count_answers_from_one_query_under_100_and_pages_list_vectors_past_it(
    stubbed: tuple[S3VectorsIndex, Stubber],
) -> None:
    index, stubber = stubbed
    own = {"creator_id": {"$eq": "__health__"}}
    stubber.add_response(
        "query_vectors", {"vectors": [], "distanceMetric": "cosine"}, query_params(own)
    )
    assert index.count("__health__") == 0  # the health probe: one small request

    doc = {"$and": [{"creator_id": {"$eq": "alice"}}, {"document_id": {"$eq": "d1"}}]}
    hundred = [{"key": f"alice#d1:{i:04d}"} for i in range(100)]
    stubber.add_response(
        "query_vectors", {"vectors": hundred, "distanceMetric": "cosine"}, query_params(doc)
    )
    d1 = chunk("alice", "d1:0000", "x")
    d2 = chunk("alice", "d2:0000", "x", document_id="d2")
    bob = chunk("bob", "d1:0000", "x")
    stubber.add_response(
        "list_vectors",
        {
            "vectors": [{"key": f"alice#d1:{i:04d}", "metadata": metadata(d1)} for i in range(70)]
            + [{"key": "alice#d2:0000", "metadata": metadata(d2)}],
            "nextToken": "page-2",
        },
        {**TARGET, "maxResults": 1000, "returnMetadata": True},
    )
    stubber.add_response(
        "list_vectors",
        {
            "vectors": [{"key": "bob#d1:0000", "metadata": metadata(bob)}]
            + [{"key": f"alice#d1:{i:04d}", "metadata": metadata(d1)} for i in range(70, 130)]
        },
        {**TARGET, "maxResults": 1000, "returnMetadata": True, "nextToken": "page-2"},
    )
    assert index.count("alice", "d1") == 130


def test_chunks_for_video_asks_for_the_first_ordinals_and_sorts_by_playback(
    stubbed: tuple[S3VectorsIndex, Stubber],
) -> None:
    index, stubber = stubbed
    late = chunk("alice", "d1:0001", "b", ordinal=1, video_id="v1", start_s=60.0)
    early = chunk("alice", "d1:0000", "a", ordinal=0, video_id="v1", start_s=5.0)
    stubber.add_response(
        "query_vectors",
        {
            "vectors": [
                {"key": "alice#d1:0001", "metadata": metadata(late)},
                {"key": "alice#d1:0000", "metadata": metadata(early)},
            ],
            "distanceMetric": "cosine",
        },
        {
            **TARGET,
            "topK": 2,
            "queryVector": {"float32": PROBE},
            "filter": {
                "$and": [
                    {"creator_id": {"$eq": "alice"}},
                    {"video_id": {"$eq": "v1"}},
                    {"ordinal": {"$lt": 2}},
                ]
            },
            "returnMetadata": True,
        },
    )
    assert index.chunks_for_video("alice", "v1", limit=2) == [early, late]
    assert index.chunks_for_video("alice", "v1", limit=0) == []


def test_ensure_index_creates_a_cosine_index_with_the_chunk_non_filterable(
    stubbed: tuple[S3VectorsIndex, Stubber],
) -> None:
    index, stubber = stubbed
    stubber.add_client_error("get_index", "NotFoundException", http_status_code=404)
    stubber.add_response(
        "create_index",
        {"indexArn": f"arn:aws:s3vectors:us-east-1:123456789012:bucket/{BUCKET}/index/{INDEX}"},
        {
            **TARGET,
            "dataType": "float32",
            "dimension": 4,
            "distanceMetric": "cosine",
            "metadataConfiguration": {"nonFilterableMetadataKeys": ["chunk"]},
        },
    )  # fmt: skip
    assert index.ensure_index() is True


def test_service_errors_become_domain_errors(stubbed: tuple[S3VectorsIndex, Stubber]) -> None:
    index, stubber = stubbed
    stubber.add_client_error("query_vectors", "ServiceUnavailableException", http_status_code=503)
    with pytest.raises(DependencyUnavailable):
        index.search("alice", E1, "x", top_k=1)
    stubber.add_client_error("put_vectors", "ValidationException", http_status_code=400)
    with pytest.raises(InvalidInput):
        index.upsert("alice", [chunk("alice", "c", "x")], [E1])


def test_metadata_limits_are_checked_before_sending() -> None:
    index = S3VectorsIndex(FakeS3Vectors(), BUCKET, INDEX, 4)
    with pytest.raises(InvalidInput):
        index.upsert("alice", [chunk("alice", "c", "x" * 40_000)], [E1])
    with pytest.raises(InvalidInput):
        index.upsert("alice", [chunk("alice", "c", "x", document_id="d" * 3000)], [E1])


def test_keyword_scoring_is_the_local_index_analyser_and_fusion() -> None:
    assert keywords.tokenize is local_index.tokenize
    assert s3vectors_index.DEFAULT_DENSE_WEIGHT == local_index.DEFAULT_DENSE_WEIGHT
    rng = np.random.default_rng(3)
    cosines = rng.uniform(-0.2, 1.0, 20).astype(np.float32)
    bm25 = np.where(rng.uniform(size=20) < 0.5, 0.0, rng.uniform(0, 9, 20)).astype(np.float32)
    expected = local_index.hybrid_scores(cosines, bm25, 0.8)
    got = [keywords.hybrid_score(float(c), float(k), float(bm25.max()), 0.8)
           for c, k in zip(cosines, bm25, strict=True)]  # fmt: skip
    assert got == pytest.approx(expected.tolist(), abs=1e-6)
    # the candidates' BM25 equals the local index's over the same texts
    texts = ["shotgun microphone review", "microphone stands", "colour grading in resolve"]
    local = LocalVectorIndex()
    local.upsert(
        "a",
        [Chunk(f"c{i}", "a", "d", t, title="") for i, t in enumerate(texts)],
        [E1, E1, E1],
    )
    want = local._shard("a").bm25(local_index.tokenize("which shotgun microphone"))
    got_kw = keywords.bm25_scores(
        "which shotgun microphone", [keywords.tokenize(f" {t}") for t in texts]
    )
    assert got_kw == pytest.approx(want.tolist(), rel=1e-5)


# -- the behaviour contract, on the fake service and on the local index ---------------------

DIM = 16


def unit(seed: int) -> list[float]:
    vec = np.random.default_rng(seed).normal(size=DIM)
    return [float(x) for x in vec / np.linalg.norm(vec)]


def at_cosine(vec: list[float], cosine: float, seed: int = 99) -> list[float]:
    base = np.array(vec)
    other = np.array(unit(seed)) - base * float(np.dot(unit(seed), base))
    other /= np.linalg.norm(other)
    return [float(x) for x in cosine * base + math.sqrt(1 - cosine**2) * other]


def c(creator: str, cid: str, text: str, *, doc: str = "d1", **kw: Any) -> Chunk:
    return Chunk(cid, creator, doc, text, title="T", **kw)


@pytest.fixture(params=["s3vectors-fake", "local"])
def index(request: pytest.FixtureRequest) -> VectorIndex:
    if request.param == "local":
        return LocalVectorIndex()
    return S3VectorsIndex(FakeS3Vectors(page_size=2), BUCKET, INDEX, DIM)


def test_contract_identical_text_never_crosses_creators(index: VectorIndex) -> None:
    text, vec = "how I light my studio", unit(1)
    index.upsert("alice", [c("alice", "c1", text)], [vec])
    index.upsert("bob", [c("bob", "c1", text)], [vec])
    for creator in ("alice", "bob"):
        hits = index.search(creator, vec, text, top_k=10)
        assert [h.chunk.creator_id for h in hits] == [creator]
    assert index.search("carol", vec, text, top_k=10) == []
    assert (index.count("carol"), index.count("alice"), index.count("bob")) == (0, 1, 1)


def test_contract_upsert_replaces_an_existing_chunk_id(index: VectorIndex) -> None:
    index.upsert("alice", [c("alice", "c1", "old words")], [unit(1)])
    index.upsert("alice", [c("alice", "c1", "new words")], [unit(2)])
    assert index.count("alice") == 1
    query = at_cosine(unit(2), 0.5)
    hit = index.search("alice", query, "new", top_k=5)[0]
    assert hit.chunk.text == "new words"
    assert hit.score == pytest.approx(0.8 * 0.5 + 0.2 * 1.0, abs=1e-5)
    assert index.search("alice", query, "old", top_k=5)[0].score == pytest.approx(0.5, abs=1e-5)


def test_contract_replace_document_swaps_its_chunks_and_keeps_others(index: VectorIndex) -> None:
    index.upsert(
        "alice",
        [c("alice", "a", "old a"), c("alice", "b", "old b"), c("alice", "z", "other", doc="d2")],
        [unit(1), unit(2), unit(3)],
    )
    index.replace_document("alice", "d1", [c("alice", "b", "new b")], [unit(4)])
    assert (index.count("alice", "d1"), index.count("alice", "d2")) == (1, 1)
    assert index.search("alice", unit(4), "", top_k=1)[0].chunk.text == "new b"
    with pytest.raises(InvalidInput):
        index.replace_document("alice", "d1", [c("alice", "q", "x", doc="d2")], [unit(5)])


def test_contract_delete_document_removes_only_that_document(index: VectorIndex) -> None:
    index.upsert(
        "alice",
        [c("alice", "a", "x"), c("alice", "b", "y"), c("alice", "c", "z", doc="d2")],
        [unit(1), unit(2), unit(3)],
    )
    index.upsert("bob", [c("bob", "a", "x")], [unit(1)])
    assert index.delete_document("alice", "d1") == 2
    assert index.delete_document("alice", "d1") == 0
    assert (index.count("alice"), index.count("alice", "d2"), index.count("bob", "d1")) == (1, 1, 1)
    assert [h.chunk.chunk_id for h in index.search("alice", unit(1), "x", top_k=5)] == ["c"]


def test_contract_large_document_delete_and_count(index: VectorIndex) -> None:
    chunks = [c("alice", f"d1:{i:04d}", f"w{i}", ordinal=i) for i in range(230)]
    index.upsert("alice", chunks, [unit(i) for i in range(230)])
    index.upsert("bob", [c("bob", "d1:0000", "x")], [unit(1)])
    assert index.count("alice", "d1") == 230  # past one query's 100: pages through the list
    assert index.delete_document("alice", "d1") == 230
    assert (index.count("alice"), index.count("bob")) == (0, 1)


def test_contract_top_k_and_video_filter_and_playback_order(index: VectorIndex) -> None:
    index.upsert(
        "alice",
        [
            c("alice", "late", "mic", video_id="v1", start_s=60.0, ordinal=1),
            c("alice", "early", "mic", video_id="v1", start_s=5.0, ordinal=0),
            c("alice", "other", "mic", video_id="v2", start_s=0.0),
        ],
        [unit(1), unit(2), unit(3)],
    )
    assert len(index.search("alice", unit(3), "mic", top_k=2)) == 2
    hits = index.search("alice", unit(3), "mic", top_k=5, video_id="v1")
    assert {h.chunk.chunk_id for h in hits} == {"late", "early"}
    assert [x.chunk_id for x in index.chunks_for_video("alice", "v1", limit=5)] == [
        "early",
        "late",
    ]
    assert [x.chunk_id for x in index.chunks_for_video("alice", "v1", limit=1)] == ["early"]
    assert index.chunks_for_video("bob", "v1", limit=5) == []
    assert index.search("alice", unit(3), "mic", top_k=5, video_id="nope") == []


def test_contract_keyword_match_lifts_but_never_lowers_below_the_cosine(
    index: VectorIndex,
) -> None:
    texts = [
        "my favourite shotgun microphone is the rode ntg",
        "colour grading in resolve",
        "editing on a laptop",
        "thumbnails that get clicks",
    ]
    vec = unit(7)
    index.upsert("alice", [c("alice", f"c{i}", t) for i, t in enumerate(texts)], [vec] * 4)
    hits = index.search("alice", at_cosine(vec, 0.5), "which shotgun microphone?", top_k=4)
    assert hits[0].chunk.chunk_id == "c0"
    assert hits[0].score == pytest.approx(0.8 * 0.5 + 0.2 * 1.0, abs=1e-5)
    assert [h.score for h in hits[1:]] == pytest.approx([0.5] * 3, abs=1e-5)
    assert all(h.similarity == pytest.approx(0.5, abs=1e-5) for h in hits)


def test_contract_filters_narrow_by_video_kind_and_any_tag(index: VectorIndex) -> None:
    text = "tamp the puck evenly"
    chunks = [
        c("alice", "a", text, doc="d1", kind="vtt", video_id="v1", tags=("module-1", "basics")),
        c("alice", "b", text, doc="d2", kind="text", tags=("module-2",)),
        c("alice", "m", text, doc="d3", kind="markdown"),
        c("alice", "w", text, doc="d4", kind="srt", video_id="v2", tags=("module-2",)),
    ]
    index.upsert("alice", chunks, [unit(1), unit(2), unit(3), unit(4)])
    # bob's chunk matches every facet below: alice's filtered searches never see it
    bob = c("bob", "a", text, kind="vtt", video_id="v1", tags=("module-1", "module-2"))
    index.upsert("bob", [bob], [unit(1)])

    def found(**facets: tuple[str, ...]) -> set[str]:
        hits = index.search(
            "alice", unit(1), "tamp puck", top_k=10, filters=SearchFilters(**facets)
        )
        assert all(h.chunk.creator_id == "alice" for h in hits)
        return {h.chunk.chunk_id for h in hits}

    assert found() == {"a", "b", "m", "w"}  # an empty filter does not restrict
    assert found(tags=("module-1",)) == {"a"}
    assert found(tags=("module-1", "module-2")) == {"a", "b", "w"}  # any of the tags
    assert found(kinds=("vtt",)) == {"a"}
    assert found(kinds=("markdown", "text")) == {"b", "m"}
    assert found(video_ids=("v1", "v2")) == {"a", "w"}
    assert found(kinds=("srt", "vtt"), tags=("module-2",)) == {"w"}  # facets AND-ed
    assert found(video_ids=("v1",), tags=("module-2",)) == set()
    assert found(tags=("nobody's",)) == set()
    narrowed = index.search(
        "alice", unit(1), "tamp", top_k=10, video_id="v2", filters=SearchFilters(kinds=("vtt",))
    )
    assert narrowed == []  # the video_id parameter and the filters both apply
    [hit] = index.search("alice", unit(1), "", top_k=10, filters=SearchFilters(tags=("basics",)))
    assert (hit.chunk.kind, hit.chunk.tags) == ("vtt", ("module-1", "basics"))
    assert (
        index.search("carol", unit(1), text, top_k=5, filters=SearchFilters(kinds=("vtt",))) == []
    )


def test_contract_a_filtered_search_takes_its_top_k_among_the_matching_chunks(
    index: VectorIndex,
) -> None:
    # 30 chunks nearer to the query than the one tagged chunk: a filter applied after a
    # global top k would return nothing; the filter comes first, so the tagged chunk is found
    near = [c("alice", f"n{i:02d}", "grind size", doc=f"n{i}", kind="vtt") for i in range(30)]
    index.upsert("alice", near, [at_cosine(unit(1), 0.99, seed=i) for i in range(30)])
    far = c("alice", "far", "grind size", doc="far", kind="pdf", tags=("manual",))
    index.upsert("alice", [far], [at_cosine(unit(1), 0.2)])
    for filters in (SearchFilters(tags=("manual",)), SearchFilters(kinds=("pdf",))):
        hits = index.search("alice", unit(1), "grind size", top_k=1, filters=filters)
        assert [h.chunk.chunk_id for h in hits] == ["far"]
        assert hits[0].similarity == pytest.approx(0.2, abs=1e-5)


def test_contract_rejects_chunks_of_another_creator(index: VectorIndex) -> None:
    with pytest.raises(InvalidInput):
        index.upsert("alice", [c("bob", "c1", "x")], [unit(1)])


def test_container_builds_the_adapter_on_the_index_of_the_embedder_dimension(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from creator_chat.container import Container
    from creator_chat.settings import Settings

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    class Embedder:
        dimension = 1024

    settings = Settings(
        storage="aws", vector_index="s3vectors", s3vectors_bucket="creator-chat-dev-vectors"
    )
    container = Container(settings)
    container.overrides["embedder"] = Embedder()
    index = container.index
    assert isinstance(index, S3VectorsIndex)
    assert index._target == {
        "vectorBucketName": "creator-chat-dev-vectors",
        "indexName": "creator-chunks-1024",
    }
    with pytest.raises(RuntimeError, match="CREATOR_CHAT_S3VECTORS_BUCKET"):
        _ = Container(Settings(storage="aws", vector_index="s3vectors")).index

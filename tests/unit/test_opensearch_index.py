"""OpenSearchVectorIndex against a recording fake connection (no server, no network).

The fake answers with responses shaped like OpenSearch's, so these tests pin the exact requests
the adapter sends (mapping, bulk lines, creator filters) and how it reads the answers.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pytest
from botocore.credentials import Credentials
from creator_chat.adapters.aws.opensearch_index import (
    DEFAULT_DENSE_WEIGHT,
    OpenSearchVectorIndex,
    build_opensearch_client,
    hybrid_score,
    index_body,
)
from creator_chat.adapters.embedded import local_index
from creator_chat.domain.models import Chunk, SearchFilters
from creator_chat.errors import DependencyUnavailable, InvalidInput
from creator_chat.ports import VectorIndex
from opensearchpy import Connection, OpenSearch
from opensearchpy.exceptions import ConnectionTimeout

INDEX = "creator-chunks"
Reply = tuple[int, Any]  # (HTTP status, JSON body) or (0, an exception to raise)


class Recorder:
    """What the fake connection saw, and the replies it gives to non-bulk requests, in order."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []  # method, url, decoded body
        self.replies: deque[Reply] = deque()

    def searches(self) -> list[dict[str, Any]]:
        return [body for _, url, body in self.requests if url.endswith("/_search")]

    def bulks(self) -> list[list[dict[str, Any]]]:
        return [body for _, url, body in self.requests if url.endswith("/_bulk")]


class RecordingConnection(Connection):
    def __init__(self, *, recorder: Recorder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recorder = recorder

    def perform_request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
        ignore: Collection[int] = (),
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        text = body.decode() if body else ""
        if url.endswith("/_bulk"):  # every bulk item succeeds
            lines = [json.loads(line) for line in text.splitlines()]
            self.recorder.requests.append((method, url, lines))
            items, i = [], 0
            while i < len(lines):
                op = next(iter(lines[i]))
                items.append({op: {"_id": "generated", "status": 200 if op == "delete" else 201}})
                i += 1 if op == "delete" else 2
            return 200, {}, json.dumps({"took": 1, "errors": False, "items": items})
        self.recorder.requests.append((method, url, json.loads(text) if text else None))
        status, reply = self.recorder.replies.popleft()
        if isinstance(reply, Exception):
            raise reply
        raw = json.dumps(reply)
        if status >= 300:
            self._raise_error(status, raw, "application/json")
        return status, {}, raw


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def index(recorder: Recorder) -> OpenSearchVectorIndex:
    client = OpenSearch(
        hosts=[{"host": "example.aoss.amazonaws.com", "port": 443}],
        connection_class=RecordingConnection,
        recorder=recorder,
        max_retries=0,
    )
    return OpenSearchVectorIndex(client, INDEX, dimension=3)


def hits(*items: dict[str, Any]) -> Reply:
    return 200, {"took": 2, "timed_out": False, "hits": {"hits": list(items)}}


def source(cid: str, **extra: Any) -> dict[str, Any]:
    return {
        "chunk_id": cid, "creator_id": "alice", "document_id": "d1", "text": f"text {cid}",
        "title": "Lighting", "source_url": "https://y.t/v", "kind": "vtt", "ordinal": 0,
        "start_s": 12.5, "end_s": None, "page": None, "heading": "", "video_id": "v1",
        "entry_id": "e", **extra,
    }  # fmt: skip


def test_implements_the_vector_index_port(index: OpenSearchVectorIndex) -> None:
    port: VectorIndex = index
    assert port.count is not None


def test_ensure_index_creates_the_exact_mapping(
    index: OpenSearchVectorIndex, recorder: Recorder
) -> None:
    recorder.replies += [(404, {}), (200, {"acknowledged": True, "index": INDEX})]

    assert index.ensure_index() is True

    (head, url, _), (put, put_url, body) = recorder.requests
    assert (head, url, put, put_url) == ("HEAD", f"/{INDEX}", "PUT", f"/{INDEX}")
    assert body == index_body(3)
    assert body["settings"] == {"index": {"knn": True}}
    props = body["mappings"]["properties"]
    assert props["embedding"] == {
        "type": "knn_vector",
        "dimension": 3,
        "method": {
            "name": "hnsw",
            "engine": "faiss",
            "space_type": "innerproduct",
            "parameters": {"m": 16, "ef_construction": 128},
        },
    }
    for name in ("creator_id", "document_id", "chunk_id", "video_id", "kind", "tags"):
        assert props[name] == {"type": "keyword"}  # what a search filters on: exact terms
    assert props["text"] == {"type": "text"}
    assert {"title", "source_url", "start_s", "end_s", "page"} <= props.keys()


def test_ensure_index_adds_the_tags_field_to_an_index_created_before_it(
    index: OpenSearchVectorIndex, recorder: Recorder
) -> None:
    recorder.replies += [(200, {}), (200, {"acknowledged": True})]

    assert index.ensure_index() is False

    (head, url, _), (put, put_url, body) = recorder.requests
    assert (head, url, put, put_url) == ("HEAD", f"/{INDEX}", "PUT", f"/{INDEX}/_mapping")
    assert body == {"properties": {"tags": {"type": "keyword"}}}  # additive: no reindex


def test_ensure_index_tolerates_a_concurrent_creation(
    index: OpenSearchVectorIndex, recorder: Recorder
) -> None:
    exists = {"error": {"type": "resource_already_exists_exception"}, "status": 400}
    recorder.replies += [(404, {}), (400, exists)]

    assert index.ensure_index() is False


def test_upsert_indexes_without_ids_then_deletes_the_replaced_versions(
    index: OpenSearchVectorIndex, recorder: Recorder
) -> None:
    recorder.replies.append(hits({"_id": "old-1", "_score": None, "sort": ["e1"]}))
    chunks = [Chunk("c1", "alice", "d1", "one", "T"), Chunk("c2", "alice", "d1", "two", "T")]

    index.upsert("alice", chunks, [[3.0, 0.0, 4.0], [0.0, 1.0, 0.0]])

    [lookup] = recorder.searches()
    assert lookup["query"]["bool"]["filter"] == [
        {"term": {"creator_id": "alice"}},
        {"terms": {"chunk_id": ["c1", "c2"]}},
    ]
    index_lines, delete_lines = recorder.bulks()
    actions, docs = index_lines[::2], index_lines[1::2]
    assert actions == [{"index": {"_index": INDEX}}] * 2  # AOSS vector collections: no _id
    assert [(d["creator_id"], d["chunk_id"]) for d in docs] == [("alice", "c1"), ("alice", "c2")]
    assert docs[0]["embedding"] == pytest.approx([0.6, 0.0, 0.8])  # stored at unit length
    assert delete_lines == [{"delete": {"_index": INDEX, "_id": "old-1"}}]


def test_replace_document_indexes_the_new_chunks_before_deleting_the_old(
    index: OpenSearchVectorIndex, recorder: Recorder
) -> None:
    recorder.replies += [hits({"_id": "old-a", "sort": ["e1"]}, {"_id": "old-b", "sort": ["e2"]}),
                         hits({"_id": "old-a", "sort": ["e1"]})]  # fmt: skip

    index.replace_document("alice", "d1", [Chunk("c9", "alice", "d1", "new", "T")], [[1, 0, 0]])

    by_document, by_chunk = recorder.searches()
    assert {"term": {"document_id": "d1"}} in by_document["query"]["bool"]["filter"]
    assert {"term": {"creator_id": "alice"}} in by_chunk["query"]["bool"]["filter"]
    assert [url for _, url, _ in recorder.requests][-2:] == ["/_bulk", "/_bulk"]
    indexed, deleted = recorder.bulks()
    assert indexed[1]["chunk_id"] == "c9"
    assert deleted == [{"delete": {"_index": INDEX, "_id": i}} for i in ("old-a", "old-b")]


def test_writes_refuse_another_creators_chunk(
    index: OpenSearchVectorIndex, recorder: Recorder
) -> None:
    with pytest.raises(InvalidInput):
        index.upsert("alice", [Chunk("c1", "bob", "d1", "x", "T")], [[1.0, 0.0, 0.0]])
    with pytest.raises(InvalidInput):
        index.replace_document("alice", "d1", [Chunk("c1", "bob", "d1", "x", "T")], [[1, 0, 0]])
    assert recorder.requests == []


def test_search_filters_both_queries_by_creator_and_combines_scores(
    index: OpenSearchVectorIndex, recorder: Recorder
) -> None:
    recorder.replies += [
        # k-NN: faiss innerproduct scores are 1 + cosine for a positive cosine
        hits({"_id": "a", "_score": 1.8, "_source": source("c1")},
             {"_id": "b", "_score": 1.2, "_source": source("c2")}),
        # BM25: keyword hits carry their vector, so a keyword-only hit gets an exact cosine
        hits({"_id": "b", "_score": 3.0, "_source": source("c2", embedding=[0.2, 0.98, 0.0])},
             {"_id": "c", "_score": 1.5, "_source": source("c3", embedding=[0.0, 0.0, 1.0])}),
    ]  # fmt: skip

    results = index.search("alice", [1.0, 0.0, 0.0], "lighting", top_k=3, video_id="v1")

    knn, keyword = recorder.searches()
    creator_and_video = [{"term": {"creator_id": "alice"}}, {"term": {"video_id": "v1"}}]
    assert knn["query"]["knn"]["embedding"]["filter"] == {"bool": {"filter": creator_and_video}}
    assert knn["query"]["knn"]["embedding"]["vector"] == [1.0, 0.0, 0.0]
    assert keyword["query"]["bool"]["filter"] == creator_and_video
    assert keyword["query"]["bool"]["must"][0]["multi_match"]["query"] == "lighting"

    assert [(h.chunk.chunk_id, round(h.score, 3), round(h.similarity, 3)) for h in results] == [
        ("c1", 0.8, 0.8),  # no keyword match: the cosine itself, max(0.8, 0.8 * 0.8)
        ("c2", 0.36, 0.2),  # lifted: 0.8 * 0.2 + 0.2 * 3.0 / 3.0
        ("c3", 0.1, 0.0),  # keyword only: 0.2 * 1.5 / 3.0
    ]
    first = results[0].chunk
    assert (first.creator_id, first.start_s, first.video_id) == ("alice", 12.5, "v1")


def test_search_filters_go_inside_the_knn_filter_and_the_keyword_filter(
    index: OpenSearchVectorIndex, recorder: Recorder
) -> None:
    tagged = source("c1", kind="vtt", tags=["module-1", "basics"])
    recorder.replies += [
        hits({"_id": "a", "_score": 1.5, "_source": tagged}),
        hits({"_id": "a", "_score": 2.0, "_source": {**tagged, "embedding": [1.0, 0.0, 0.0]}}),
    ]
    filters = SearchFilters(video_ids=("v2", "v1"), kinds=("vtt", "srt"), tags=("module-1",))

    results = index.search("alice", [1.0, 0.0, 0.0], "tamping", top_k=3, filters=filters)

    knn, keyword = recorder.searches()
    expected = [
        {"term": {"creator_id": "alice"}},
        {"terms": {"video_id": ["v1", "v2"]}},
        {"terms": {"kind": ["srt", "vtt"]}},
        {"terms": {"tags": ["module-1"]}},  # on the tags array: any of them
    ]
    # efficient filtering: the k nearest are taken among the matching chunks, not filtered
    # out of a global top k (no post_filter, no filter outside the knn clause)
    assert knn["query"]["knn"]["embedding"]["filter"] == {"bool": {"filter": expected}}
    assert set(knn) == {"size", "_source", "query"} and set(knn["query"]) == {"knn"}
    assert keyword["query"]["bool"]["filter"] == expected  # the BM25 half, filtered alike
    [hit] = results
    assert (hit.chunk.kind, hit.chunk.tags) == ("vtt", ("module-1", "basics"))


def test_search_with_a_video_id_and_filters_applies_both(
    index: OpenSearchVectorIndex, recorder: Recorder
) -> None:
    recorder.replies += [hits(), hits()]

    index.search(
        "alice", [1.0, 0.0, 0.0], "x", top_k=3, video_id="v1", filters=SearchFilters(tags=("t",))
    )

    knn, keyword = recorder.searches()
    expected = [
        {"term": {"creator_id": "alice"}},
        {"term": {"video_id": "v1"}},
        {"terms": {"tags": ["t"]}},
    ]
    assert knn["query"]["knn"]["embedding"]["filter"] == {"bool": {"filter": expected}}
    assert keyword["query"]["bool"]["filter"] == expected


def test_a_chunk_is_indexed_with_its_tags_and_an_untagged_one_without_the_field(
    index: OpenSearchVectorIndex, recorder: Recorder
) -> None:
    recorder.replies.append(hits())
    chunks = [
        Chunk("c1", "alice", "d1", "one", "T", kind="vtt", tags=("module-1",)),
        Chunk("c2", "alice", "d1", "two", "T", kind="vtt"),
    ]

    index.upsert("alice", chunks, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])

    [index_lines] = recorder.bulks()
    tagged, untagged = index_lines[1::2]
    assert (tagged["kind"], tagged["tags"]) == ("vtt", ["module-1"])
    # (writable to an index whose strict mapping predates the tags field)
    assert "tags" not in untagged and untagged["kind"] == "vtt"


def test_hybrid_score_is_the_local_index_formula() -> None:
    assert DEFAULT_DENSE_WEIGHT == local_index.DEFAULT_DENSE_WEIGHT
    cosines = np.array([-0.3, 0.0, 0.1, 0.35, 0.5, 0.8, 1.0, 0.2], dtype=np.float32)
    bm25 = np.array([4.0, 0.0, 8.0, 2.0, 1.0, 0.0, 8.0, 6.0], dtype=np.float32)
    for w in (0.0, 0.5, 0.8, 1.0):
        local = local_index.hybrid_scores(cosines, bm25, w)
        pairs = zip(cosines.tolist(), bm25.tolist(), strict=True)
        remote = [hybrid_score(c, k, 8.0, w) for c, k in pairs]
        assert local.tolist() == pytest.approx(remote, abs=1e-6)
    assert local_index.hybrid_scores(cosines, np.zeros(8, dtype=np.float32), 0.8).tolist() == (
        pytest.approx([hybrid_score(float(c), 0.0, 0.0, 0.8) for c in cosines])
    )


def test_keyword_evidence_lifts_a_hit_but_never_lowers_it() -> None:
    w = DEFAULT_DENSE_WEIGHT
    assert hybrid_score(0.6, 0.0, 5.0, w) == pytest.approx(0.6)  # no shared word: no penalty
    assert hybrid_score(0.6, 1.0, 5.0, w) == pytest.approx(0.6)  # weaker keyword evidence
    assert hybrid_score(0.3, 5.0, 5.0, w) == pytest.approx(0.3 + (1 - w) * 0.7)  # best match
    assert hybrid_score(-0.2, 5.0, 5.0, w) == pytest.approx(1 - w)  # keyword only
    assert hybrid_score(1.0, 5.0, 5.0, w) == pytest.approx(1.0)  # stays within [0, 1]


def test_delete_document_finds_ids_by_filter_then_bulk_deletes(
    index: OpenSearchVectorIndex, recorder: Recorder
) -> None:
    recorder.replies.append(hits({"_id": "x1", "sort": ["e1"]}, {"_id": "x2", "sort": ["e2"]}))

    assert index.delete_document("alice", "d1") == 2

    [lookup] = recorder.searches()
    assert lookup["query"]["bool"]["filter"] == [
        {"term": {"creator_id": "alice"}},
        {"term": {"document_id": "d1"}},
    ]
    assert recorder.bulks() == [
        [{"delete": {"_index": INDEX, "_id": "x1"}}, {"delete": {"_index": INDEX, "_id": "x2"}}]
    ]
    assert all("_delete_by_query" not in url for _, url, _ in recorder.requests)


def test_count_is_scoped_by_creator(index: OpenSearchVectorIndex, recorder: Recorder) -> None:
    recorder.replies.append((200, {"count": 7}))

    assert index.count("alice") == 7
    assert recorder.requests == [
        ("POST", f"/{INDEX}/_count",
         {"query": {"bool": {"filter": [{"term": {"creator_id": "alice"}}]}}}),
    ]  # fmt: skip


def test_a_timeout_becomes_dependency_unavailable(
    index: OpenSearchVectorIndex, recorder: Recorder
) -> None:
    recorder.replies.append((0, ConnectionTimeout("TIMEOUT", "read timed out", None)))
    with pytest.raises(DependencyUnavailable):
        index.search("alice", [1.0, 0.0, 0.0], "q", top_k=5)


def test_a_server_error_becomes_dependency_unavailable(
    index: OpenSearchVectorIndex, recorder: Recorder
) -> None:
    recorder.replies.append((503, {"error": {"type": "unavailable"}, "status": 503}))
    with pytest.raises(DependencyUnavailable):
        index.count("alice")


def test_client_factory_signs_for_aoss_over_https() -> None:
    endpoint = "https://abc123.us-east-1.aoss.amazonaws.com"
    client = build_opensearch_client(endpoint, "us-east-1", credentials=Credentials("a", "b"))

    [connection] = client.transport.connection_pool.connections
    assert client.transport.hosts == [{"host": "abc123.us-east-1.aoss.amazonaws.com", "port": 443}]
    assert connection.session.auth.service == "aoss"
    assert connection.use_ssl

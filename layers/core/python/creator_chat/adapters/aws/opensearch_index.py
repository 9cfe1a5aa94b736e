"""``VectorIndex`` on Amazon OpenSearch Serverless (AOSS): one index, every query by creator_id.

Designed within what a VECTORSEARCH collection allows (AWS "Supported operations" page and the
vector-search collection notes, as we understand them):

- **No custom document ids** on index/create and no update/upsert by id: documents are
  indexed without ``_id`` and OpenSearch assigns one. Our own ids live in the source
  (``chunk_id``, plus a per-write ``entry_id`` used as a stable sort key for pagination).
  So ``upsert`` = find the ``_id``s already holding these chunk ids → bulk-index the new
  versions → bulk-delete the old ``_id``s. Indexing before deleting means a reader never sees
  a chunk missing, at worst briefly twice: ``search`` keeps one hit per chunk id.
- **No ``_delete_by_query``**: ``delete_document`` searches the ``_id``s (paginated with
  ``search_after``; no scroll/PIT needed) and bulk-deletes them by ``_id``.
- **No ``refresh``** parameter: writes become searchable after a short delay (seconds), so a
  ``count`` right after a write may lag, and an upsert racing an earlier, not yet visible
  write of the same chunk can leave a duplicate (collapsed at search time).
- Settings limited to what AOSS accepts: only ``index.knn``; no shard/replica settings.
- k-NN: ``faiss`` HNSW (the engine AOSS supports with efficient filtering), ``innerproduct``
  space on unit vectors (= cosine). The ``creator_id`` term filter sits *inside* the knn
  ``filter`` (efficient filtering), so the k nearest are taken among this creator's chunks
  only, never post-filtered out of a global top k. A search's ``video_id`` and
  ``SearchFilters`` (``terms`` on the keyword fields ``video_id``, ``kind`` and ``tags``; a
  ``terms`` on the ``tags`` array matches a chunk holding any of them) join it there, and in
  the keyword query's ``bool.filter``: a narrow filter still gets its k nearest.
- The mapping is ``strict``: a field added since an index was created (``tags``) is added to
  it by ``ensure_index`` (``PUT <index>/_mapping``, additive), before any chunk carries it.
- Hybrid: AOSS search pipelines with a normalisation processor are not something we rely on,
  so the k-NN query and a BM25 ``multi_match`` query (both filtered by creator) are sent as two
  ``_search`` calls and combined client-side with the local index's formula
  (:func:`hybrid_score`): the absolute cosine, recovered from the faiss inner-product score,
  lifted towards the max-normalised BM25 score where that is higher (see ``local_index`` for
  the formula and the measurements behind it). Keyword-only hits carry their stored vector so
  their cosine is exact too. The inputs differ in scope, not in formula: OpenSearch's BM25
  takes its statistics from the whole index (all creators) and its standard analyser, the
  local one from the creator's chunks and ``local_index.tokenize``.

Pure Python (no numpy): this module runs in Lambda, where a few hundred floats per query do
not justify numpy's size and import time.

Transport errors, timeouts and bulk failures surface as ``DependencyUnavailable``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any
from urllib.parse import urlparse

from opensearchpy import OpenSearch
from opensearchpy.exceptions import OpenSearchException, RequestError
from opensearchpy.helpers import bulk

from creator_chat.domain.models import Chunk, SearchFilters, SearchHit
from creator_chat.errors import DependencyUnavailable, InvalidInput

VECTOR_FIELD = "embedding"
_PAGE = 1000  # ids per page when collecting _ids to delete
_TERMS_BATCH = 500  # chunk ids per terms query
_MAX_BULK_BYTES = 8 * 1024 * 1024  # well under AOSS/API request-size limits
_SOURCE_FIELDS = list(Chunk.__dataclass_fields__)


DEFAULT_DENSE_WEIGHT = 0.8  # = local_index.DEFAULT_DENSE_WEIGHT


def hybrid_score(cosine: float, keyword: float, max_keyword: float, dense_weight: float) -> float:
    """The score both adapters give a hit, in [0, 1] (``local_index.hybrid_scores``, per hit).

    The absolute cosine, lifted by ``1 - dense_weight`` of the gap to the max-normalised BM25
    score when that is higher: ``max(dense, w * dense + (1 - w) * keyword)``, never below the
    cosine.
    """
    dense = min(max(cosine, 0.0), 1.0)
    if max_keyword <= 0.0:
        return dense
    kw = keyword / max_keyword
    return max(dense, dense_weight * dense + (1.0 - dense_weight) * kw)


def unit(values: Sequence[float]) -> list[float]:
    """``values`` scaled to unit length (a zero vector stays zero)."""
    floats = [float(v) for v in values]
    norm = math.sqrt(math.fsum(v * v for v in floats))
    return [v / norm for v in floats] if norm > 0.0 else floats


def build_opensearch_client(
    endpoint: str,
    region: str,
    *,
    timeout_s: float = 5.0,
    max_retries: int = 2,
    credentials: Any = None,
) -> OpenSearch:
    """A SigV4-signed (service ``aoss``) client for a collection endpoint (https URL or host)."""
    from opensearchpy import AWSV4SignerAuth, RequestsHttpConnection

    if credentials is None:
        import boto3

        credentials = boto3.Session().get_credentials()
        if credentials is None:
            raise DependencyUnavailable("no AWS credentials to sign OpenSearch requests")
    parsed = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
    return OpenSearch(
        hosts=[{"host": parsed.hostname, "port": parsed.port or 443}],
        http_auth=AWSV4SignerAuth(credentials, region, "aoss"),
        use_ssl=parsed.scheme == "https",
        verify_certs=True,
        connection_class=RequestsHttpConnection,
        pool_maxsize=16,
        timeout=timeout_s,
        max_retries=max_retries,
        retry_on_timeout=True,
    )


# Fields added to the mapping after indexes were first created: ``ensure_index`` adds them
# to an existing index (a strict mapping refuses a document with a field it does not know).
ADDED_FIELDS: dict[str, Any] = {"tags": {"type": "keyword"}}


def index_body(dimension: int) -> dict[str, Any]:
    """Settings and mappings of the chunk index."""
    keyword = {"type": "keyword"}
    return {
        "settings": {"index": {"knn": True}},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                VECTOR_FIELD: {
                    "type": "knn_vector",
                    "dimension": dimension,
                    "method": {
                        "name": "hnsw",
                        "engine": "faiss",
                        "space_type": "innerproduct",
                        "parameters": {"m": 16, "ef_construction": 128},
                    },
                },
                "creator_id": keyword,
                "document_id": keyword,
                "chunk_id": keyword,
                "video_id": keyword,
                "entry_id": keyword,
                "kind": keyword,
                **ADDED_FIELDS,
                "text": {"type": "text"},
                "title": {"type": "text"},
                "heading": {"type": "text"},
                "source_url": {"type": "keyword", "index": False},
                "ordinal": {"type": "integer"},
                "start_s": {"type": "float"},
                "end_s": {"type": "float"},
                "page": {"type": "integer"},
                # read back with the chunk, never searched
                "cue_offsets": {"type": "integer", "index": False},
                "cue_starts": {"type": "float", "index": False},
            },
        },
    }


def cosine_from_knn_score(score: float) -> float:
    """The inner product (= cosine on unit vectors) behind a faiss ``innerproduct`` k-NN score.

    OpenSearch maps an inner product ``ip`` to ``1 + ip`` when ``ip >= 0`` and to
    ``1 / (1 - ip)`` otherwise, so scores are positive; this inverts that mapping.
    """
    if score >= 1.0:
        return score - 1.0
    if score <= 0.0:
        return -1.0
    return 1.0 - 1.0 / score


class OpenSearchVectorIndex:
    """Chunks of every creator in one AOSS index; see the module docstring for the design."""

    def __init__(
        self,
        client: OpenSearch,
        index_name: str,
        dimension: int,
        *,
        dense_weight: float = DEFAULT_DENSE_WEIGHT,
        candidates: int = 20,
    ) -> None:
        self._client = client
        self._index = index_name
        self._dimension = dimension
        self._dense_weight = dense_weight
        self._candidates = candidates  # per query, at least top_k

    def ensure_index(self) -> bool:
        """Create the index if it does not exist (True), else add any field of
        ``ADDED_FIELDS`` its mapping lacks (an additive, idempotent mapping update)."""
        with _unavailable("create index"):
            if self._client.indices.exists(index=self._index):
                self._client.indices.put_mapping(
                    index=self._index, body={"properties": ADDED_FIELDS}
                )
                return False
            try:
                self._client.indices.create(index=self._index, body=index_body(self._dimension))
            except RequestError as exc:  # another process created it between the two calls
                if exc.error != "resource_already_exists_exception":
                    raise
                return False
            return True

    # -- VectorIndex ---------------------------------------------------------------------

    def upsert(
        self, creator_id: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]
    ) -> None:
        """Index chunks; older versions of the same chunk ids are deleted afterwards."""
        self._check(creator_id, chunks, vectors)
        if chunks:
            old_ids = self._ids_of_chunks(creator_id, [c.chunk_id for c in chunks])
            self._index_then_delete(chunks, vectors, old_ids)

    def replace_document(
        self,
        creator_id: str,
        document_id: str,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]],
    ) -> None:
        """Index the new chunks first, then delete every older entry of the document.

        Readers never see the document with no chunks; for a moment (the AOSS refresh delay
        plus one bulk call) they may see old and new together.
        """
        self._check(creator_id, chunks, vectors)
        if any(c.document_id != document_id for c in chunks):
            raise InvalidInput("chunk belongs to another document")
        old_ids = list(self._ids_matching(creator_id, {"term": {"document_id": document_id}}))
        old_ids += self._ids_of_chunks(creator_id, [c.chunk_id for c in chunks])
        self._index_then_delete(chunks, vectors, list(dict.fromkeys(old_ids)))

    def delete_document(self, creator_id: str, document_id: str) -> int:
        ids = list(self._ids_matching(creator_id, {"term": {"document_id": document_id}}))
        self._delete_ids(ids)
        return len(ids)

    def search(
        self,
        creator_id: str,
        vector: Sequence[float],
        query_text: str,
        *,
        top_k: int,
        video_id: str | None = None,
        filters: SearchFilters | None = None,
    ) -> list[SearchHit]:
        """Hybrid search within one creator, best first; ``score`` in [0, 1], ``similarity``
        the raw cosine to ``vector``. ``video_id`` and ``filters`` narrow both queries,
        inside the k-NN ``filter`` (efficient filtering, not a post-filter)."""
        if top_k <= 0:
            return []
        query = unit(vector)
        if len(query) != self._dimension:
            raise InvalidInput(f"query dimension {len(query)} != {self._dimension}")
        size = max(top_k, self._candidates)
        clauses = _filters(creator_id, video_id, filters)
        knn_body = {
            "size": size,
            "_source": {"excludes": [VECTOR_FIELD]},
            "query": {
                "knn": {
                    VECTOR_FIELD: {
                        "vector": query,
                        "k": size,
                        "filter": {"bool": {"filter": clauses}},
                    }
                }
            },
        }
        with _unavailable("k-NN search"):
            knn_hits = self._client.search(index=self._index, body=knn_body)["hits"]["hits"]

        chunks: dict[str, Chunk] = {}
        cosine: dict[str, float] = {}
        for hit in knn_hits:
            chunk = _chunk(hit["_source"])
            if chunk.chunk_id not in cosine:
                chunks[chunk.chunk_id] = chunk
                cosine[chunk.chunk_id] = cosine_from_knn_score(float(hit["_score"]))

        keyword: dict[str, float] = {}
        if query_text.strip():
            kw_body = {
                "size": size,
                "query": {
                    "bool": {
                        "must": [
                            {
                                "multi_match": {
                                    "query": query_text,
                                    "fields": ["text", "title", "heading"],
                                }
                            }
                        ],
                        "filter": clauses,
                    }
                },
            }
            with _unavailable("keyword search"):
                kw_hits = self._client.search(index=self._index, body=kw_body)["hits"]["hits"]
            for hit in kw_hits:
                chunk, bm25 = _chunk(hit["_source"]), float(hit["_score"])
                keyword[chunk.chunk_id] = max(keyword.get(chunk.chunk_id, 0.0), bm25)
                if chunk.chunk_id not in cosine:
                    chunks[chunk.chunk_id] = chunk
                    stored = unit(hit["_source"][VECTOR_FIELD])  # the mapping fixes its length
                    pairs = zip(stored, query, strict=True)
                    cosine[chunk.chunk_id] = math.fsum(a * b for a, b in pairs)

        max_kw = max(keyword.values(), default=0.0)
        scored = [
            (
                hybrid_score(cosine[cid], keyword.get(cid, 0.0), max_kw, self._dense_weight),
                cid,
            )
            for cid in chunks
        ]
        scored.sort(key=lambda sc: (-sc[0], sc[1]))
        return [SearchHit(chunks[cid], score, cosine[cid]) for score, cid in scored[:top_k]]

    def chunks_for_video(self, creator_id: str, video_id: str, *, limit: int) -> list[Chunk]:
        """The video's chunks in playback order (start time, then ordinal), at most ``limit``."""
        if limit <= 0:
            return []
        body = {
            "size": limit,
            "_source": {"excludes": [VECTOR_FIELD]},
            "query": {"bool": {"filter": _filters(creator_id, video_id)}},
            "sort": [
                {"start_s": {"order": "asc", "missing": "_last"}},
                {"ordinal": {"order": "asc"}},
                {"chunk_id": {"order": "asc"}},
            ],
        }
        with _unavailable("video chunks"):
            hits = self._client.search(index=self._index, body=body)["hits"]["hits"]
        seen: dict[str, Chunk] = {}
        for hit in hits:
            chunk = _chunk(hit["_source"])
            seen.setdefault(chunk.chunk_id, chunk)
        return list(seen.values())

    def count(self, creator_id: str, document_id: str | None = None) -> int:
        filters = _filters(creator_id, None)
        if document_id is not None:
            filters.append({"term": {"document_id": document_id}})
        with _unavailable("count"):
            resp = self._client.count(
                index=self._index, body={"query": {"bool": {"filter": filters}}}
            )
        return int(resp["count"])

    # -- helpers -------------------------------------------------------------------------

    def _check(
        self, creator_id: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]
    ) -> None:
        if len(chunks) != len(vectors):
            raise InvalidInput("one vector per chunk is required")
        if any(c.creator_id != creator_id for c in chunks):
            raise InvalidInput("chunk belongs to another creator")

    def _index_then_delete(
        self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], old_ids: Sequence[str]
    ) -> None:
        # Index first, delete after: a failure in between leaves duplicates (collapsed by
        # chunk id at search time and removed by the retry), never a gap.
        latest = {c.chunk_id: (c, v) for c, v in zip(chunks, vectors, strict=True)}
        actions = [
            {"_op_type": "index", "_index": self._index, "_source": self._source(c, v)}
            for c, v in latest.values()
        ]
        if actions:
            self._bulk(actions)
        self._delete_ids(old_ids)

    def _source(self, chunk: Chunk, vector: Sequence[float]) -> dict[str, Any]:
        vec = unit(vector)
        if len(vec) != self._dimension:
            raise InvalidInput(f"vector dimension {len(vec)} != {self._dimension}")
        doc = asdict(chunk)
        if not doc["tags"]:
            # untagged chunks stay writable to an index created before ``tags`` was mapped
            del doc["tags"]
        doc["entry_id"] = uuid.uuid4().hex
        doc[VECTOR_FIELD] = vec
        return doc

    def _ids_of_chunks(self, creator_id: str, chunk_ids: Sequence[str]) -> list[str]:
        unique = sorted(set(chunk_ids))
        ids: list[str] = []
        for i in range(0, len(unique), _TERMS_BATCH):
            batch = unique[i : i + _TERMS_BATCH]
            ids.extend(self._ids_matching(creator_id, {"terms": {"chunk_id": batch}}))
        return ids

    def _ids_matching(self, creator_id: str, clause: Mapping[str, Any]) -> Iterator[str]:
        """``_id``s of this creator's documents matching ``clause``, page by page."""
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": _PAGE,
                "_source": False,
                "query": {"bool": {"filter": [{"term": {"creator_id": creator_id}}, clause]}},
                "sort": [{"entry_id": "asc"}],
            }
            if after is not None:
                body["search_after"] = after
            with _unavailable("id lookup"):
                hits = self._client.search(index=self._index, body=body)["hits"]["hits"]
            for hit in hits:
                yield hit["_id"]
            if len(hits) < _PAGE:
                return
            after = hits[-1]["sort"]

    def _delete_ids(self, ids: Sequence[str]) -> None:
        if ids:
            actions = [{"_op_type": "delete", "_index": self._index, "_id": i} for i in ids]
            self._bulk(actions, ignore_status=(404,))  # already gone is fine

    def _bulk(self, actions: list[dict[str, Any]], ignore_status: tuple[int, ...] = ()) -> None:
        try:
            bulk(
                self._client,
                actions,
                max_chunk_bytes=_MAX_BULK_BYTES,
                ignore_status=ignore_status,
            )
        except OpenSearchException as exc:  # BulkIndexError included
            raise DependencyUnavailable(f"OpenSearch bulk write failed: {exc}") from exc


def _filters(
    creator_id: str, video_id: str | None, filters: SearchFilters | None = None
) -> list[dict[str, Any]]:
    """The creator's term first (every query has it), then each narrowing: AND-ed clauses
    for a ``bool.filter``; a ``terms`` clause matches any of its values."""
    clauses: list[dict[str, Any]] = [{"term": {"creator_id": creator_id}}]
    if video_id is not None:
        clauses.append({"term": {"video_id": video_id}})
    if filters:
        for name, values in (
            ("video_id", filters.video_ids),
            ("kind", filters.kinds),
            ("tags", filters.tags),
        ):
            if values:
                clauses.append({"terms": {name: list(values)}})
    return clauses


def _chunk(source: Mapping[str, Any]) -> Chunk:
    return Chunk(**{k: source[k] for k in _SOURCE_FIELDS if k in source})


@contextmanager
def _unavailable(action: str) -> Iterator[None]:
    """Turn any OpenSearch client error (transport, timeout, HTTP error) into a domain error."""
    try:
        yield
    except OpenSearchException as exc:
        raise DependencyUnavailable(f"OpenSearch {action} failed: {exc}") from exc

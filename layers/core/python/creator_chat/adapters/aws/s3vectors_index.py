"""``VectorIndex`` on Amazon S3 Vectors: one vector bucket, one index per embedding dimension.

Shapes are botocore's ``s3vectors`` service model (PutVectors, QueryVectors, DeleteVectors,
ListVectors, GetIndex, CreateIndex); limits are the S3 Vectors user guide's (PutVectors and
DeleteVectors up to 500 vectors, QueryVectors ``topK`` up to 100, filterable metadata up to
2 KB per vector, all metadata up to 40 KB, ListVectors pages up to 1,000 keys).

- **Keys** are ``<creator_id>#<chunk_id>``: chunk ids (``<document_id>:<ordinal>``) are unique
  per creator, keys must be unique per index, so the creator prefix keeps two tenants' equal
  chunk ids apart (a creator id may not contain ``#``). ``upsert`` of an existing chunk id
  overwrites its key in place (PutVectors replaces a vector with the same key).
- **Tenancy**: every query carries a ``creator_id`` metadata filter, and a returned vector
  whose key or metadata names another creator is dropped (and logged) all the same.
- **Metadata**: filterable ``creator_id``, ``document_id``, ``video_id`` (when set),
  ``kind``, ``tags`` (a list, when the document has tags), ``ordinal`` and ``write_id`` (a
  fresh id per write call) — under 2 KB, since a document's tags are capped at 1,280 bytes
  (``domain.models.MAX_TAG_BYTES``); the chunk itself (text, title, times, cue offsets ...)
  as JSON under ``chunk``, the index's one non-filterable key (``ensure_index`` and the CDK
  index declare it; every other key is filterable by default), checked against the 40 KB
  total.
- **Search filters** (``SearchFilters``) join the creator's in the QueryVectors ``filter``,
  so they apply before the nearest neighbours are taken (ENHANCED index, below): ``$in`` on
  ``video_id`` and ``kind``, and for tags ``$eq`` per tag (``$or``-ed), which on a list
  matches a vector holding that tag anywhere in it (the documented array semantics of
  ``$eq``). Vectors written before ``kind`` was filterable metadata lack it: a ``kinds``
  filter skips them until their document is indexed again (posted with other content or
  tags, or deleted and posted again).
- **Filters need an ENHANCED index** (the mode of every index of a vector bucket created since
  2026-09-30; older ones can be switched with UpdateIndexMode): it applies the filter before
  the vector search, so a small creator in a shared index still gets its top k. A CLASSIC
  index filters during the search and can return fewer than ``topK`` matches for a selective
  filter — the adapter would then under-retrieve and under-delete.
- **No delete-by-filter, and ListVectors has no prefix** (listing a document's keys would scan
  every creator's vectors). Deleting a document is therefore a loop of QueryVectors filtered
  by creator and document (``topK`` 100, keys only) then DeleteVectors of the keys returned,
  until a query returns none: ``ceil(n / 100)`` + 1 queries and as many deletes for ``n``
  chunks, whatever the size of the index. ``replace_document`` puts the new chunks first (one
  ``write_id``), then runs the same loop with ``write_id != new`` added to the filter, never
  deleting a key of the new chunks, so readers never see the document with no chunks (for a
  moment, old and new together). A round with nothing new to delete ends the loop (a service
  lagging on deletes must not spin it; the next replace or delete finishes the job). Two
  replaces of one document racing can delete the tail of the other's chunks; the ingest use
  case already re-runs the current version of an overtaken write
  (``_repair_overtaken_write``).
- **Keyword half**: S3 Vectors has no keyword search. ``search`` asks for
  ``max(top_k, candidates)`` nearest chunks (default 20, at most 100) and scores BM25 over
  those candidates' title, heading and text in process (the local index's analyser and Okapi
  parameters, ``adapters.keywords``; document frequencies from the candidates), then fuses it
  with the cosine by the one ``hybrid_score`` every index uses. A chunk the vector search did
  not return cannot be lifted by its keywords, and a word's rarity is judged among the
  candidates only. Measured on the Python FAQ dev set (``bench/eval_retrieval.py``'s set and
  replica: 179 questions, MiniLM, default chunker, 253 chunks, per document, top 10; R@1 /
  R@5 / MRR@10), this adapter on an in-memory fake of the service (exact nearest neighbours)
  against the local index: full hybrid 0.782 / 0.950 / 0.848, dense only 0.765 / 0.939 /
  0.845, dense top 20 + BM25 over them 0.777 / 0.944 / 0.845 (top 10: the same; top 30:
  0.754 / 0.933 / 0.833; top 50: 0.771 / 0.939 / 0.841; top 100: 0.777 / 0.950 / 0.846).
  So the keyword half here is worth about what dense alone is worth on this set (its gain
  over dense in the full hybrid is itself within the noise of 179 questions), and the
  candidate count moves MRR by about 0.01 either way: 20, the OpenSearch adapter's
  candidate count, is kept (``CREATOR_CHAT_S3VECTORS_CANDIDATES``).
- Distances: the index is ``cosine``; QueryVectors returns the cosine *distance*, so the
  cosine is ``1 - distance``. Vectors are sent unit length (the service keeps float32).
- Permissions, on the index ARN: reading needs ``s3vectors:QueryVectors`` and
  ``s3vectors:GetVectors`` (a filtered query, or one returning metadata, needs both);
  writing adds ``PutVectors`` and ``DeleteVectors``; ``count`` past 100 adds ``ListVectors``;
  ``ensure_index`` ``GetIndex`` and ``CreateIndex``. Newer API versions than botocore 1.43's
  model add QueryVectors pagination and a per-query ``queryMode``; neither is used here.
- ``count`` (health probe, admin): one filtered query of ``topK`` 100 answers a count under
  100 exactly; past that it pages through ListVectors (the whole index: admin use only).
- ``chunks_for_video`` cannot sort server-side: it queries the video's chunks with
  ``ordinal < limit`` (a video's chunks come from one transcript, numbered in playback order)
  and sorts them by start time, then ordinal.

Pure Python (no numpy): this module runs in Lambda. Client and service errors surface as
``DependencyUnavailable`` (a ``ValidationException`` as ``InvalidInput``).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from creator_chat.adapters.keywords import bm25_scores, hybrid_score, tokenize
from creator_chat.domain.models import Chunk, SearchFilters, SearchHit
from creator_chat.errors import DependencyUnavailable, InvalidInput
from creator_chat.observability import logger

DEFAULT_DENSE_WEIGHT = 0.8  # = local_index.DEFAULT_DENSE_WEIGHT
DEFAULT_CANDIDATES = 20
CHUNK_KEY = "chunk"  # the one non-filterable metadata key
NON_FILTERABLE_KEYS = [CHUNK_KEY]
MAX_TOP_K = 100  # QueryVectors topK
MAX_WRITE_BATCH = 500  # PutVectors / DeleteVectors
MAX_LIST_PAGE = 1000  # ListVectors maxResults
MAX_FILTERABLE_BYTES = 2 * 1024
MAX_METADATA_BYTES = 40 * 1024
_SEPARATOR = "#"
_CHUNK_FIELDS = frozenset(Chunk.__dataclass_fields__)


def index_name_for(base: str, dimension: int) -> str:
    """The index of one embedding dimension (a model change with another dimension gets a
    new index next to the old one): ``creator-chunks-1024``."""
    return f"{base}-{dimension}"


def vector_key(creator_id: str, chunk_id: str) -> str:
    return f"{creator_id}{_SEPARATOR}{chunk_id}"


def unit(values: Sequence[float]) -> list[float]:
    """``values`` scaled to unit length (a zero vector stays zero)."""
    floats = [float(v) for v in values]
    norm = math.sqrt(math.fsum(v * v for v in floats))
    return [v / norm for v in floats] if norm > 0.0 else floats


class S3VectorsIndex:
    """Chunks of every creator in one S3 Vectors index; see the module docstring."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        index_name: str,
        dimension: int,
        *,
        dense_weight: float = DEFAULT_DENSE_WEIGHT,
        candidates: int = DEFAULT_CANDIDATES,
    ) -> None:
        if not 1 <= candidates <= MAX_TOP_K:
            raise ValueError(f"candidates must be within [1, {MAX_TOP_K}]")
        self._client = client
        self._target = {"vectorBucketName": bucket, "indexName": index_name}
        self._dimension = dimension
        self._dense_weight = dense_weight
        self._candidates = candidates
        # the vector a keys-only query (delete, count, video chunks) is sent with: any
        # non-zero vector will do, the filter picks the keys
        self._probe = [1.0 / math.sqrt(dimension)] * dimension

    def ensure_index(self) -> bool:
        """Create the index if it does not exist (the bucket must); True when it was created."""
        try:
            self._client.get_index(**self._target)
            return False
        except ClientError as exc:
            if _code(exc) != "NotFoundException":
                raise DependencyUnavailable(f"S3 Vectors get index failed: {exc}") from exc
        try:
            self._client.create_index(
                **self._target,
                dataType="float32",
                dimension=self._dimension,
                distanceMetric="cosine",
                metadataConfiguration={"nonFilterableMetadataKeys": NON_FILTERABLE_KEYS},
            )
        except ClientError as exc:
            if _code(exc) == "ConflictException":  # created by another process meanwhile
                return False
            raise DependencyUnavailable(f"S3 Vectors create index failed: {exc}") from exc
        return True

    # -- VectorIndex ---------------------------------------------------------------------

    def upsert(
        self, creator_id: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]
    ) -> None:
        """Put chunks; a chunk id already stored for this creator is overwritten."""
        self._check(creator_id, None, chunks, vectors)
        self._put(creator_id, chunks, vectors, uuid.uuid4().hex)

    def replace_document(
        self,
        creator_id: str,
        document_id: str,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]],
    ) -> None:
        """Put the new chunks, then delete the document's vectors of any earlier write."""
        self._check(creator_id, document_id, chunks, vectors)
        write_id = uuid.uuid4().hex
        self._put(creator_id, chunks, vectors, write_id)
        self._delete_matching(
            creator_id,
            [{"document_id": {"$eq": document_id}}, {"write_id": {"$ne": write_id}}],
            keep={vector_key(creator_id, c.chunk_id) for c in chunks},
        )

    def delete_document(self, creator_id: str, document_id: str) -> int:
        self._check_creator(creator_id)
        return self._delete_matching(creator_id, [{"document_id": {"$eq": document_id}}])

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
        """Hybrid search within one creator, best first: the nearest ``max(top_k,
        candidates)`` chunks by cosine among those matching ``video_id`` and ``filters``,
        re-scored with BM25 over those candidates."""
        self._check_creator(creator_id)
        if top_k <= 0:
            return []
        query = unit(vector)
        if len(query) != self._dimension:
            raise InvalidInput(f"query dimension {len(query)} != {self._dimension}")
        extra: list[dict[str, Any]] = []
        if video_id is not None:
            extra.append({"video_id": {"$eq": video_id}})
        extra += _filter_clauses(filters)
        found = self._query(
            creator_id, query, min(max(top_k, self._candidates), MAX_TOP_K), extra, True
        )
        candidates = [(chunk, 1.0 - distance) for _, chunk, distance in found]
        keyword = bm25_scores(
            query_text, [tokenize(f"{c.title} {c.heading} {c.text}") for c, _ in candidates]
        )
        max_kw = max(keyword, default=0.0)
        scored = [
            (hybrid_score(cosine, kw, max_kw, self._dense_weight), chunk, cosine)
            for (chunk, cosine), kw in zip(candidates, keyword, strict=True)
        ]
        scored.sort(key=lambda s: (-s[0], s[1].chunk_id))
        return [SearchHit(chunk, score, cosine) for score, chunk, cosine in scored[:top_k]]

    def chunks_for_video(self, creator_id: str, video_id: str, *, limit: int) -> list[Chunk]:
        """The video's chunks in playback order (start time, then ordinal), at most ``limit``
        (at most 100)."""
        self._check_creator(creator_id)
        if limit <= 0:
            return []
        extra: list[dict[str, Any]] = [
            {"video_id": {"$eq": video_id}},
            {"ordinal": {"$lt": limit}},
        ]
        found = self._query(creator_id, self._probe, min(limit, MAX_TOP_K), extra, False)
        chunks = sorted((chunk for _, chunk, _ in found), key=_playback_order)
        return chunks[:limit]

    def count(self, creator_id: str, document_id: str | None = None) -> int:
        self._check_creator(creator_id)
        extra = [{"document_id": {"$eq": document_id}}] if document_id is not None else []
        keys = self._query_keys(creator_id, extra)
        if len(keys) < MAX_TOP_K:
            return len(keys)
        return sum(1 for _ in self._listed(creator_id, document_id))

    # -- helpers -------------------------------------------------------------------------

    def _check_creator(self, creator_id: str) -> None:
        if not creator_id or _SEPARATOR in creator_id:
            raise InvalidInput(f"creator id must be non-empty and without {_SEPARATOR!r}")

    def _check(
        self,
        creator_id: str,
        document_id: str | None,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]],
    ) -> None:
        self._check_creator(creator_id)
        if len(chunks) != len(vectors):
            raise InvalidInput("one vector per chunk is required")
        if any(c.creator_id != creator_id for c in chunks):
            raise InvalidInput("chunk belongs to another creator")
        if document_id is not None and any(c.document_id != document_id for c in chunks):
            raise InvalidInput("chunk belongs to another document")

    def _put(
        self,
        creator_id: str,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]],
        write_id: str,
    ) -> None:
        # the last of a repeated chunk id wins, as in the other indexes
        latest = {c.chunk_id: (c, v) for c, v in zip(chunks, vectors, strict=True)}
        entries = [self._entry(creator_id, c, v, write_id) for c, v in latest.values()]
        for start in range(0, len(entries), MAX_WRITE_BATCH):
            with _unavailable("put vectors"):
                self._client.put_vectors(
                    **self._target, vectors=entries[start : start + MAX_WRITE_BATCH]
                )

    def _entry(
        self, creator_id: str, chunk: Chunk, vector: Sequence[float], write_id: str
    ) -> dict[str, Any]:
        data = unit(vector)
        if len(data) != self._dimension:
            raise InvalidInput(f"vector dimension {len(data)} != {self._dimension}")
        filterable: dict[str, Any] = {
            "creator_id": creator_id,
            "document_id": chunk.document_id,
            "ordinal": chunk.ordinal,
            "write_id": write_id,
        }
        if chunk.video_id is not None:
            filterable["video_id"] = chunk.video_id
        if chunk.kind:
            filterable["kind"] = chunk.kind
        if chunk.tags:
            filterable["tags"] = list(chunk.tags)
        if len(json.dumps(filterable, ensure_ascii=False).encode()) > MAX_FILTERABLE_BYTES:
            raise InvalidInput("chunk ids or tags too long for S3 Vectors' filterable metadata")
        body = json.dumps(asdict(chunk), separators=(",", ":"), ensure_ascii=False)
        if len(body.encode()) + MAX_FILTERABLE_BYTES > MAX_METADATA_BYTES:
            raise InvalidInput("chunk too large for S3 Vectors metadata (40 KB per vector)")
        return {
            "key": vector_key(creator_id, chunk.chunk_id),
            "data": {"float32": data},
            "metadata": {**filterable, CHUNK_KEY: body},
        }

    def _filter(self, creator_id: str, extra: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        own: dict[str, Any] = {"creator_id": {"$eq": creator_id}}
        return {"$and": [own, *extra]} if extra else own

    def _query(
        self,
        creator_id: str,
        vector: Sequence[float],
        top_k: int,
        extra: Sequence[Mapping[str, Any]],
        distance: bool,
    ) -> list[tuple[str, Chunk, float]]:
        """(key, chunk, cosine distance) of this creator's nearest vectors matching ``extra``;
        anything of another creator is dropped."""
        request: dict[str, Any] = {
            **self._target,
            "topK": top_k,
            "queryVector": {"float32": list(vector)},
            "filter": self._filter(creator_id, extra),
            "returnMetadata": True,
        }
        if distance:
            request["returnDistance"] = True
        with _unavailable("query vectors"):
            response = self._client.query_vectors(**request)
        out: list[tuple[str, Chunk, float]] = []
        for found in response.get("vectors", []):
            key, metadata = found["key"], found.get("metadata") or {}
            if not _owned(creator_id, key, metadata):
                continue
            chunk = _chunk(metadata)
            if chunk is None or chunk.creator_id != creator_id:
                logger.warning("s3vectors vector of another creator dropped", extra={"key": key})
                continue
            out.append((key, chunk, float(found.get("distance", 0.0))))
        return out

    def _query_keys(self, creator_id: str, extra: Sequence[Mapping[str, Any]]) -> list[str]:
        """Up to 100 keys of this creator's vectors matching ``extra`` (no metadata read)."""
        with _unavailable("query vectors"):
            response = self._client.query_vectors(
                **self._target,
                topK=MAX_TOP_K,
                queryVector={"float32": self._probe},
                filter=self._filter(creator_id, extra),
            )
        prefix = vector_key(creator_id, "")
        return [v["key"] for v in response.get("vectors", []) if v["key"].startswith(prefix)]

    def _delete_matching(
        self,
        creator_id: str,
        extra: Sequence[Mapping[str, Any]],
        keep: Collection[str] = (),
    ) -> int:
        """Delete this creator's vectors matching ``extra``, 100 keys a round, never a key in
        ``keep``; stops at a round with nothing (new) to delete."""
        deleted: set[str] = set()
        while True:
            found = self._query_keys(creator_id, extra)
            keys = [k for k in found if k not in deleted and k not in keep]
            if not keys:
                return len(deleted)
            with _unavailable("delete vectors"):
                self._client.delete_vectors(**self._target, keys=keys)
            deleted.update(keys)

    def _listed(self, creator_id: str, document_id: str | None) -> Iterator[str]:
        """Keys of this creator (and document) by paging through the whole index."""
        prefix = vector_key(creator_id, "")
        request: dict[str, Any] = {**self._target, "maxResults": MAX_LIST_PAGE}
        if document_id is not None:
            request["returnMetadata"] = True
        while True:
            with _unavailable("list vectors"):
                response = self._client.list_vectors(**request)
            for found in response.get("vectors", []):
                key, metadata = found["key"], found.get("metadata") or {}
                if not key.startswith(prefix):
                    continue
                if document_id is None or (
                    _owned(creator_id, key, metadata) and metadata.get("document_id") == document_id
                ):
                    yield key
            token = response.get("nextToken")
            if not token:
                return
            request["nextToken"] = token


def _filter_clauses(filters: SearchFilters | None) -> list[dict[str, Any]]:
    """A search's filters as S3 Vectors filter clauses (AND-ed with the creator's)."""
    if not filters:
        return []
    clauses: list[dict[str, Any]] = []
    if filters.video_ids:
        clauses.append({"video_id": {"$in": list(filters.video_ids)}})
    if filters.kinds:
        clauses.append({"kind": {"$in": list(filters.kinds)}})
    if filters.tags:
        # ``$eq`` on a list matches when any element equals it (the S3 Vectors metadata
        # filtering guide); ``$in`` is only documented for single values
        any_tag = [{"tags": {"$eq": tag}} for tag in filters.tags]
        clauses.append(any_tag[0] if len(any_tag) == 1 else {"$or": any_tag})
    return clauses


def _owned(creator_id: str, key: str, metadata: Mapping[str, Any]) -> bool:
    if key.startswith(vector_key(creator_id, "")) and metadata.get("creator_id") == creator_id:
        return True
    logger.warning("s3vectors vector of another creator dropped", extra={"key": key})
    return False


def _chunk(metadata: Mapping[str, Any]) -> Chunk | None:
    try:
        fields = json.loads(metadata[CHUNK_KEY])
        return Chunk(**{k: v for k, v in fields.items() if k in _CHUNK_FIELDS})
    except (KeyError, TypeError, ValueError):
        return None


def _playback_order(chunk: Chunk) -> tuple[bool, float, int, str]:
    return (chunk.start_s is None, chunk.start_s or 0.0, chunk.ordinal, chunk.chunk_id)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def _unavailable(action: str) -> Iterator[None]:
    """Turn a client or service error into a domain error."""
    try:
        yield
    except ClientError as exc:
        if _code(exc) == "ValidationException":
            raise InvalidInput(f"S3 Vectors {action} rejected: {exc}") from exc
        raise DependencyUnavailable(f"S3 Vectors {action} failed: {exc}") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailable(f"S3 Vectors {action} failed: {exc}") from exc

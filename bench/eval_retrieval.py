"""Retrieval quality on real text nobody here wrote: the Python FAQ from Debian's
``python3.11-doc``, next to two peers on the same embedder, plus the chat path's honesty.

    apt-get install -y python3.11-doc        # the data (read at run time, never committed)
    pip install -e '.[local,eval]'           # the peers: LangChain, bm25s
    python bench/eval_retrieval.py [--variants] [--dense-weight W] [--no-chat] [--faq-dir DIR]

The set: each question heading of ``/usr/share/doc/python3.11/html/faq/*.html`` is a query;
the text under it (to the next heading) is its one gold passage, heading dropped. Questions
are the leaf ``<section>`` s (a section holding others is a category such as "Core
Language"): 179 in Debian 12's 3.11.2 package, 175 of them ending in "?". Every
passage is posted as one Markdown document of ONE creator, titled "FAQ entry NNN" (the title
never repeats the question), through the project's own HTTP ingest path on the local
runtime; each question is then asked through ``POST .../search`` (top_k=10,
``include_below_gate``: the index's ranking; a second row drops the hits under the
answerability gate, as ``/search`` does by default and the assistant does).

Metrics are per DOCUMENT: a hit is any chunk of the gold document; documents are deduped in
rank order over the 10 chunks returned (so a system may show fewer than 10 documents).
One question is asked twice in the FAQ with different answers ("What is Python?"): for an
identical question, every passage filed under it counts as gold.

Systems, all on the same ``LocalEmbedder`` (all-MiniLM-L6-v2 int8):

* project: HTTP search on the local runtime (structure-aware chunks, hybrid dense + BM25);
* LangChain peer: ``RecursiveCharacterTextSplitter(1000, 200)`` + ``InMemoryVectorStore``;
* BM25 peer: ``bm25s`` over whole passages;
* dense, whole passages: one vector per passage (the reference in shared/FACTS.md).

Then 30 off-topic questions and every FAQ question go through ``POST .../chat`` (a fan,
enterprise tier): how often an off-topic question gets exactly ``NOT_FOUND_ANSWER``, and how
often an on-topic answer cites a chunk of the gold document.

``--variants`` also replays the project's chunker and local index in-process with other
parameters (chunk size x dense weight; other fusions of cosine and BM25; other keyword
tokenizers; the similarity floor) to show what would change (the fusion and tokenizer tables
re-score the index's own cosines and BM25 outside it);
``--dense-weight`` runs the whole HTTP path (search and chat) on a local index built with
another dense weight (swapped into the runtime's container in-process, no product change).
About 3 minutes on 2 cores (4-5 with ``--variants``); prints one table, exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shutil
import statistics
import sys
import tempfile
import time
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))
import creator_chat.local  # noqa: F401  (quiet Powertools before it is imported)
from _table import pct
from creator_chat.adapters.embedded import local_index
from creator_chat.adapters.embedded.local_embedder import LocalEmbedder
from creator_chat.adapters.embedded.local_index import (
    DEFAULT_DENSE_WEIGHT,
    LocalVectorIndex,
    hybrid_scores,
)
from creator_chat.auth import issue_dev_token
from creator_chat.container import container_from_env
from creator_chat.content import chunk_document, parse
from creator_chat.domain.models import DocumentKind, Role, Tier
from creator_chat.local.runtime import LocalRuntime
from creator_chat.prompting import NOT_FOUND_ANSWER
from creator_chat.settings import Settings
from creator_chat.usecases.chat import cache_question

FAQ_DIR = Path("/usr/share/doc/python3.11/html/faq")
APT_PACKAGE = "python3.11-doc"
TOP_K = 10

OFF_TOPIC: tuple[str, ...] = (
    # cooking
    "How long should I boil an egg for a soft yolk?",
    "What temperature should I roast a whole chicken at?",
    "How do I make a sourdough starter from scratch?",
    "Can I substitute baking soda for baking powder in a cake?",
    # sports
    "How many players are on a rugby union team?",
    "Who won the 2018 FIFA World Cup?",
    "What is the offside rule in football?",
    "How can I improve my marathon time?",
    # geography
    "What is the capital of Australia?",
    "Which river is the longest in Africa?",
    "How high is Mount Kilimanjaro?",
    "Which countries border Switzerland?",
    # everyday life
    "How do I get red wine out of a carpet?",
    "When should I prune apple trees?",
    "How often should I change my car's engine oil?",
    "What causes the northern lights?",
    "How do I stop my puppy from biting?",
    "What is a good houseplant for a room with little light?",
    "How do I tune a guitar to drop D?",
    "What are the symptoms of a vitamin D deficiency?",
    "How do I knit a scarf as a beginner?",
    "What is the best way to memorise Spanish vocabulary?",
    # near misses: programming or computers, but not Python
    "How do I install Java on Windows?",
    "How do I handle exceptions in Java?",
    "How do I declare a variable in Rust?",
    "How do I compile a C++ program with Visual Studio?",
    "How do I center a div in CSS?",
    "How do I speed up a slow Windows laptop?",
    "How do I write a for loop in JavaScript?",
    "What is the difference between a python and a boa constrictor?",
)


# ------------------------------------------------------------------------------ data set
@dataclass(frozen=True)
class Item:
    question: str
    passage: str
    source: str  # file name, for the record only


@dataclass
class _Section:
    heading: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    children: int = 0


_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "dt", "dd", "ul", "ol", "dl", "table", "tr", "blockquote", "br", "pre"}
)
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


class FaqParser(HTMLParser):
    """Sphinx FAQ page → (question, passage) for every leaf ``<section>``.

    A section holding other sections is a category ("Core Language"), not a question. The
    passage is Markdown-ish: paragraphs separated by blank lines, list items as "- ",
    ``<pre>`` blocks fenced (so the chunker keeps them whole). The heading is not in it.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[str, str]] = []
        self._stack: list[_Section] = []
        self._in_heading = False
        self._pre = 0
        self._skip = 0  # inside a headerlink anchor ("¶")
        self._code: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            if self._stack:
                self._stack[-1].children += 1
            self._stack.append(_Section())
            return
        if not self._stack:
            return
        if tag == "a" and "headerlink" in (dict(attrs).get("class") or ""):
            self._skip += 1
        elif tag in _HEADING_TAGS:
            self._in_heading = True
        elif tag == "pre":
            self._pre += 1
            self._code = []
        elif tag in _BLOCK_TAGS:
            self._stack[-1].body.append("\n\n- " if tag == "li" else "\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            section = self._stack.pop()
            question = " ".join("".join(section.heading).split())
            if section.children == 0 and question:
                self.items.append((question, _tidy("".join(section.body))))
            return
        if not self._stack:
            return
        if tag == "a" and self._skip:
            self._skip -= 1
        elif tag in _HEADING_TAGS:
            self._in_heading = False
        elif tag == "pre":
            self._pre -= 1
            code = "".join(self._code).strip("\n")
            self._stack[-1].body.append(f"\n\n```\n{code}\n```\n\n")
        elif tag in _BLOCK_TAGS:
            self._stack[-1].body.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._stack or self._skip:
            return
        section = self._stack[-1]
        if self._in_heading:
            section.heading.append(data)
        elif self._pre:
            self._code.append(data)
        else:
            section.body.append(re.sub(r"\s+", " ", data))


def _tidy(text: str) -> str:
    """Trim each line outside code fences, collapse blank-line runs."""
    out: list[str] = []
    fenced = False
    for line in text.split("\n"):
        if line.strip() == "```":
            fenced = not fenced
            out.append("```")
        else:
            out.append(line.rstrip() if fenced else line.strip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def load_faq(faq_dir: Path) -> list[Item]:
    pages = sorted(p for p in faq_dir.glob("*.html") if p.name != "index.html")
    if not pages:
        raise SystemExit(
            f"no FAQ pages under {faq_dir}: apt-get update && apt-get install -y {APT_PACKAGE}"
        )
    items: list[Item] = []
    for page in pages:
        parser = FaqParser()
        parser.feed(page.read_text(encoding="utf-8"))
        parser.close()
        items += [Item(q.rstrip("¶ "), p, page.name) for q, p in parser.items if p]
    return items


def gold_sets(items: Sequence[Item]) -> list[frozenset[int]]:
    """For each item, every item asked with the same question (normalised) is gold."""
    by_question: dict[str, set[int]] = {}
    for i, item in enumerate(items):
        by_question.setdefault(_norm(item.question), set()).add(i)
    return [frozenset(by_question[_norm(item.question)]) for item in items]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


# ------------------------------------------------------------------------------- metrics
@dataclass(frozen=True)
class Scores:
    r1: float
    r5: float
    mrr10: float

    @classmethod
    def of(cls, rankings: Sequence[Sequence[int]], golds: Sequence[frozenset[int]]) -> Scores:
        r1 = r5 = rr = 0.0
        for ranked, gold in zip(rankings, golds, strict=True):
            docs = list(dict.fromkeys(ranked))[:TOP_K]  # dedupe documents in rank order
            rank = next((k + 1 for k, d in enumerate(docs) if d in gold), None)
            if rank is not None:
                r1 += rank == 1
                r5 += rank <= 5
                rr += 1.0 / rank
        n = len(golds)
        return cls(r1 / n, r5 / n, rr / n)


def reciprocal_ranks(
    rankings: Sequence[Sequence[int]], golds: Sequence[frozenset[int]]
) -> list[float]:
    """Per question: 1/rank of the first gold document within the top 10, else 0."""
    out = []
    for ranked, gold in zip(rankings, golds, strict=True):
        docs = list(dict.fromkeys(ranked))[:TOP_K]
        rank = next((k + 1 for k, d in enumerate(docs) if d in gold), None)
        out.append(0.0 if rank is None else 1.0 / rank)
    return out


def paired_bootstrap(
    ours: Sequence[float], theirs: Sequence[float], *, rounds: int = 10_000, seed: int = 7
) -> tuple[float, float, float]:
    """Mean difference (ours - theirs) and its 95 % interval, resampling questions."""
    diff = np.asarray(ours) - np.asarray(theirs)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(rounds, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)


class CachedEmbedder:
    """The one ``LocalEmbedder`` every in-process system uses, memoised per text."""

    def __init__(self) -> None:
        self.inner = LocalEmbedder()
        self._memo: dict[str, list[float]] = {}

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            for text, vec in zip(missing, self.inner.embed(missing), strict=True):
                self._memo[text] = vec
        return [self._memo[t] for t in texts]


# ----------------------------------------------------------------------- project (HTTP)
@dataclass
class ProjectRun:
    rankings: list[list[int]]
    ingest_s: float
    chunks: int
    search_ms: list[float]
    doc_ids: list[str]
    creator_id: str
    # the same rankings less the hits under the answerability gate (what /search shows by
    # default, and what the assistant would answer from)
    gated: list[list[int]] = field(default_factory=list)


def run_project(api: httpx.Client, items: Sequence[Item]) -> ProjectRun:
    slug = f"eval-faq-{int(time.time())}"
    created = api.post("/v1/creators", json={"slug": slug, "name": "Python FAQ (eval)"})
    assert created.status_code in (200, 201), created.text
    creator_id: str = created.json()["creator_id"]
    start = time.perf_counter()
    doc_ids: list[str] = []
    for i, item in enumerate(items):
        r = api.post(
            f"/v1/creators/{creator_id}/documents",
            json={"title": f"FAQ entry {i:03d}", "kind": "markdown", "content": item.passage},
        )
        assert r.status_code in (200, 202), r.text
        doc_ids.append(r.json()["document"]["document_id"])
    while True:
        listed = api.get(f"/v1/creators/{creator_id}/documents").json()["documents"]
        if len(listed) == len(items) and all(d["status"] in ("done", "failed") for d in listed):
            break
        time.sleep(0.2)
    ingest_s = time.perf_counter() - start
    failed = [d for d in listed if d["status"] != "done"]
    assert not failed, failed
    index_of = {d: i for i, d in enumerate(doc_ids)}
    assert len(index_of) == len(items), "two passages mapped to one document"
    rankings: list[list[int]] = []
    gated: list[list[int]] = []
    lat: list[float] = []
    for item in items:
        t = time.perf_counter()
        r = api.post(
            f"/v1/creators/{creator_id}/search",
            json={"query": item.question, "top_k": TOP_K, "include_below_gate": True},
        )
        lat.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        rankings.append([index_of[h["document_id"]] for h in results])
        gated.append([index_of[h["document_id"]] for h in results if h["answerable"]])
    return ProjectRun(
        rankings, ingest_s, sum(d["chunk_count"] for d in listed), lat, doc_ids, creator_id, gated
    )


@dataclass
class ChatRun:
    not_found: int
    asked: int
    gold_cited: int = 0
    any_cited: int = 0
    latency_ms: list[float] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)  # questions not answered NOT_FOUND
    # per question, in order: answered NOT_FOUND_ANSWER / cited a chunk of the gold document
    refused: list[bool] = field(default_factory=list)
    cited_gold: list[bool] = field(default_factory=list)


def run_chat(
    rt_url: str,
    creator_id: str,
    questions: Sequence[str],
    gold_docs: Sequence[frozenset[str]] | None,
    user: str,
) -> ChatRun:
    token = issue_dev_token(Settings(), user_id=user, role=Role.FAN, tier=Tier.ENTERPRISE)
    run = ChatRun(not_found=0, asked=len(questions))
    with httpx.Client(
        base_url=rt_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as fan:
        for i, question in enumerate(questions):
            t = time.perf_counter()
            r = fan.post(f"/v1/creators/{creator_id}/chat", json={"message": question})
            run.latency_ms.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text
            body = r.json()
            refused = body["answer"] == NOT_FOUND_ANSWER
            run.refused.append(refused)
            if refused:
                run.not_found += 1
            else:
                run.answered.append(question)
            cited = {c["document_id"] for c in body["citations"]}
            run.any_cited += bool(cited)
            if gold_docs is not None:
                run.gold_cited += bool(cited & gold_docs[i])
                run.cited_gold.append(bool(cited & gold_docs[i]))
    return run


# ------------------------------------------------------------------------------- peers
def run_langchain(
    embedder: CachedEmbedder, items: Sequence[Item]
) -> tuple[list[list[int]], int, float]:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import InMemoryVectorStore
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    class LocalEmbeddings(Embeddings):
        """LangChain ``Embeddings`` over the project's LocalEmbedder."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed(texts)

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed([text])[0]

    start = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    docs = splitter.split_documents(
        [Document(page_content=it.passage, metadata={"i": i}) for i, it in enumerate(items)]
    )
    store = InMemoryVectorStore(embedding=LocalEmbeddings())
    store.add_documents(docs)
    build_s = time.perf_counter() - start
    rankings = [
        [int(d.metadata["i"]) for d, _ in store.similarity_search_with_score(it.question, k=TOP_K)]
        for it in items
    ]
    return rankings, len(docs), build_s


def run_bm25(items: Sequence[Item]) -> tuple[list[list[int]], float]:
    import bm25s

    start = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize([it.passage for it in items], stopwords="en", show_progress=False),
        show_progress=False,
    )
    build_s = time.perf_counter() - start
    queries = bm25s.tokenize(
        [it.question for it in items], stopwords="en", return_ids=False, show_progress=False
    )
    rankings: list[list[int]] = []
    for q in queries:
        if not q:
            rankings.append([])
            continue
        ids, scores = retriever.retrieve([q], k=TOP_K, show_progress=False)
        rankings.append([int(d) for d, s in zip(ids[0], scores[0], strict=True) if s > 0])
    return rankings, build_s


def run_dense_whole(embedder: CachedEmbedder, items: Sequence[Item]) -> list[list[int]]:
    passages = np.asarray(embedder.embed([it.passage for it in items]), dtype=np.float32)
    queries = np.asarray(embedder.embed([it.question for it in items]), dtype=np.float32)
    sims = queries @ passages.T
    return [list(map(int, np.argsort(-row, kind="stable")[:TOP_K])) for row in sims]


# ------------------------------------------------------------------- in-process variants
@dataclass
class Replica:
    """The project's chunker + local index, in-process, with chosen parameters."""

    embedder: CachedEmbedder
    items: Sequence[Item]
    max_tokens: int = 220
    overlap_tokens: int = 40
    dense_weight: float = DEFAULT_DENSE_WEIGHT
    index: LocalVectorIndex = field(init=False)
    chunks: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.index = LocalVectorIndex(dense_weight=self.dense_weight)
        for i, item in enumerate(self.items):
            doc = f"d{i:03d}"
            chunks = chunk_document(
                parse(DocumentKind.MARKDOWN, item.passage.encode()),
                creator_id="eval",
                document_id=doc,
                title=f"FAQ entry {i:03d}",
                source_url="",
                max_tokens=self.max_tokens,
                overlap_tokens=self.overlap_tokens,
            )
            self.index.replace_document(
                "eval", doc, chunks, self.embedder.embed([c.text for c in chunks])
            )
            self.chunks += len(chunks)

    def hits(self, question: str, top_k: int = TOP_K) -> list[tuple[int, float]]:
        """(passage index, cosine) of the top chunks, best first."""
        vector = self.embedder.embed([question])[0]
        found = self.index.search("eval", vector, question, top_k=top_k)
        return [(int(h.chunk.document_id[1:]), h.similarity) for h in found]

    def rankings(self, questions: Iterable[str]) -> list[list[int]]:
        return [[d for d, _ in self.hits(q)] for q in questions]

    def section_blend_rankings(
        self, questions: Iterable[str], own: float, w: float
    ) -> list[list[int]]:
        """Rankings when a chunk's cosine is blended with its section's: ``own * cos(chunk)
        + (1 - own) * cos(section centroid)``, the centroid being the normalised mean of the
        section's chunk vectors (a parent-document score at no extra embedding), then the
        product's lift with BM25."""
        shard = self.index._shard("eval")
        docs = np.asarray([int(c.document_id[1:]) for c in shard.chunks])
        groups: dict[tuple[str, str], list[int]] = {}
        for j, chunk in enumerate(shard.chunks):
            groups.setdefault((chunk.document_id, chunk.heading), []).append(j)
        centroids = np.zeros_like(shard.matrix)
        for rows in groups.values():
            mean = shard.matrix[rows].mean(axis=0)
            centroids[rows] = mean / (np.linalg.norm(mean) or 1.0)
        out: list[list[int]] = []
        for question in questions:
            vector = np.asarray(self.embedder.embed([question])[0], dtype=np.float32)
            vector /= np.linalg.norm(vector)
            dense = own * (shard.matrix @ vector) + (1 - own) * (centroids @ vector)
            bm25 = shard.bm25(local_index.tokenize(question))
            scores = hybrid_scores(dense.astype(np.float32), bm25, w)
            out.append([int(docs[j]) for j in np.argsort(-scores, kind="stable")[:TOP_K]])
        return out

    def fused_rankings(self, questions: Iterable[str], fuse: Fusion, w: float) -> list[list[int]]:
        """Rankings under another fusion of the same cosines and BM25 scores as the index's."""
        shard = self.index._shard("eval")
        docs = np.asarray([int(c.document_id[1:]) for c in shard.chunks])
        n = len(shard.chunks)
        out: list[list[int]] = []
        for question in questions:
            vector = np.asarray(self.embedder.embed([question])[0], dtype=np.float32)
            cosines = shard.matrix @ (vector / np.linalg.norm(vector))
            terms = set(local_index.tokenize(question))
            bm25 = shard.bm25(sorted(terms))
            dfs = [len(shard.postings.get(t, ())) for t in terms]
            bound = sum((K1 + 1) * np.log(1 + (n - df + 0.5) / (df + 0.5)) for df in dfs)
            scores = fuse(np.clip(cosines, 0.0, 1.0), bm25, float(bound), w)
            out.append([int(docs[j]) for j in np.argsort(-scores, kind="stable")[:TOP_K]])
        return out


# Fusions of a chunk's clipped cosine and raw BM25 compared by --variants. ``bound`` is the
# query's best possible BM25, (k1 + 1) * sum(idf) over its terms (a term the creator never
# uses counts with the idf of df = 0); ``w`` is the dense weight.
FloatArray = npt.NDArray[np.float32]
Fusion = Callable[[FloatArray, FloatArray, float, float], FloatArray]
K1 = local_index._BM25_K1


def _by_max(bm25: FloatArray) -> FloatArray:
    best = float(bm25.max())
    return bm25 / best if best > 0 else bm25


def _by_bound(bm25: FloatArray, bound: float) -> FloatArray:
    return bm25 / bound if bound > 0 else bm25


def _rrf(scores: FloatArray, k: int = 60) -> FloatArray:
    """1 / (k + rank) of each row (rank 1 = best); rows scoring 0 get 0."""
    ranks = np.empty(scores.shape[0], dtype=np.float32)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(1, scores.shape[0] + 1)
    out: FloatArray = np.where(scores > 0, 1.0 / (k + ranks), 0.0).astype(np.float32)
    return out


def _lift_by_max(d: FloatArray, k: FloatArray, b: float, w: float) -> FloatArray:
    return hybrid_scores(d, k, w)  # the product's formula


def _mix_by_max(d: FloatArray, k: FloatArray, b: float, w: float) -> FloatArray:
    return w * d + (1 - w) * _by_max(k)  # the formula before


def _mix_by_bound(d: FloatArray, k: FloatArray, b: float, w: float) -> FloatArray:
    return w * d + (1 - w) * _by_bound(k, b)


def _lift_by_bound(d: FloatArray, k: FloatArray, b: float, w: float) -> FloatArray:
    out: FloatArray = np.maximum(d, w * d + (1 - w) * _by_bound(k, b))
    return out


def _mix_by_strong_match(d: FloatArray, k: FloatArray, b: float, w: float) -> FloatArray:
    """Max-normalised, unless the best match is weaker than a chunk of average length holding
    every query term once (sum(idf) = bound / (k1 + 1)): the keyword share only when the query
    has words that the best chunk matches well."""
    best = max(float(k.max()), b / (K1 + 1), 1e-9)
    return w * d + (1 - w) * k / best


def _weighted_rrf(d: FloatArray, k: FloatArray, b: float, w: float) -> FloatArray:
    return w * _rrf(d) + (1 - w) * _rrf(k)


FUSIONS: dict[str, Fusion] = {
    "lift, BM25/max (product)": _lift_by_max,
    "mix, BM25/max (before)": _mix_by_max,
    "mix, BM25/bound": _mix_by_bound,
    "lift, BM25/bound": _lift_by_bound,
    "mix, BM25/max(max, sum idf)": _mix_by_strong_match,
    "weighted RRF, k=60": _weighted_rrf,
}


def _previous_tokenize(text: str) -> list[str]:
    """The tokenizer before contractions and "c++": split at every non-word character."""
    return [
        t
        for t in re.findall(r"\w+", text.lower())
        if t not in local_index._STOPWORDS and (len(t) > 1 or t.isdigit())
    ]


_product_tokenize = local_index.tokenize
TOKENIZERS: dict[str, Callable[[str], list[str]]] = {
    "product": _product_tokenize,
    "previous (split at apostrophes, no c++)": _previous_tokenize,
    "product + bare 'c'": lambda text: _product_tokenize(
        re.sub(r"\b[cC]\b(?![+#])", "c_language", text)
    ),
}


@contextlib.contextmanager
def _tokenizer(tokenize: Callable[[str], list[str]]) -> Iterator[None]:
    """Swap the local index's keyword analyser (indexing and queries) for a variant."""
    local_index.tokenize = tokenize  # type: ignore[assignment]  # a variant, for the table only
    try:
        yield
    finally:
        local_index.tokenize = _product_tokenize


def run_variants(
    embedder: CachedEmbedder, items: Sequence[Item], golds: Sequence[frozenset[int]]
) -> None:
    questions = [it.question for it in items]
    weights = (0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0)
    header = " ".join(f"{f'w={w}':>17}" for w in weights)
    metrics = " ".join(f"{'R@1  R@5  MRR':>17}" for _ in weights)

    def cells(rankings_for: Callable[[float], list[list[int]]]) -> str:
        out: list[str] = []
        for w in weights:
            s = Scores.of(rankings_for(w), golds)
            out.append(f"{s.r1:.3f} {s.r5:.3f} {s.mrr10:.3f}".rjust(17))
        return " ".join(out)

    def searched(reps: dict[float, Replica]) -> Callable[[float], list[list[int]]]:
        return lambda w: reps[w].rankings(questions)  # the index's own search

    def fused(rep: Replica, fuse: Fusion) -> Callable[[float], list[list[int]]]:
        return lambda w: rep.fused_rankings(questions, fuse, w)

    print("\nvariants of the project's chunker and index, in-process (same embedder)")
    print(f"{'max_tokens/overlap':<24} {'chunks':>6} {header}")
    print(f"{'':<24} {'':>6} {metrics}")
    for max_tokens, overlap in ((220, 40), (120, 30), (160, 40), (260, 50), (320, 60), (1000, 0)):
        reps = {w: Replica(embedder, items, max_tokens, overlap, w) for w in weights}
        label = f"{max_tokens}/{overlap}" + (" (default)" if max_tokens == 220 else "")
        print(f"{label:<24} {reps[weights[0]].chunks:>6} {cells(searched(reps))}")

    default = Replica(embedder, items)
    print("\nfusion of cosine and BM25 (default chunker; w = dense weight)")
    print(f"{'fusion':<40} {header}")
    for name, fuse in FUSIONS.items():
        print(f"{name:<40} {cells(fused(default, fuse))}")

    print("\nsection blend (multi-vector: chunk cosine mixed with its section centroid's)")
    print(f"{'own share of the chunk cosine':<40} {header}")
    for own in (1.0, 0.7, 0.5, 0.3):
        row = cells(lambda w, own=own: default.section_blend_rankings(questions, own, w))
        print(f"{own:<40} {row}")

    print("\nkeyword analyser (default chunker, product fusion)")
    print(f"{'tokenizer':<40} {header}")
    for name, tokenize in TOKENIZERS.items():
        with _tokenizer(tokenize):
            rep = Replica(embedder, items)  # indexed, and queried, with this tokenizer
            row = cells(fused(rep, _lift_by_max))
        print(f"{name:<40} {row}")

    # The chat path keeps its top 5 chunks whose cosine clears the similarity floor.
    rep = Replica(embedder, items)
    on = [rep.hits(q, top_k=5) for q in questions]
    off = [rep.hits(q, top_k=5) for q in OFF_TOPIC]
    print("\nchat retrieval (top 5, default chunker and weight) against the cosine floor")
    print(
        f"{'floor':>6} {'on-topic: gold kept':>20} {'on-topic: nothing kept':>23} "
        f"{'off-topic: something kept':>26}"
    )
    for floor in (0.25, 0.30, 0.35, 0.40, 0.45, 0.50):
        kept_gold = sum(
            any(d in g and c >= floor for d, c in h) for h, g in zip(on, golds, strict=True)
        )
        nothing = sum(all(c < floor for _, c in h) for h in on)
        leaked = sum(any(c >= floor for _, c in h) for h in off)
        print(
            f"{floor:>6.2f} {kept_gold / len(on):>20.2f} {nothing / len(on):>23.2f} "
            f"{leaked / len(off):>26.2f}"
        )
    top_off = sorted((max((c for _, c in h), default=0.0) for h in off), reverse=True)
    print("off-topic best cosines (highest 5): " + ", ".join(f"{c:.2f}" for c in top_off[:5]))


# ---------------------------------------------------------------------------------- main
class _DropEmf(io.TextIOBase):
    """stdout without Powertools' EMF lines: its auto-flush at 100 values of a metric prints
    them even with POWERTOOLS_METRICS_DISABLED set."""

    def __init__(self, out: io.TextIOBase | typing.TextIO) -> None:
        self._out = out
        self._dropping = False

    def write(self, s: str) -> int:
        if s.startswith('{"_aws"'):
            self._dropping = True
        elif not (self._dropping and s == "\n"):
            self._dropping = False
            self._out.write(s)
        return len(s)

    def flush(self) -> None:
        self._out.flush()


def _override_index(dense_weight: float) -> None:
    """Swap the runtime's (still empty) local index for one with another dense weight."""
    container = container_from_env()
    container.overrides["index"] = LocalVectorIndex(dense_weight=dense_weight)
    container.__dict__.pop("index", None)  # a cached_property already read


def _cache_key_collisions(items: Sequence[Item]) -> list[tuple[str, str]]:
    """Distinct questions that the chat caches (keyed on cache_question) take as one."""
    first: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    for item in items:
        key = cache_question(item.question)
        seen = first.setdefault(key, item.question)
        if _norm(seen) != _norm(item.question):
            pairs.append((seen, item.question))
    return pairs


def _run_runtime(
    items: Sequence[Item],
    golds: Sequence[frozenset[int]],
    no_chat: bool,
    dense_weight: float | None,
) -> tuple[ProjectRun, ChatRun | None, ChatRun | None]:
    """The project's own path: the local runtime in-process, called over HTTP."""
    data_dir = Path(tempfile.mkdtemp(prefix="eval-retrieval-"))
    rt = LocalRuntime(port=0, data_dir=data_dir, seed_demo=False).start()
    try:
        if dense_weight is not None:
            _override_index(dense_weight)
        admin = issue_dev_token(Settings(), user_id="eval", role=Role.ADMIN, tier=Tier.ENTERPRISE)
        with httpx.Client(
            base_url=rt.url, headers={"Authorization": f"Bearer {admin}"}, timeout=120
        ) as api:
            project = run_project(api, items)
        if no_chat:
            return project, None, None
        gold_doc_ids = [frozenset(project.doc_ids[j] for j in g) for g in golds]
        off_chat = run_chat(rt.url, project.creator_id, OFF_TOPIC, None, "eval-fan-off")
        questions = [it.question for it in items]
        on_chat = run_chat(rt.url, project.creator_id, questions, gold_doc_ids, "eval-fan-on")
        return project, on_chat, off_chat
    finally:
        rt.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _print_gold_losses(
    project: ProjectRun, on_chat: ChatRun, golds: Sequence[frozenset[int]]
) -> None:
    """Where an on-topic answer without its gold citation lost it: retrieval (the gold
    document not among the top ``Settings().top_k`` hits the gate keeps) or the answer."""
    k = Settings().top_k
    in_top = [
        any(d in gold for d in list(dict.fromkeys(ranked))[:k])
        for ranked, gold in zip(project.gated, golds, strict=True)
    ]
    kept = sum(in_top)
    refused = sum(r for r, t in zip(on_chat.refused, in_top, strict=True) if t)
    other = sum(
        t and not r and not c
        for t, r, c in zip(in_top, on_chat.refused, on_chat.cited_gold, strict=True)
    )
    print(
        f"  gold document in /search's gated top {k}:       {kept}/{len(in_top)} = "
        f"{kept / len(in_top):.1%}; of these, answered NOT_FOUND_ANSWER {refused}, "
        f"answered without citing it {other}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--faq-dir", type=Path, default=FAQ_DIR)
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also sweep chunk size, dense weight and similarity floor in-process",
    )
    parser.add_argument("--no-chat", action="store_true", help="skip the chat questions")
    parser.add_argument(
        "--dense-weight",
        type=float,
        default=None,
        help="run the project path with this dense weight (default: the product's)",
    )
    args = parser.parse_args()
    total = time.perf_counter()

    t = time.perf_counter()
    items = load_faq(args.faq_dir)
    golds = gold_sets(items)
    parse_s = time.perf_counter() - t
    dupes = sum(len(g) > 1 for g in golds)
    print(
        f"{len(items)} questions from {args.faq_dir} ({parse_s:.2f} s; {dupes} share a "
        f"question with another passage, any of them counts as gold)"
    )

    with contextlib.redirect_stdout(_DropEmf(sys.stdout)):
        project, on_chat, off_chat = _run_runtime(items, golds, args.no_chat, args.dense_weight)

    embedder = CachedEmbedder()
    t = time.perf_counter()
    lc_rankings, lc_chunks, lc_build_s = run_langchain(embedder, items)
    lc_s = time.perf_counter() - t
    bm_rankings, bm_build_s = run_bm25(items)
    t = time.perf_counter()
    dense_rankings = run_dense_whole(embedder, items)
    dense_s = time.perf_counter() - t

    weight = "" if args.dense_weight is None else f", dense_weight {args.dense_weight}"
    rows = [
        (
            f"project (HTTP search, {project.chunks} chunks{weight})",
            Scores.of(project.rankings, golds),
        ),
        ("project, hits under the answerability gate dropped", Scores.of(project.gated, golds)),
        (f"LangChain peer (1000/200 splitter, {lc_chunks} chunks)", Scores.of(lc_rankings, golds)),
        ("BM25 peer (bm25s, whole passages)", Scores.of(bm_rankings, golds)),
        ("dense, whole passages (reference)", Scores.of(dense_rankings, golds)),
    ]
    print(f"\n{'system':<56} {'R@1':>6} {'R@5':>6} {'MRR@10':>7}")
    for name, s in rows:
        print(f"{name:<56} {s.r1:>6.3f} {s.r5:>6.3f} {s.mrr10:>7.3f}")
    print(
        "(document level; top 10 chunks deduped to documents; reference in shared/FACTS.md: "
        "dense whole passages R@1 0.81 R@5 0.97 MRR 0.88, BM25 0.48 / 0.74 / 0.60)"
    )
    ours = reciprocal_ranks(project.rankings, golds)
    for name, peer in (
        ("LangChain peer", lc_rankings),
        ("BM25 peer", bm_rankings),
        ("dense whole passages", dense_rankings),
    ):
        mean, low, high = paired_bootstrap(ours, reciprocal_ranks(peer, golds))
        print(
            f"  MRR@10 project - {name}: {mean:+.3f} "
            f"(95% paired bootstrap over questions: [{low:+.3f}, {high:+.3f}])"
        )

    if off_chat is not None and on_chat is not None:
        print("\nchat (POST /v1/creators/{id}/chat, fan, enterprise tier, local generator)")
        print(
            f"  off-topic answered exactly NOT_FOUND_ANSWER: {off_chat.not_found}/"
            f"{off_chat.asked} = {off_chat.not_found / off_chat.asked:.1%} (target >= 95%)"
        )
        print(
            f"  on-topic answers citing the gold document:   {on_chat.gold_cited}/"
            f"{on_chat.asked} = {on_chat.gold_cited / on_chat.asked:.1%}"
        )
        print(
            f"  on-topic answered NOT_FOUND_ANSWER:          {on_chat.not_found}/"
            f"{on_chat.asked} = {on_chat.not_found / on_chat.asked:.1%}"
        )
        _print_gold_losses(project, on_chat, golds)
        for question in off_chat.answered:
            print(f"    off-topic but answered: {question!r}")
        for first, other in _cache_key_collisions(items):
            print(f"    one chat cache key (cache_question) for {first!r} and {other!r}")
        lat = on_chat.latency_ms + off_chat.latency_ms
        print(
            f"  chat latency: median {statistics.median(lat):.0f} ms, "
            f"p95 {pct(lat, 95):.0f} ms over {len(lat)} questions"
        )

    print("\ntimings")
    print(
        f"  ingest over HTTP (post → done): {len(items)} docs, {project.chunks} chunks in "
        f"{project.ingest_s:.1f} s ({project.chunks / project.ingest_s:.1f} chunks/s)"
    )
    print(
        f"  project search over HTTP: median {statistics.median(project.search_ms):.1f} ms, "
        f"p95 {pct(project.search_ms, 95):.1f} ms"
    )
    print(
        f"  LangChain peer: split + embed + store {lc_build_s:.1f} s, all queries "
        f"{lc_s - lc_build_s:.1f} s"
    )
    print(f"  BM25 peer: index {bm_build_s * 1000:.0f} ms")
    print(f"  dense whole passages: embed + rank {dense_s:.1f} s")

    if args.variants:
        t = time.perf_counter()
        run_variants(embedder, items, golds)
        print(f"  (variants took {time.perf_counter() - t:.0f} s)")
    print(f"\ntotal {time.perf_counter() - total:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

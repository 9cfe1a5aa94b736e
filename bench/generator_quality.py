"""Answer quality of the embedded extractive generator on the bundled demo corpus.

    python bench/generator_quality.py [--lexical] [--verbose]

Builds the demo creator's index in process (no server): each demo file is parsed and chunked
as ingest does, embedded with the local MiniLM embedder and put in a ``LocalVectorIndex``.
Then, for each of the 16 demo questions: the chat's retrieval (hybrid top-k, then the floor on
the cosine; ``Settings`` defaults) feeds ``LocalExtractiveGenerator``, and the answer is
checked for every ``answer_contains`` string and for citing the expected file; each
off-topic question must get NOT_FOUND.

The generator gets the same kind of embedder production wires in (``CachingEmbedder`` over
the local model, in-memory cache), unless ``--lexical`` asks for the embedder-free mode.
Latency is ``generate()`` wall time per answer, for every question on its own: cold (an
empty cache but for the question's vector, which retrieval has just embedded) and warm (the
same call again: every sentence vector cached, as for a repeated or popular question).
Always exits 0: this reports, it does not gate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from importlib import resources
from typing import Any

from creator_chat.adapters.caching_embedder import CachingEmbedder
from creator_chat.adapters.embedded.local_embedder import LocalEmbedder
from creator_chat.adapters.embedded.local_generator import (
    NOT_FOUND_ANSWER,
    LocalExtractiveGenerator,
)
from creator_chat.adapters.embedded.local_index import LocalVectorIndex
from creator_chat.adapters.embedded.memory_cache import MemoryCache
from creator_chat.content import chunk_document, parse
from creator_chat.domain.models import Chunk, Creator, DocumentKind, Generation
from creator_chat.ports import Embedder
from creator_chat.prompting import build_system_prompt
from creator_chat.settings import Settings

TOP_K = Settings().top_k
SIMILARITY_FLOOR = Settings().similarity_floor
MAX_TOKENS = 700  # Settings.answer_max_tokens
CREATOR_ID = "cr_bench-shot"


def load_demo() -> tuple[Creator, list[Chunk], dict[str, str], dict[str, Any]]:
    """The demo creator, its chunks, document id -> file name, and the questions."""
    folder = resources.files("creator_chat") / "demo"
    profile = json.loads((folder / "creator.json").read_text(encoding="utf-8"))
    creator = Creator(creator_id=CREATOR_ID, **profile)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    chunks: list[Chunk] = []
    files: dict[str, str] = {}
    for n, entry in enumerate(manifest["documents"], start=1):
        document_id = f"doc{n}"
        files[document_id] = entry["file"]
        parsed = parse(DocumentKind(entry["kind"]), (folder / entry["file"]).read_bytes())
        chunks += chunk_document(
            parsed,
            creator_id=CREATOR_ID,
            document_id=document_id,
            title=entry["title"],
            source_url=entry.get("source_url") or "",
            video_id=entry.get("video_id"),
        )
    questions = json.loads((folder / "questions.json").read_text(encoding="utf-8"))
    return creator, chunks, files, questions


def retrieve(index: LocalVectorIndex, embedder: Embedder, question: str) -> list[Chunk]:
    """As the chat does (``usecases.chat.retrieve_sources``): hybrid top-k, then the floor on
    each hit's cosine, not on its hybrid score."""
    vector = embedder.embed([question])[0]
    hits = index.search(CREATOR_ID, vector, question, top_k=TOP_K)
    return [h.chunk for h in hits if h.similarity >= SIMILARITY_FLOOR]


def answer(
    generator: LocalExtractiveGenerator, system: str, question: str, sources: list[Chunk]
) -> tuple[Generation, float]:
    start = time.perf_counter()
    gen = generator.generate(
        system=system, history=[], question=question, sources=sources, max_tokens=MAX_TOKENS
    )
    return gen, (time.perf_counter() - start) * 1000.0


def short(text: str, width: int = 150) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lexical", action="store_true", help="generator without an embedder")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every answer")
    args = parser.parse_args()

    creator, chunks, files, questions = load_demo()
    model = LocalEmbedder()
    started = time.perf_counter()
    index = LocalVectorIndex()
    index.upsert(CREATOR_ID, chunks, model.embed([c.text for c in chunks]))
    print(f"indexed {len(chunks)} chunks in {time.perf_counter() - started:.1f} s")

    embedder = CachingEmbedder(model, MemoryCache(), ttl_s=3600)
    generator = (
        LocalExtractiveGenerator() if args.lexical else LocalExtractiveGenerator(embedder=embedder)
    )
    system = build_system_prompt(creator, None)
    print(f"generator: {'lexical only' if args.lexical else 'semantic + lexical'}\n")

    facts_ok = source_ok = retrieved_ok = not_found_with_source = 0
    for q in questions["questions"]:
        sources = retrieve(index, embedder, q["question"])
        gen = answer(generator, system, q["question"], sources)[0]
        has_facts = all(s in gen.text for s in q["answer_contains"])
        cited_files = {files[sources[n - 1].document_id] for n in gen.cited}
        right_source = q["file"] in cited_files
        in_sources = any(files[c.document_id] == q["file"] for c in sources)
        facts_ok += has_facts
        source_ok += right_source
        retrieved_ok += in_sources
        not_found_with_source += gen.text == NOT_FOUND_ANSWER and in_sources
        flag = "ok " if has_facts and right_source else "BAD"
        print(
            f"{flag} {q['id']} facts={'y' if has_facts else 'n'} "
            f"source={'y' if right_source else 'n'} retrieved={'y' if in_sources else 'n'} "
            f"{q['question']}"
        )
        if args.verbose or not (has_facts and right_source):
            print(f"      {short(gen.text, 400)}")

    off_ok = 0
    for q in questions["off_topic"]:
        sources = retrieve(index, embedder, q["question"])
        gen = answer(generator, system, q["question"], sources)[0]
        refused = gen.text == NOT_FOUND_ANSWER
        off_ok += refused
        print(
            f"{'ok ' if refused else 'BAD'} {q['id']} not_found={'y' if refused else 'n'} "
            f"sources={len(sources)} {q['question']}"
        )
        if args.verbose or not refused:
            print(f"      {short(gen.text, 400)}")

    cold_ms: list[float] = []
    warm_ms: list[float] = []
    for q in [*questions["questions"], *questions["off_topic"]]:
        cache = CachingEmbedder(model, MemoryCache(), ttl_s=3600)
        sources = retrieve(index, cache, q["question"])  # caches the question's vector
        fresh = (
            LocalExtractiveGenerator() if args.lexical else LocalExtractiveGenerator(embedder=cache)
        )
        cold_ms.append(answer(fresh, system, q["question"], sources)[1])
        warm_ms.append(answer(fresh, system, q["question"], sources)[1])

    n = len(questions["questions"])
    print()
    print(f"answers containing the facts : {facts_ok}/{n}")
    print(f"right source cited           : {source_ok}/{n}")
    print(f"right file among the sources : {retrieved_ok}/{n}")
    print(f"NOT_FOUND though retrieved   : {not_found_with_source}/{n}")
    print(f"off-topic NOT_FOUND          : {off_ok}/{len(questions['off_topic'])}")
    for label, values in (("cold", cold_ms), ("warm", warm_ms)):
        print(
            f"generate() {label}: median {statistics.median(values):.1f} ms, "
            f"max {max(values):.1f} ms, mean {statistics.mean(values):.1f} ms "
            f"over {len(values)} answers"
        )


if __name__ == "__main__":
    main()

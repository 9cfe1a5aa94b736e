"""Answer quality of the embedded extractive generator on the bundled demo corpus, as a fan
gets it: through the chat's real use case.

    python bench/generator_quality.py [--lexical] [--verbose]

The demo creator (``creator_chat/demo``: profile with its persona, four videos and a
Markdown guide) is created and ingested into a fresh embedded data dir exactly as the app
does (``ingest.submit_document`` + ``process_job``: parse, chunk, the local MiniLM
embedder, the embedded index). Then each of the 16 demo questions is asked with
``usecases.chat.ask`` (retrieval: hybrid top-k and the answerability gate; the system prompt
with the persona; the generator the container wires in; ``make_citations``), and the answer
is checked for every ``answer_contains`` string and for citing the expected file; each
off-topic question must get NOT_FOUND.

``--lexical`` swaps in the embedder-free generator (the container's generator override).
Latency is ``generate()`` wall time per answer: cold (as timed inside ``ask``: the question's
vector cached by retrieval, the sentences' not unless an earlier question embedded them)
and warm (the same call again on the same sources: every sentence vector cached).
Always exits 0: this reports, it does not gate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from _corpus import build_creator
from creator_chat.adapters.embedded.local_generator import LocalExtractiveGenerator
from creator_chat.container import Container
from creator_chat.domain.models import Creator, Identity, Role, Tier
from creator_chat.prompting import NOT_FOUND_ANSWER, build_system_prompt, fit_to_budget
from creator_chat.usecases import chat as chat_uc

ADMIN = Identity("bench-admin", Role.ADMIN, Tier.ENTERPRISE)


def build(data_dir: Path, *, lexical: bool) -> tuple[Container, Creator, dict[str, str]]:
    """A fresh embedded container holding the demo creator; document id -> file name."""
    folder = resources.files("creator_chat") / "demo"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    profile = json.loads((folder / manifest["creator"]).read_text(encoding="utf-8"))
    documents = [(e, (folder / e["file"]).read_bytes()) for e in manifest["documents"]]
    c, creator, files = build_creator(data_dir, profile, documents)
    if lexical:
        c.overrides["generator"] = LocalExtractiveGenerator()
    return c, creator, files


def warm_ms(c: Container, creator: Creator, question: str) -> float:
    """``generate()`` again on the sources ``ask`` used (context-cached): all vectors cached."""
    sources = chat_uc.retrieve_sources(c, creator, question, None, {})
    if not sources:
        return 0.0
    system = build_system_prompt(creator, None)
    turns, kept = fit_to_budget(system, [], sources, question, c.settings.prompt_token_budget)
    start = time.perf_counter()
    c.generator.generate(
        system=system,
        history=turns,
        question=question,
        sources=kept,
        max_tokens=c.settings.answer_max_tokens,
    )
    return (time.perf_counter() - start) * 1000.0


def short(text: str, width: int = 150) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lexical", action="store_true", help="generator without an embedder")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every answer")
    args = parser.parse_args()

    folder = resources.files("creator_chat") / "demo"
    questions: dict[str, Any] = json.loads((folder / "questions.json").read_text("utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        c, creator, files = build(Path(tmp), lexical=args.lexical)
        print(f"ingested the demo creator in {time.perf_counter() - started:.1f} s")
        print(f"generator: {'lexical only' if args.lexical else 'semantic + lexical'}\n")
        fans: Iterator[Identity] = (
            Identity(f"fan-{i}", Role.FAN, Tier.ENTERPRISE) for i in range(10_000)
        )
        cold: list[float] = []
        warm: list[float] = []

        def ask(question: str) -> chat_uc.ChatResult:
            result = chat_uc.ask(c, next(fans), creator.creator_id, question)
            if "generate" in result.timings_ms:
                cold.append(result.timings_ms["generate"])
                warm.append(warm_ms(c, creator, question))
            return result

        facts_ok = source_ok = 0
        for q in questions["questions"]:
            result = ask(q["question"])
            has_facts = all(s in result.answer for s in q["answer_contains"])
            right_source = q["file"] in {files.get(cit.document_id) for cit in result.citations}
            facts_ok += has_facts
            source_ok += right_source
            flag = "ok " if has_facts and right_source else "BAD"
            print(
                f"{flag} {q['id']} facts={'y' if has_facts else 'n'} "
                f"source={'y' if right_source else 'n'} {q['question']}"
            )
            if args.verbose or not (has_facts and right_source):
                print(f"      {short(result.answer, 600)}")

        off_ok = 0
        for q in questions["off_topic"]:
            result = ask(q["question"])
            refused = result.answer == NOT_FOUND_ANSWER
            off_ok += refused
            print(f"{'ok ' if refused else 'BAD'} {q['id']} not_found={'y' if refused else 'n'} "
                  f"{q['question']}")  # fmt: skip
            if args.verbose or not refused:
                print(f"      {short(result.answer, 600)}")
        c.close()

    n = len(questions["questions"])
    print()
    print(f"answers containing the facts : {facts_ok}/{n}")
    print(f"right source cited           : {source_ok}/{n}")
    print(f"off-topic NOT_FOUND          : {off_ok}/{len(questions['off_topic'])}")
    for label, values in (("cold", cold), ("warm", warm)):
        if values:
            print(
                f"generate() {label}: median {statistics.median(values):.1f} ms, "
                f"max {max(values):.1f} ms, mean {statistics.mean(values):.1f} ms "
                f"over {len(values)} answers"
            )


if __name__ == "__main__":
    main()

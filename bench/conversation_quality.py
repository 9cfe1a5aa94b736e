"""Answers in context: follow-ups, the video a fan watches, the second a citation opens at,
exact terms, off-topic honesty — through the chat's real use case on the embedded default.

    python bench/conversation_quality.py [--channel bike|wood] [--verbose]

Two channels, each three VTT videos with known cue times and a Markdown manual with part
numbers and error codes: a bike-maintenance channel written for this bench
(``bench/data/bike/``), and a woodworking channel that a probe wrote later without looking
at the code (``bench/data/wood/``: natural speech, asides, a fan's question repeated on
camera). Each is ingested into a fresh embedded data dir (the local MiniLM embedder, the
extractive generator), then:

- follow-ups: two turns in one thread; the second answer must carry the facts;
- video context: a question that only makes sense in the video the fan is watching, asked
  twice on that video (``video_id`` on both turns); both answers must carry the facts;
- citation seconds: the cited second of the expected video must be within 5 s of the cue
  where the fact is said;
- exact terms: a part number / error code question must be answered;
- off-topic: must be refused.

Prints one line per case with ``--verbose`` and a summary, the channels side by side; always
exits 0 (it reports).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from _corpus import build_creator
from creator_chat.container import Container
from creator_chat.domain.models import Identity, Role, Tier
from creator_chat.prompting import NOT_FOUND_ANSWER
from creator_chat.usecases import chat as chat_uc

CHANNELS = ("bike", "wood")
DATA = Path(__file__).parent / "data" / "bike"
ADMIN = Identity("bench-admin", Role.ADMIN, Tier.ENTERPRISE)
TOLERANCE_S = 5.0


def build(data_dir: Path, data: Path = DATA) -> tuple[Container, str, dict[str, str]]:
    manifest = json.loads((data / "manifest.json").read_text())
    documents = [(d, (data / d["file"]).read_bytes()) for d in manifest["documents"]]
    c, creator, files = build_creator(data_dir, manifest["creator"], documents)
    return c, creator.creator_id, files


def ask(c: Container, fan: Identity, creator_id: str, text: str, **kw: Any) -> chat_uc.ChatResult:
    return chat_uc.ask(c, fan, creator_id, text, **kw)


def carries(answer: str, facts: list[str]) -> bool:
    return all(f.lower() in answer.lower() for f in facts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channel", choices=CHANNELS, action="append")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    channels = args.channel or list(CHANNELS)
    tables = {name: run(DATA.parent / name, args.verbose) for name in channels}
    groups = list(dict.fromkeys(g for table in tables.values() for g in table))
    print(f"{'group':12} " + " ".join(f"{name:>16}" for name in channels))
    for group in groups:
        cells = []
        for name in channels:
            oks = tables[name].get(group, [])
            share = f"{100 * sum(oks) / len(oks):5.1f} %" if oks else ""
            cells.append(f"{sum(oks):>4}/{len(oks):<3} {share:>7}" if oks else f"{'':>16}")
        print(f"{group:12} " + " ".join(cells))
    return 0


def run(data: Path, verbose: bool) -> dict[str, list[bool]]:
    """One channel's cases: group -> pass/fail per case."""
    cases = json.loads((data / "cases.json").read_text())
    if verbose:
        print(f"== {data.name}")
    with tempfile.TemporaryDirectory() as tmp:
        c, creator_id, doc_files = build(Path(tmp), data)
        fans = (Identity(f"fan-{i}", Role.FAN, Tier.ENTERPRISE) for i in range(10_000))
        results: dict[str, list[bool]] = {}

        def report(group: str, ok: bool, label: str, answer: str) -> None:
            results.setdefault(group, []).append(ok)
            if verbose:
                print(f"[{'ok' if ok else '--'}] {group:11} {label}\n      {answer[:220]}")

        for case in cases["follow_ups"]:
            fan = next(fans)
            first = ask(c, fan, creator_id, case["turns"][0])
            second = ask(c, fan, creator_id, case["turns"][1], thread_id=first.thread_id)
            report(
                "follow-up",
                carries(second.answer, case["contains"]),
                " / ".join(case["turns"]),
                second.answer,
            )

        for case in cases["video"]:
            fan = next(fans)
            first = ask(c, fan, creator_id, case["question"], video_id=case["video_id"])
            again = ask(
                c, fan, creator_id, case["question"], video_id=case["video_id"],
                thread_id=first.thread_id,
            )  # fmt: skip
            ok = carries(first.answer, case["contains"]) and carries(again.answer, case["contains"])
            report("video", ok, f"{case['video_id']}: {case['question']}", again.answer)

        for case in cases["seconds"]:
            answer = ask(c, next(fans), creator_id, case["question"])
            seconds = [
                cit.start_s
                for cit in answer.citations
                if doc_files.get(cit.document_id) == case["document"] and cit.start_s is not None
            ]
            ok = any(abs(s - case["second"]) <= TOLERANCE_S for s in seconds)
            report(
                "seconds",
                ok,
                f"{case['question']} (want {case['second']}s, got {seconds})",
                answer.answer,
            )

        for case in cases["exact_terms"]:
            answer = ask(c, next(fans), creator_id, case["question"])
            report(
                "exact-term",
                carries(answer.answer, case["contains"]),
                case["question"],
                answer.answer,
            )

        for question in cases["off_topic"]:
            answer = ask(c, next(fans), creator_id, question)
            report("off-topic", answer.answer == NOT_FOUND_ANSWER, question, answer.answer)

        c.close()
    return results


if __name__ == "__main__":
    sys.exit(main())

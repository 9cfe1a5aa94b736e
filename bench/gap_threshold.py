"""Calibrate the cosine at which content gaps (and down-rated questions) merge into a group.

    python bench/gap_threshold.py [--threshold 0.72]

Embeds fans' questions written for this bench with the container's embedder (the local
MiniLM by default; ``CREATOR_CHAT_EMBEDDER=bedrock`` calibrates Titan the same way):

- paraphrase groups: one question in three wordings ("Do you sell replacement gaskets for the
  group head?" / "Where can I buy a new group head gasket?" / ...);
- hard negatives: two different questions on one topic ("How often should I descale?" /
  "How often should I backflush?"), which must stay apart;
- every pair of questions of different groups (easy negatives).

Prints the cosine distribution of each kind of pair, then runs the stores' own grouping
(``domain.insights.nearest`` + ``joined_centroid``, the questions in 20 shuffled orders) at
each threshold and reports pair precision (two questions grouped together are one question)
and recall (two wordings of one question end up together). A false merge is the costlier
error — it hides a question behind another's wording, and lets fans who asked different
things count toward each other's three — so the default favours precision. Exits 0.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics

from creator_chat.container import Container
from creator_chat.domain.insights import (
    DEFAULT_GROUP_SIMILARITY,
    cosine,
    joined_centroid,
    nearest,
    unit,
)
from creator_chat.settings import Settings

PARAPHRASES = [
    [
        "Do you sell replacement gaskets for the group head?",
        "Where can I buy a new group head gasket?",
        "Is there a spare group gasket I can order?",
    ],
    [
        "Can I use this machine with 110V power in the US?",
        "Does the machine work on American 110 volt outlets?",
        "Will it run on US voltage?",
    ],
    [
        "How do I make oat milk foam that holds?",
        "Any tips for steaming oat milk so the foam lasts?",
        "Why does my oat milk foam collapse?",
    ],
    [
        "What is the warranty on the grinder?",
        "How long is the grinder covered by warranty?",
        "Does the grinder come with a guarantee?",
    ],
    [
        "Which tubeless sealant do you recommend?",
        "What brand of tubeless sealant should I buy?",
        "Best sealant for tubeless tires?",
    ],
    [
        "How do I adjust the rear derailleur limit screws?",
        "How to set the high and low limit screws on my derailleur?",
        "Setting derailleur limits, how?",
    ],
    [
        "Can I ride the bike in the rain?",
        "Is it ok to cycle in wet weather with this bike?",
        "Will riding in rain damage the bike?",
    ],
    [
        "What camera do you film with?",
        "Which camera do you use for your videos?",
        "What's your camera setup?",
    ],
    [
        "Do you have a discount code?",
        "Is there a coupon code for your store?",
        "Any promo code available?",
    ],
    [
        "When is the next video coming out?",
        "When will you upload the next episode?",
        "What's the release date of your next video?",
    ],
    [
        "How do I cancel my subscription?",
        "How can I stop my membership?",
        "I want to unsubscribe from the paid plan, how?",
    ],
    [
        "Is the course suitable for complete beginners?",
        "Can a total beginner follow this course?",
        "Do I need experience before starting the course?",
    ],
    [
        "How much caffeine is in a double shot?",
        "What's the caffeine content of a doppio?",
        "How many mg of caffeine does a double espresso have?",
    ],
    [
        "Can I use pre-ground coffee?",
        "Does it work with already ground coffee from the store?",
        "Is supermarket ground coffee ok for this machine?",
    ],
]

# same topic, another question: these must not merge
HARD_NEGATIVES = [
    ("How often should I descale the machine?", "How often should I backflush the machine?"),
    ("What grind size for espresso?", "What grind size for pour over?"),
    (
        "How do I adjust the rear derailleur limit screws?",
        "How do I adjust the front derailleur cable tension?",
    ),
    ("What tyre pressure for road riding?", "What tyre pressure for gravel riding?"),
    ("What is the warranty on the grinder?", "What is the warranty on the espresso machine?"),
    ("Which tubeless sealant do you recommend?", "How often should I top up tubeless sealant?"),
    ("What camera do you film with?", "What microphone do you use?"),
    ("How do I cancel my subscription?", "How do I upgrade my subscription?"),
    (
        "Can I use this machine with 110V power in the US?",
        "Can I use this machine with a water filter?",
    ),
    ("When is the next video coming out?", "When is your next live stream?"),
    ("How do I make oat milk foam that holds?", "How do I make almond milk foam?"),
    ("How much caffeine is in a double shot?", "How much coffee goes in a double shot?"),
    ("Is the course suitable for complete beginners?", "Is the course suitable for kids?"),
    (
        "Do you sell replacement gaskets for the group head?",
        "Do you sell replacement shower screens?",
    ),
]

THRESHOLDS = (0.60, 0.65, 0.68, 0.70, 0.72, 0.75, 0.78, 0.80, 0.85)
ORDERS = 20


def labels() -> dict[str, int]:
    """Each question's meaning: its paraphrase group, or a meaning of its own."""
    out = {q: g for g, group in enumerate(PARAPHRASES) for q in group}
    for i, (a, b) in enumerate(HARD_NEGATIVES):
        out.setdefault(a, 1000 + 2 * i)
        out.setdefault(b, 1001 + 2 * i)
    return out


def group(order: list[str], vectors: dict[str, list[float]], threshold: float) -> list[list[str]]:
    """The stores' online grouping: each question joins the nearest centroid at the threshold
    or above (the centroid becomes the running mean), else starts a group."""
    groups: list[tuple[str, list[float], int]] = []
    members: dict[str, list[str]] = {}
    for text in order:
        v = vectors[text]
        match = nearest(groups, v, threshold)
        if match is None:
            groups.append((text, v, 1))
            members[text] = [text]
            continue
        i = next(n for n, g in enumerate(groups) if g[0] == match[0])
        groups[i] = (match[0], joined_centroid(match[1], match[2], v), match[2] + 1)
        members[match[0]].append(text)
    return list(members.values())


def pairs_together(groups: list[list[str]]) -> set[tuple[str, str]]:
    return {p for g in groups for p in itertools.combinations(sorted(g), 2)}


def describe(name: str, scores: list[float]) -> str:
    s = sorted(scores)
    return (
        f"{name:<28} n={len(s):>4}  min {s[0]:.3f}  p10 {s[len(s) // 10]:.3f}  "
        f"median {statistics.median(s):.3f}  p90 {s[9 * len(s) // 10]:.3f}  max {s[-1]:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threshold", type=float, default=DEFAULT_GROUP_SIMILARITY)
    args = parser.parse_args()

    embedder = Container(Settings()).embedder
    meaning = labels()
    texts = sorted(meaning)
    vectors = {t: unit(v) for t, v in zip(texts, embedder.embed(texts), strict=True)}
    print(f"embedder: {embedder.model_id}, {len(texts)} questions\n")

    para = [(cosine(vectors[a], vectors[b]), a, b) for g in PARAPHRASES
            for a, b in itertools.combinations(g, 2)]  # fmt: skip
    hard = [(cosine(vectors[a], vectors[b]), a, b) for a, b in HARD_NEGATIVES]
    easy = [
        cosine(vectors[a], vectors[b])
        for g1, g2 in itertools.combinations(PARAPHRASES, 2)
        for a in g1
        for b in g2
    ]
    print(describe("paraphrase pairs", [s for s, *_ in para]))
    print(describe("same topic, other question", [s for s, *_ in hard]))
    print(describe("unrelated pairs", easy))
    print("\nclosest different questions:")
    for s, a, b in sorted(hard)[-4:]:
        print(f"  {s:.3f}  {a} | {b}")
    print("farthest paraphrases:")
    for s, a, b in sorted(para)[:4]:
        print(f"  {s:.3f}  {a} | {b}")

    truth = {p for p in itertools.combinations(texts, 2) if meaning[p[0]] == meaning[p[1]]}
    meanings = len(set(meaning.values()))
    print(f"\n{'threshold':>9}  {'precision':>9}  {'recall':>6}  groups (of {meanings})")
    for threshold in sorted({*THRESHOLDS, args.threshold}):
        precision, recall, sizes = [], [], []
        for seed in range(ORDERS):
            order = texts[:]
            random.Random(seed).shuffle(order)
            groups = group(order, vectors, threshold)
            together = pairs_together(groups)
            hit = len(together & truth)
            precision.append(hit / len(together) if together else 1.0)
            recall.append(hit / len(truth))
            sizes.append(len(groups))
        mark = "  <- default" if threshold == args.threshold else ""
        print(
            f"{threshold:>9.2f}  {statistics.mean(precision):>9.2f}  "
            f"{statistics.mean(recall):>6.2f}  {statistics.mean(sizes):.1f}{mark}"
        )


if __name__ == "__main__":
    main()

"""What a creator learns from its fans' questions, in numbers: question groups (content gaps,
down-rated answers), per-day counters and an answer-time histogram. Pure functions only.

Nothing here names a fan. Groups count fans through per-week pseudonyms (see
``usecases/insights.py``); counters are per (creator, day) and hold no user id.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

#: How long a question group lives after its last asking, and a day's counters after the day.
INSIGHTS_RETENTION_S = 90 * 24 * 3600
#: The longest range the analytics and feedback routes read (the counters' retention).
MAX_DAYS = 90

#: Cosine to a group's centroid at or above which a question joins that group. Calibrated
#: on the local MiniLM embedder by ``bench/gap_threshold.py`` (paraphrases vs different
#: questions on one topic): 87 % pair precision, 65 % recall; the README's "What fans ask"
#: has the figures and why precision comes first.
DEFAULT_GROUP_SIMILARITY = 0.72

#: A group's wording is stored at most this long (like trending's questions).
QUESTION_CHARS = 200


class GroupKind(StrEnum):
    GAP = "gap"  # the assistant could not answer it from the creator's content
    DOWN = "down"  # its answer was rated down


@dataclass(frozen=True)
class QuestionGroup:
    """Questions of one meaning: its wording (only once ``min_fans`` different fans asked it
    within one week), the most different fans in any one week, every asking, the last one."""

    group_id: str
    question: str | None
    fans: int
    asked: int
    last_asked_at: int


# ---------------------------------------------------------------------------- vectors
def unit(vector: Iterable[float]) -> list[float]:
    values = [float(x) for x in vector]
    norm = math.sqrt(sum(x * x for x in values)) or 1.0
    return [x / norm for x in values]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Of two unit vectors (a dot product); vectors of different lengths never match."""
    if len(a) != len(b):
        return -1.0
    return sum(x * y for x, y in zip(a, b, strict=True))


def pack_vector(vector: Sequence[float]) -> bytes:
    """A centroid as float16, little-endian: half the bytes of float32, and plenty for a
    threshold near 0.7 (the rounding moves a cosine by well under 0.001)."""
    return struct.pack(f"<{len(vector)}e", *vector)


def unpack_vector(data: bytes) -> list[float]:
    return unit(struct.unpack(f"<{len(data) // 2}e", data))


def nearest(
    groups: Iterable[tuple[str, Sequence[float], int]], vector: Sequence[float], threshold: float
) -> tuple[str, Sequence[float], int] | None:
    """The group ``(id, centroid, asked)`` closest to ``vector`` at ``threshold`` or above."""
    best, best_score = None, threshold
    for group in groups:
        score = cosine(group[1], vector)
        if score >= best_score:
            best, best_score = group, score
    return best


def joined_centroid(centroid: Sequence[float], asked: int, vector: Sequence[float]) -> list[float]:
    """The centroid once ``vector`` joins a group of ``asked`` askings (their running mean)."""
    weight = max(1, asked)
    return unit(c * weight + v for c, v in zip(centroid, vector, strict=True))


# -------------------------------------------------------------------- answer times
#: Upper bounds (ms) of the answer-time histogram's buckets; one more bucket holds the rest.
LATENCY_BOUNDS_MS: tuple[int, ...] = (
    25, 50, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500,
    10_000, 15_000, 20_000, 30_000, 60_000, 120_000, 300_000,
)  # fmt: skip


def latency_counter(ms: float) -> str:
    """The counter an answer time adds to: ``ms_<upper bound>`` or ``ms_inf``."""
    for bound in LATENCY_BOUNDS_MS:
        if ms <= bound:
            return f"ms_{bound}"
    return "ms_inf"


def median_ms(counters: Mapping[str, int]) -> int | None:
    """The median answer time read from the histogram's counters: linear within the bucket
    that holds it (the answers of a bucket spread evenly over it), so it is exact to the
    bucket's width; the open last bucket gives its lower bound. ``None`` with no answers."""
    counts = [max(0, int(counters.get(f"ms_{b}", 0))) for b in LATENCY_BOUNDS_MS]
    overflow = max(0, int(counters.get("ms_inf", 0)))
    total = sum(counts) + overflow
    if total == 0:
        return None
    rank, below, lower = total / 2, 0, 0
    for bound, n in zip(LATENCY_BOUNDS_MS, counts, strict=True):
        if n and below + n >= rank:
            return round(lower + (bound - lower) * (rank - below) / n)
        below, lower = below + n, bound
    return LATENCY_BOUNDS_MS[-1]


# ------------------------------------------------------------------------ calendar
def day_of(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d")


def day_end(day: str) -> int:
    """The first second after the UTC day ``day`` (an ISO date)."""
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
    return int((start + timedelta(days=1)).timestamp())


def week_of_day(day: str) -> str:
    return date.fromisoformat(day).strftime("%G-W%V")


def week_of(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%G-W%V")


def week_end(epoch_s: float) -> int:
    """The first second of the next ISO week (Monday 00:00 UTC)."""
    day = datetime.fromtimestamp(epoch_s, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((day + timedelta(days=7 - day.weekday())).timestamp())


def last_days(now: float, days: int) -> list[str]:
    """The ``days`` UTC days ending today, oldest first."""
    today = datetime.fromtimestamp(now, UTC).date()
    return [(today - timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]


def last_weeks(now: float, weeks: int) -> tuple[list[str], str]:
    """The ``weeks`` ISO weeks ending with this one, oldest first, and the first day of the
    oldest (a Monday)."""
    today = datetime.fromtimestamp(now, UTC).date()
    monday = today - timedelta(days=today.weekday())
    mondays = [monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    return [m.strftime("%G-W%V") for m in mondays], mondays[0].isoformat()

"""Small helpers shared by the benchmarks: percentiles and a printed table."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def row(name: str, values: Sequence[float], unit: str = "ms") -> str:
    return (
        f"{name:<44} {min(values):>9.2f} {statistics.median(values):>9.2f} "
        f"{pct(values, 99):>9.2f} {len(values):>6}  {unit}"
    )


def header(title: str) -> str:
    return f"\n{title}\n{'':<44} {'min':>9} {'median':>9} {'p99':>9} {'n':>6}"

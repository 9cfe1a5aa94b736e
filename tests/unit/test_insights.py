"""The pure parts of creator insights: the answer-time histogram and its median, grouping
vectors, and the calendar of days and weeks."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from creator_chat.domain.insights import (
    LATENCY_BOUNDS_MS,
    cosine,
    day_end,
    joined_centroid,
    last_days,
    last_weeks,
    latency_counter,
    median_ms,
    nearest,
    pack_vector,
    unit,
    unpack_vector,
    week_end,
)


def histogram(*times_ms: float) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ms in times_ms:
        name = latency_counter(ms)
        counts[name] = counts.get(name, 0) + 1
    return counts


@pytest.mark.parametrize(
    ("ms", "counter"),
    [(0, "ms_25"), (25, "ms_25"), (25.1, "ms_50"), (2999, "ms_3000"), (10**7, "ms_inf")],
)
def test_an_answer_time_lands_in_the_bucket_of_its_upper_bound(ms: float, counter: str):
    assert latency_counter(ms) == counter


def test_the_median_is_exact_to_its_buckets_width():
    times = [80, 90, 95, 400, 420, 2500, 9000]  # the median is 400
    assert 300 < median_ms(histogram(*times)) <= 500  # type: ignore[operator]


def test_the_median_of_nothing_is_none_and_of_the_open_bucket_its_lower_bound():
    assert median_ms({}) is None
    assert median_ms({"ms_inf": 3}) == LATENCY_BOUNDS_MS[-1]


def test_the_median_ignores_counters_it_does_not_know_and_negative_ones():
    assert median_ms({"questions": 9, "ms_100": 2, "ms_200": -1}) == 75


def test_a_vector_survives_float16_storage_to_well_under_a_thousandth():
    v = unit([math.sin(i) for i in range(384)])
    assert cosine(unpack_vector(pack_vector(v)), v) > 0.9999
    assert len(pack_vector(v)) == 768


def test_nearest_takes_the_closest_group_at_or_over_the_threshold():
    a, b = unit([1, 0, 0]), unit([0, 1, 0])
    groups = [("a", a, 1), ("b", b, 1)]
    assert nearest(groups, unit([1, 0.2, 0]), 0.72)[0] == "a"  # type: ignore[index]
    assert nearest(groups, unit([1, 1, 0]), 0.72) is None  # 0.71 to both
    assert nearest(groups, unit([1, 2, 3]), -1.0) is not None
    assert nearest([("short", [1.0], 1)], a, 0.0) is None  # another embedder's dimension


def test_a_joined_centroid_is_the_running_mean():
    centroid = joined_centroid(unit([1, 0]), 3, unit([0, 1]))
    assert centroid == pytest.approx(unit([3, 1]))


def test_days_and_weeks_end_today_oldest_first():
    now = datetime(2026, 12, 2, 15, 0, tzinfo=UTC).timestamp()  # a Wednesday, week 49
    assert last_days(now, 3) == ["2026-11-30", "2026-12-01", "2026-12-02"]
    assert last_weeks(now, 2) == (["2026-W48", "2026-W49"], "2026-11-23")
    assert week_end(now) == datetime(2026, 12, 7, tzinfo=UTC).timestamp()
    assert day_end("2026-12-02") == datetime(2026, 12, 3, tzinfo=UTC).timestamp()

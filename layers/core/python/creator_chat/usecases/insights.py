"""What a creator learns from its fans: content gaps, a feedback summary, analytics in numbers.

Recording is called by the chat use cases at an answer's outcome and on a rating, and is best
effort: a failed write is logged and counted (``InsightsNotRecorded``), never a failed answer.
Only fans count — never the creator, its team or admins (the trending rule) — and nothing here
stores more about a fan than trending does:

- counters per (creator, UTC day): questions, answered, not found, cached, an answer-time
  histogram and ratings — no user id at all;
- question groups (``gap``: the assistant gave the not-found answer; ``down``: an answer was
  rated down) whose words are stored only once ``min_fans`` different fans asked within one
  week. A fan is recognised only within a week, by an HMAC under trending's per-week key
  (discarded after the week) of a per-kind name, so a group's markers cannot be linked to a
  fan afterwards, nor to the fan's trending markers.

Reading is for the creator's owner and team and for admins (``Identity.can_manage_creator``).
"""

from __future__ import annotations

import functools
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ParamSpec, Protocol

from creator_chat import retrieval
from creator_chat.domain.insights import (
    INSIGHTS_RETENTION_S,
    MAX_DAYS,
    GroupKind,
    QuestionGroup,
    day_of,
    last_days,
    last_weeks,
    latency_counter,
    median_ms,
    week_end,
    week_of,
    week_of_day,
)
from creator_chat.domain.models import Feedback, Identity, Message, Role
from creator_chat.errors import InvalidInput
from creator_chat.observability import count, logger
from creator_chat.ports import (
    AuditLog,
    Clock,
    CreatorStatsStore,
    Embedder,
    QuestionGroupStore,
    ThreadStore,
    TrendingStore,
)
from creator_chat.prompting import NOT_FOUND_ANSWER
from creator_chat.usecases.threads import Auditor

if TYPE_CHECKING:
    from creator_chat.settings import Settings

#: a week's pseudonyms outlive the week by this much (a late answer of the week's last
#: second still finds its key), as trending's do
WEEK_GRACE_S = 24 * 3600
MAX_WEEKS = MAX_DAYS // 7

P = ParamSpec("P")


class InsightsDeps(Protocol):
    """What recording and reading insights need (the container, or ``ChatDeps``)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def embedder(self) -> Embedder: ...
    @property
    def threads(self) -> ThreadStore: ...
    @property
    def trending(self) -> TrendingStore: ...
    @property
    def question_groups(self) -> QuestionGroupStore: ...
    @property
    def creator_stats(self) -> CreatorStatsStore: ...


# ---------------------------------------------------------------------------- recording
def _best_effort(record: Callable[P, None]) -> Callable[P, None]:
    """Insights must never cost a fan an answer (nor a rating): whatever fails is logged and
    counted (``InsightsNotRecorded``) instead."""

    @functools.wraps(record)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            record(*args, **kwargs)
        except Exception:
            _not_recorded(record.__name__)

    return guarded


def fan_id(caller: Identity, creator_id: str) -> str | None:
    """The caller's user id when what it asks counts for this creator (a fan), else ``None``:
    the creator, its team and admins testing the assistant never count."""
    if caller.role is not Role.FAN or caller.can_manage_creator(creator_id):
        return None
    return caller.user_id


def started(timings: Mapping[str, float]) -> float:
    """Where a synchronous answer's time starts, for :func:`record_answer`: now, less the
    steps the question already went through (``timings``, in ms: loading the creator, the
    quota, storing the question)."""
    return time.perf_counter() - sum(timings.values()) / 1000


@_best_effort
def record_queued(deps: InsightsDeps, creator_id: str, *, fan: str | None) -> None:
    """A question was queued for the chat worker: it counts as asked today."""
    if fan is None:
        return
    _add(deps, creator_id, day_of(deps.clock.now()), {"questions": 1})


@_best_effort
def record_answer(
    deps: InsightsDeps,
    question: Message,
    answer: str,
    *,
    fan: str | None,
    history: Sequence[Message] = (),
    cached: bool = False,
    since: float | None = None,
    asked_now: bool = True,
) -> None:
    """An answer was stored: today's counters (a question when ``asked_now``, answered or not
    found, a cache hit, its time in the histogram) and, when the answer is the not-found one,
    the question in the creator's content gaps. The time runs from ``since`` (a
    :func:`started` value) or, for a queued question, from when it was asked."""
    if fan is None:
        return
    now = deps.clock.now()
    if since is not None:
        ms = (time.perf_counter() - since) * 1000
    else:
        ms = (now - question.created_at) * 1000
    not_found = NOT_FOUND_ANSWER in answer
    counts = {
        "questions": int(asked_now),
        "not_found" if not_found else "answered": 1,
        "cached": int(cached),
        latency_counter(max(0.0, ms)): 1,
    }
    _add(deps, question.creator_id, day_of(now), counts)
    if not_found:
        text = _standalone(question.content, history)
        _group(deps, GroupKind.GAP, question.creator_id, fan, text, now)


@_best_effort
def record_rating(
    deps: InsightsDeps,
    caller: Identity,
    answer: Message,
    feedback: Feedback,
    previous: Feedback | None,
) -> None:
    """A fan rated an answer: the rating counts in the week it was (last) given — a rating
    given again moves from its former day to today — and an answer newly rated down puts its
    question in the creator's down-rated groups."""
    fan = fan_id(caller, answer.creator_id)
    if fan is None:
        return
    now = deps.clock.now()
    today = day_of(now)
    if previous is None or (previous.rating, day_of(previous.created_at)) != (
        feedback.rating,
        today,
    ):
        if previous is not None and now - previous.created_at < INSIGHTS_RETENTION_S:
            _add(deps, answer.creator_id, day_of(previous.created_at), {_rated(previous): -1})
        _add(deps, answer.creator_id, today, {_rated(feedback): 1})
    if feedback.rating != "down" or (previous is not None and previous.rating == "down"):
        return
    try:
        messages = deps.threads.list_messages(answer.thread_id, limit=500)
    except Exception:
        _not_recorded("down-rated question")
        return
    asked = next((m for m in messages if m.message_id == answer.reply_to), None)
    if asked is None:
        return
    earlier = [m for m in messages if m.role == "user" and m.message_id < asked.message_id]
    _group(deps, GroupKind.DOWN, answer.creator_id, fan, _standalone(asked.content, earlier), now)


def _rated(feedback: Feedback) -> str:
    return "rated_down" if feedback.rating == "down" else "rated_up"


def _standalone(question: str, history: Sequence[Message]) -> str:
    """A follow-up ("And how often?") grouped as the question it stands for (the
    deterministic rewrite retrieval uses)."""
    earlier = [m.content for m in history if m.role == "user" and m.content]
    return retrieval.standalone_question(question, earlier)


def _add(deps: InsightsDeps, creator_id: str, day: str, counts: dict[str, int]) -> None:
    try:
        deps.creator_stats.add(creator_id, day, counts)
    except Exception:
        _not_recorded("counters")


def _group(
    deps: InsightsDeps, kind: GroupKind, creator_id: str, user_id: str, text: str, now: float
) -> None:
    try:
        week, until = week_of(now), week_end(now) + WEEK_GRACE_S
        secret = deps.trending.week_secret(week, expires_at=until)
        asker = hmac.new(secret, f"{kind.value}|{creator_id}|{user_id}".encode(), "sha256")
        vector = deps.embedder.embed([text])[0]
        deps.question_groups.record(
            creator_id,
            kind.value,
            vector,
            text,
            week=week,
            asker=asker.hexdigest()[:32],
            asker_expires_at=until,
        )
    except Exception:
        _not_recorded(f"{kind.value} question")


def _not_recorded(what: str) -> None:
    # insights must never cost a fan an answer (nor a rating): logged and counted instead
    logger.warning("creator insights not recorded", extra={"what": what}, exc_info=True)
    count("InsightsNotRecorded")


# ------------------------------------------------------------------------------ reading
@dataclass(frozen=True)
class DayNumbers:
    day: str  # an ISO date (UTC), or "total"
    questions: int
    answered: int
    not_found: int
    cached: int
    cache_hit_rate: float | None  # cached / (answered + not found); None with no answers
    median_answer_ms: int | None  # from the day's answer-time histogram


@dataclass(frozen=True)
class WeekRatings:
    week: str  # ISO week, e.g. "2026-W48"
    up: int
    down: int


@dataclass(frozen=True)
class FeedbackSummary:
    weeks: list[WeekRatings]  # oldest first, every week of the range
    down_rated: list[QuestionGroup]  # last rated down first


def content_gaps(
    deps: InsightsDeps,
    caller: Identity,
    creator_id: str,
    *,
    limit: int = 50,
    request_id: str = "",
) -> list[QuestionGroup]:
    """The questions the assistant could not answer from the content, grouped by meaning,
    each shown once ``min_fans`` different fans asked it in one week; last asked first."""
    _authorize(deps, caller, creator_id, "gaps.read", request_id)
    return deps.question_groups.list_groups(creator_id, GroupKind.GAP.value, limit=limit)


def feedback_summary(
    deps: InsightsDeps,
    caller: Identity,
    creator_id: str,
    *,
    weeks: int = 8,
    limit: int = 50,
    request_id: str = "",
) -> FeedbackSummary:
    """Ratings up and down per ISO week (the last ``weeks``), and the questions of answers
    rated down, under the same rule as content gaps."""
    _authorize(deps, caller, creator_id, "feedback.read", request_id)
    if not 1 <= weeks <= MAX_WEEKS:
        raise InvalidInput(f"weeks must be 1 to {MAX_WEEKS}")
    now = deps.clock.now()
    names, first = last_weeks(now, weeks)
    totals = {w: [0, 0] for w in names}
    for day, counters in deps.creator_stats.days(creator_id, first, day_of(now)).items():
        if (week := week_of_day(day)) in totals:
            totals[week][0] += counters.get("rated_up", 0)
            totals[week][1] += counters.get("rated_down", 0)
    return FeedbackSummary(
        weeks=[WeekRatings(w, max(0, up), max(0, down)) for w, (up, down) in totals.items()],
        down_rated=deps.question_groups.list_groups(creator_id, GroupKind.DOWN.value, limit=limit),
    )


def analytics(
    deps: InsightsDeps,
    caller: Identity,
    creator_id: str,
    *,
    days: int = 30,
    request_id: str = "",
) -> tuple[list[DayNumbers], DayNumbers]:
    """Per UTC day of the last ``days`` (oldest first, every day), and over them all: fans'
    questions, answers from the content, not-found answers, cached answers and their rate,
    and the median answer time."""
    _authorize(deps, caller, creator_id, "analytics.read", request_id)
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be 1 to {MAX_DAYS}")
    names = last_days(deps.clock.now(), days)
    stored = deps.creator_stats.days(creator_id, names[0], names[-1])
    total: dict[str, int] = {}
    for counters in stored.values():
        for name, n in counters.items():
            total[name] = total.get(name, 0) + n
    return [_numbers(day, stored.get(day, {})) for day in names], _numbers("total", total)


def _numbers(day: str, counters: dict[str, int]) -> DayNumbers:
    answered = max(0, counters.get("answered", 0))
    not_found = max(0, counters.get("not_found", 0))
    cached = max(0, counters.get("cached", 0))
    given = answered + not_found
    return DayNumbers(
        day=day,
        questions=max(0, counters.get("questions", 0)),
        answered=answered,
        not_found=not_found,
        cached=cached,
        cache_hit_rate=round(cached / given, 4) if given else None,
        median_answer_ms=median_ms(counters),
    )


def _authorize(
    deps: InsightsDeps, caller: Identity, creator_id: str, action: str, request_id: str
) -> None:
    Auditor(deps.audit, deps.clock, request_id).require_manager(
        caller, creator_id, action, "only the creator sees its analytics"
    )

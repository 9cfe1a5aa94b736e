"""The creator's side of what fans ask: content gaps, the feedback summary and analytics in
numbers (routes of the chat function; models and routes together, as they only serve here)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from creator_chat.api.common import Caller, CreatorRef, request_id
from creator_chat.api.common import ContainerDep as C
from creator_chat.api.routing import HttpApp, Query, Request
from creator_chat.domain.insights import MAX_DAYS, QuestionGroup
from creator_chat.usecases import insights as insights_uc


class GapOut(BaseModel):
    question: str = Field(description="one fan's wording of the group's question")
    fans: int = Field(
        description="different fans who asked it within one ISO week, in its busiest week "
        "(a fan is recognised only within a week: a lower bound of the different fans)"
    )
    asked: int = Field(description="every time a fan asked it, repeats included")
    last_asked_at: int = Field(description="epoch seconds")


class GapsOut(BaseModel):
    """Questions the assistant could not answer from the creator's content, grouped by
    meaning, last asked first; a group is listed only once ``min_fans`` different fans asked
    it within one week (before that its words are not even stored)."""

    creator_id: str
    min_fans: int
    gaps: list[GapOut]


class WeekRatingsOut(BaseModel):
    week: str = Field(description='ISO week, e.g. "2026-W48"')
    up: int
    down: int


class DownRatedOut(BaseModel):
    question: str
    fans: int = Field(description="different fans who rated it down, in its busiest ISO week")


class FeedbackSummaryOut(BaseModel):
    """Fans' ratings per ISO week (oldest first, every week of the range) and the questions
    whose answers fans rated down, under the same rule as content gaps."""

    creator_id: str
    min_fans: int
    weeks: list[WeekRatingsOut]
    down_rated: list[DownRatedOut]


class DayNumbersOut(BaseModel):
    day: str = Field(description='a UTC date ("2026-11-30"), or "total" for the whole range')
    questions: int = Field(description="fans' questions answered at once or queued")
    answered: int = Field(description="answers from the creator's content")
    not_found: int = Field(description="the not-found answer: nothing in the content")
    cached: int = Field(description="answers served from the response cache")
    cache_hit_rate: float | None = Field(description="cached / (answered + not_found)")
    median_answer_ms: int | None = Field(
        description="question stored → answer stored (a queued one: asked → answered), read "
        "from a histogram of coarse buckets, linear within the bucket"
    )


class AnalyticsOut(BaseModel):
    """Fans' questions per UTC day, oldest first, every day of the range; the creator, its
    team and admins are never counted."""

    creator_id: str
    days: list[DayNumbersOut]
    total: DayNumbersOut


def install_insight_routes(app: HttpApp) -> None:
    @app.get("/v1/creators/{creator_id}/gaps", tags=["creators"], response_model=GapsOut)
    def gaps(
        creator_id: CreatorRef,
        c: C,
        caller: Caller,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> GapsOut:
        groups = insights_uc.content_gaps(
            c, caller, creator_id, limit=limit, request_id=request_id(request)
        )
        return GapsOut(
            creator_id=creator_id,
            min_fans=c.question_groups.min_fans,
            gaps=[_gap(g) for g in groups],
        )

    @app.get(
        "/v1/creators/{creator_id}/feedback", tags=["creators"], response_model=FeedbackSummaryOut
    )
    def feedback_summary(
        creator_id: CreatorRef,
        c: C,
        caller: Caller,
        request: Request,
        weeks: Annotated[int, Query(ge=1, le=insights_uc.MAX_WEEKS)] = 8,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> FeedbackSummaryOut:
        summary = insights_uc.feedback_summary(
            c, caller, creator_id, weeks=weeks, limit=limit, request_id=request_id(request)
        )
        return FeedbackSummaryOut(
            creator_id=creator_id,
            min_fans=c.question_groups.min_fans,
            weeks=[WeekRatingsOut(week=w.week, up=w.up, down=w.down) for w in summary.weeks],
            down_rated=[
                DownRatedOut(question=g.question or "", fans=g.fans) for g in summary.down_rated
            ],
        )

    @app.get("/v1/creators/{creator_id}/analytics", tags=["creators"], response_model=AnalyticsOut)
    def analytics(
        creator_id: CreatorRef,
        c: C,
        caller: Caller,
        request: Request,
        days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 30,
    ) -> AnalyticsOut:
        per_day, total = insights_uc.analytics(
            c, caller, creator_id, days=days, request_id=request_id(request)
        )
        return AnalyticsOut(
            creator_id=creator_id,
            days=[DayNumbersOut(**vars(d)) for d in per_day],
            total=DayNumbersOut(**vars(total)),
        )


def _gap(group: QuestionGroup) -> GapOut:
    return GapOut(
        question=group.question or "",
        fans=group.fans,
        asked=group.asked,
        last_asked_at=group.last_asked_at,
    )

"""The chat function's HTTP API: health, creators, threads and messages (chat comes next)."""

from __future__ import annotations

from typing import Annotated

from creator_chat.api.common import (
    ERROR_RESPONSES,
    Caller,
    ContainerFactory,
    CreatorRef,
    install_edge,
    request_id,
)
from creator_chat.api.common import ContainerDep as C
from creator_chat.api.insights import install_insight_routes
from creator_chat.api.routing import HttpApp, JSONResponse, Query, Request, Response
from creator_chat.api.schemas import (
    ChatIn,
    ChatOut,
    CitationOut,
    CreatorCreate,
    CreatorList,
    CreatorOut,
    CreatorUpdate,
    DeepHealth,
    DependencyHealth,
    ExportOut,
    FeedbackIn,
    MessageList,
    MessageOut,
    ProfileIn,
    ProfileOut,
    RateLimitedOut,
    ThreadList,
    ThreadOut,
    TrendingOut,
    TrendingQuestion,
    UsageOut,
)
from creator_chat.domain.models import ExportJob, ExportStatus, FanProfile, MessageStatus
from creator_chat.errors import NotFound
from creator_chat.usecases import budgets, privacy
from creator_chat.usecases import chat as chat_uc
from creator_chat.usecases import creators as creator_uc
from creator_chat.usecases import exports as exports_uc
from creator_chat.usecases import sessions as session_uc
from creator_chat.usecases import threads as thread_uc
from creator_chat.usecases.health import deep_health


def create_app(get_container: ContainerFactory) -> HttpApp:
    app = HttpApp(
        title="creator-chat",
        version="0.1.0",
        description="Grounded, cited chat with a creator's own content.",
        responses=ERROR_RESPONSES,
    )
    app.container_factory = get_container
    install_edge(app)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/deep", tags=["health"], response_model=DeepHealth)
    def health_deep(c: C) -> JSONResponse:
        probes = deep_health(c)
        body = DeepHealth(
            ok=all(p.ok for p in probes), dependencies=[DependencyHealth(**vars(p)) for p in probes]
        )
        return JSONResponse(body.model_dump(), status_code=200 if body.ok else 503)

    @app.get("/v1/creators", tags=["creators"], response_model=CreatorList)
    def list_creators(c: C, caller: Caller) -> CreatorList:
        return CreatorList(
            creators=[CreatorOut.of(x) for x in creator_uc.list_creators(c.creators, caller)]
        )

    @app.get("/v1/creators/{creator_id}", tags=["creators"], response_model=CreatorOut)
    def get_creator(creator_id: str, c: C, caller: Caller) -> CreatorOut:
        """A creator by id or by slug."""
        return CreatorOut.of(creator_uc.get_creator(c.creators, caller, creator_id))

    @app.post("/v1/creators", tags=["creators"], response_model=CreatorOut, status_code=201)
    def create_creator(body: CreatorCreate, c: C, caller: Caller) -> CreatorOut:
        created = creator_uc.create_creator(c.creators, c.clock, caller, **body.model_dump())
        return CreatorOut.of(created)

    @app.patch("/v1/creators/{creator_id}", tags=["creators"], response_model=CreatorOut)
    def update_creator(
        creator_id: CreatorRef, body: CreatorUpdate, c: C, caller: Caller
    ) -> CreatorOut:
        updated = creator_uc.update_creator(
            c.creators, c.clock, caller, creator_id, **body.model_dump(exclude_none=True)
        )
        return CreatorOut.of(updated)

    @app.get("/v1/threads", tags=["threads"], response_model=ThreadList)
    def list_threads(
        c: C, caller: Caller, limit: Annotated[int, Query(ge=1, le=100)] = 50
    ) -> ThreadList:
        return ThreadList(
            threads=[
                ThreadOut.of(t) for t in thread_uc.list_threads(c.threads, caller, limit=limit)
            ]
        )

    @app.get("/v1/threads/{thread_id}/messages", tags=["threads"], response_model=MessageList)
    def list_messages(
        thread_id: str,
        c: C,
        caller: Caller,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> MessageList:
        msgs = thread_uc.list_messages(
            c.threads,
            caller,
            thread_id,
            limit=limit,
            auditor=thread_uc.Auditor(c.audit, c.clock, request_id(request)),
        )
        return MessageList(messages=[MessageOut.of(m) for m in msgs])

    @app.get(
        "/v1/threads/{thread_id}/messages/{message_id}", tags=["threads"], response_model=MessageOut
    )
    def get_message(
        thread_id: str, message_id: str, c: C, caller: Caller, request: Request
    ) -> MessageOut:
        auditor = thread_uc.Auditor(c.audit, c.clock, request_id(request))
        return MessageOut.of(
            thread_uc.get_message(c.threads, caller, thread_id, message_id, auditor)
        )

    _chat_routes(app)
    install_insight_routes(app)
    return app


# API Gateway caches an authorizer's answer per token this long (see infra_cdk): a revoked
# session is refused by the authorizer at most this many seconds later.
AUTHORIZER_CACHE_TTL_S = 60


def _chat_routes(app: HttpApp) -> None:
    @app.post(
        "/v1/creators/{creator_id}/chat",
        tags=["chat"],
        response_model=ChatOut,
        responses={
            202: {"model": ChatOut},
            429: {
                "model": RateLimitedOut,
                "description": "hourly quota (`quota_exceeded`) or monthly token budget "
                "(`token_budget_exceeded`) reached; `Retry-After` says when to ask again",
            },
        },
    )
    def chat(
        creator_id: CreatorRef, body: ChatIn, c: C, caller: Caller, request: Request
    ) -> JSONResponse:
        result = chat_uc.ask(
            c,
            caller,
            creator_id,
            body.message,
            thread_id=body.thread_id,
            video_id=body.video_id,
            mode=body.mode,
            request_id=request_id(request),
            filters=body.filters.to_domain() if body.filters else None,
        )
        out = ChatOut(
            status=result.status.value,
            answer=result.answer,
            thread_id=result.thread_id,
            message_id=result.message_id,
            citations=[CitationOut.of(x) for x in result.citations],
            cached=result.cached,
            failure_reason=result.failure_reason,
            status_url=(
                f"/v1/threads/{result.thread_id}/messages/{result.message_id}"
                if result.status is MessageStatus.PENDING
                else None
            ),
        )
        headers: dict[str, str] = {}
        if result.quota is not None:
            headers = {
                "X-RateLimit-Limit": str(result.quota.limit),
                "X-RateLimit-Remaining": str(result.quota.remaining),
                "X-RateLimit-Reset": str(result.quota.reset_epoch),
            }
        status = {"answered": 200, "pending": 202}.get(result.status.value, 503)
        return JSONResponse(out.model_dump(), status_code=status, headers=headers)

    @app.put("/v1/me/profile", tags=["me"], response_model=ProfileOut)
    def put_profile(body: ProfileIn, c: C, caller: Caller) -> ProfileOut:
        profile = FanProfile(
            user_id=caller.user_id, updated_at=int(c.clock.now()), **body.model_dump()
        )
        c.users.put_profile(profile)
        return ProfileOut(**vars(profile))

    @app.get("/v1/me/profile", tags=["me"], response_model=ProfileOut)
    def get_profile(c: C, caller: Caller) -> ProfileOut:
        profile = c.users.get_profile(caller.user_id)
        if profile is None:
            raise NotFound("no profile yet")
        return ProfileOut(**vars(profile))

    @app.get("/v1/me/usage", tags=["me"], response_model=list[UsageOut])
    def usage(c: C, caller: Caller) -> list[UsageOut]:
        """Usage per month, oldest first, the current month always last."""
        return [
            UsageOut(
                month=m.usage.month,
                requests=m.usage.requests,
                input_tokens=m.usage.input_tokens,
                output_tokens=m.usage.output_tokens,
                token_budget=m.budget,
                tokens_used=m.usage.charged_tokens,
                tokens_reserved=m.usage.reserved_tokens,
                tokens_left=m.left,
                reset_epoch=m.reset_epoch,
                reset_at=budgets.iso_utc(m.reset_epoch),
            )
            for m in budgets.monthly_usage(c, caller)
        ]

    @app.post("/v1/messages/{message_id}/feedback", tags=["chat"], status_code=204)
    def feedback(message_id: str, body: FeedbackIn, c: C, caller: Caller) -> Response:
        chat_uc.give_feedback(c, caller, message_id, body.rating, body.comment)
        return Response(status_code=204)

    @app.get("/v1/sessions", tags=["me"])
    def sessions(c: C, caller: Caller) -> dict[str, object]:
        return {
            "current": caller.session_id,
            "sessions": [vars(x) for x in session_uc.list_sessions(c.sessions, caller)],
        }

    @app.post("/v1/sessions", tags=["me"], status_code=201)
    def create_session(c: C, caller: Caller) -> dict[str, object]:
        # the authorizer creates a token's session on first use: this names it
        current = c.sessions.get_session(caller.session_id or "")
        if current is None:
            raise NotFound("no session for this token")
        return vars(current)

    @app.delete("/v1/sessions/{session_id}", tags=["me"])
    def revoke_session(session_id: str, c: C, caller: Caller) -> dict[str, object]:
        revoked = session_uc.revoke(c.sessions, caller, session_id)
        return {
            "revoked": True,
            "session_id": revoked,
            "effective_within_s": AUTHORIZER_CACHE_TTL_S,
        }

    @app.get(
        "/v1/me/export",
        tags=["me"],
        responses={
            200: {
                "description": "the export itself (an account of at most "
                "CREATOR_CHAT_EXPORT_INLINE_MAX_MESSAGES messages)"
            },
            202: {"model": ExportOut, "description": "a larger account: an export job"},
        },
    )
    def export(c: C, caller: Caller, request: Request) -> JSONResponse:
        answer = exports_uc.export_or_queue(c, caller, request_id(request))
        if answer.inline is not None:
            return JSONResponse(answer.inline)
        assert answer.job is not None
        return _export_accepted(answer.job)

    @app.post("/v1/me/exports", tags=["me"], status_code=202, response_model=ExportOut)
    def request_export(c: C, caller: Caller, request: Request) -> JSONResponse:
        """An export job whatever the account's size (the client polls ``status_url``)."""
        return _export_accepted(exports_uc.request_export(c, caller, request_id(request)))

    @app.get("/v1/me/exports/{export_id}", tags=["me"], response_model=ExportOut)
    def get_export(export_id: str, c: C, caller: Caller) -> ExportOut:
        return _export_out(exports_uc.get_export(c, caller, export_id))

    @app.delete("/v1/me", tags=["me"])
    def erase(c: C, caller: Caller, request: Request) -> dict[str, object]:
        return privacy.erase_user_data(c, caller, request_id(request))

    @app.get("/v1/creators/{creator_id}/trending", tags=["creators"], response_model=TrendingOut)
    def trending(
        creator_id: CreatorRef,
        c: C,
        caller: Caller,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> TrendingOut:
        top = chat_uc.trending(c, caller, creator_id, limit=limit, request_id=request_id(request))
        return TrendingOut(
            creator_id=creator_id, questions=[TrendingQuestion(question=q, asked=n) for q, n in top]
        )


def _export_out(view: exports_uc.ExportView) -> ExportOut:
    job = view.job
    return ExportOut(
        export_id=job.export_id,
        status=job.status.value,
        status_url=exports_uc.status_url(job.export_id),
        created_at=job.created_at,
        expires_at=job.expires_at,
        size_bytes=job.size_bytes if job.status is ExportStatus.READY else None,
        download_url=view.download_url,
        download_expires_at=view.download_expires_at,
        failure_reason=job.failure_reason,
    )


def _export_accepted(job: ExportJob) -> JSONResponse:
    out = _export_out(exports_uc.ExportView(job))
    return JSONResponse(out.model_dump(), status_code=202, headers={"Location": out.status_url})

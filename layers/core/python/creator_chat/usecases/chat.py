"""Answering fans: quota → thread → retrieval → generation → both messages persisted.

Grounded only in the creator's own chunks. When the generator is unavailable (breaker
open, throttling) or the caller asks for it, the question is queued for the chat worker
and answered later; every accepted question ends ``answered`` or ``failed`` with a reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from creator_chat import retrieval
from creator_chat.breaker import CircuitBreaker
from creator_chat.domain.links import deep_link
from creator_chat.domain.models import (
    Chunk,
    Citation,
    Creator,
    FanProfile,
    Feedback,
    Generation,
    Identity,
    Message,
    MessageStatus,
    QuotaDecision,
    Role,
    SearchFilters,
    SearchHit,
    Thread,
    TokenHold,
)
from creator_chat.errors import (
    DependencyUnavailable,
    InvalidInput,
    NotFound,
    QuotaExceeded,
    RetrievalUnavailable,
)
from creator_chat.ids import random_id, sortable_id
from creator_chat.observability import count, logger
from creator_chat.ports import (
    AuditLog,
    Cache,
    Clock,
    CreatorStore,
    Embedder,
    Generator,
    JobQueue,
    RateLimiter,
    Reranker,
    ThreadStore,
    TrendingStore,
    UsageStore,
    VectorIndex,
)
from creator_chat.prompting import NOT_FOUND_ANSWER, build_system_prompt, fit_to_budget
from creator_chat.streaming import CitationStream, relay
from creator_chat.usecases import budgets, insights
from creator_chat.usecases.threads import Auditor, own_thread

if TYPE_CHECKING:
    from creator_chat.settings import Settings

BUSY_REASON = "The assistant was too busy to answer this in time. Please ask again."
CONTEXT_TTL_S = 3600
RESPONSE_TTL_S = 3600
VIDEO_CONTEXT_CHUNKS = 2
SNIPPET_CHARS = 240


class ChatDeps(insights.InsightsDeps, Protocol):
    """What the chat use cases need. The container provides it, building each adapter on
    first use (feedback loads the embedding model only to group a question rated down)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def creators(self) -> CreatorStore: ...
    @property
    def threads(self) -> ThreadStore: ...
    @property
    def users(self) -> UsageStore: ...
    @property
    def trending(self) -> TrendingStore: ...
    @property
    def rate_limiter(self) -> RateLimiter: ...
    @property
    def index(self) -> VectorIndex: ...
    @property
    def embedder(self) -> Embedder: ...
    @property
    def generator(self) -> Generator: ...
    @property
    def generator_breaker(self) -> CircuitBreaker: ...
    @property
    def cache(self) -> Cache: ...
    @property
    def reranker(self) -> Reranker | None: ...
    @property
    def llm_queue(self) -> JobQueue: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def clock(self) -> Clock: ...
    def unit_of_work(self) -> AbstractContextManager[object]:
        """Writes that commit together (one transaction in the embedded database)."""
        ...


@dataclass
class ChatResult:
    status: MessageStatus
    thread_id: str
    message_id: str  # the assistant's message
    question_id: str
    answer: str = ""
    citations: list[Citation] = field(default_factory=list)
    cached: bool = False
    quota: QuotaDecision | None = None
    failure_reason: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    # the tokens this answer holds in the user's monthly budget until it settles
    hold: TokenHold | None = field(default=None, repr=False)


REWRITE_CONTEXT_QUESTIONS = 3  # the earlier questions a follow-up's rewrite sees
REWRITE_TTL_S = 24 * 3600


def normalise_question(text: str) -> str:
    """For counting questions (trending): words only."""
    return re.sub(r"[^\w]+", " ", text.lower()).strip()


def cache_question(text: str) -> str:
    """For cache keys: case and spacing folded, trailing punctuation dropped — symbols kept,
    so "functions in C?" and "functions in C++?" never share an answer."""
    return " ".join(text.lower().split()).rstrip("?!. ")


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + (time.perf_counter() - start) * 1000


# ------------------------------------------------------------------------------ quota
def check_quota(deps: ChatDeps, caller: Identity) -> QuotaDecision:
    """One hit on the caller's hourly counter; raises QuotaExceeded past the tier's limit."""
    limit = deps.settings.quota_for(caller.tier)
    decision = deps.rate_limiter.hit(
        f"chat:{caller.user_id}", limit=limit, window_s=deps.settings.quota_window_s
    )
    if not decision.allowed:
        count("QuotaExceeded")
        raise QuotaExceeded(
            f"hourly limit of {limit} questions reached for the {caller.tier.value} tier",
            retry_after_s=decision.retry_after_s,
            limit=limit,
            reset_epoch=decision.reset_epoch,
        )
    return decision


# ---------------------------------------------------------------------------- caching
def _cache_get_json(cache: Cache, key: str) -> Any:
    raw = cache.get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _cache_set_json(cache: Cache, key: str, value: Any, ttl_s: int) -> None:
    cache.set(key, json.dumps(value, separators=(",", ":")).encode(), ttl_s=ttl_s)


def _filters_part(filters: SearchFilters | None) -> str:
    """The filters in a cache key: nothing without filters (those keys stay as they were),
    else their canonical JSON, so only the same filters ever share an entry."""
    if not filters:
        return ""
    return "\0f" + json.dumps(filters.to_json(), sort_keys=True, separators=(",", ":"))


def _context_key(
    creator: Creator, question: str, video_id: str | None, filters: SearchFilters | None = None
) -> str:
    digest = hashlib.sha256(
        f"{cache_question(question)}\0{video_id or ''}{_filters_part(filters)}".encode()
    ).hexdigest()
    return f"ctx2:{creator.creator_id}:v{creator.content_version}:{digest[:32]}"


def _response_key(
    creator: Creator,
    question: str,
    video_id: str | None,
    profile: FanProfile | None,
    model_id: str = "",
    filters: SearchFilters | None = None,
) -> str:
    # the model is part of the key: switching generators never serves the other one's answers
    profile_part = json.dumps(asdict(profile), sort_keys=True) if profile else ""
    digest = hashlib.sha256(
        f"{cache_question(question)}\0{video_id or ''}\0{profile_part}\0{model_id}"
        f"{_filters_part(filters)}".encode()
    ).hexdigest()
    return f"resp:{creator.creator_id}:v{creator.content_version}:{digest[:32]}"


def _hits_to_json(hits: Sequence[SearchHit]) -> list[dict[str, Any]]:
    return [{"score": h.score, "cosine": h.similarity, "chunk": asdict(h.chunk)} for h in hits]


def _hits_from_json(data: list[dict[str, Any]]) -> list[SearchHit]:
    return [SearchHit(Chunk(**d["chunk"]), float(d["score"]), float(d["cosine"])) for d in data]


# --------------------------------------------------------------------------- retrieval
def retrieve_sources(
    deps: ChatDeps,
    creator: Creator,
    question: str,
    video_id: str | None,
    timings: dict[str, float],
    *,
    filters: SearchFilters | None = None,
) -> list[Chunk]:
    """Top-k chunks of this creator that pass the answerability gate (context-cached);
    with ``video_id``, that video's first; with ``filters``, only chunks matching them."""
    key = _context_key(creator, question, video_id, filters)
    with _timed(timings, "context_cache"):
        cached = _cache_get_json(deps.cache, key)
    if cached is not None:
        count("ContextCacheHit")
        hits = _hits_from_json(cached)
    else:
        hits = search_gated(deps, creator.creator_id, question, video_id, timings, filters=filters)
        with _timed(timings, "context_cache"):
            _cache_set_json(deps.cache, key, _hits_to_json(hits), CONTEXT_TTL_S)
    return [h.chunk for h in hits]


def search_gated(
    deps: ChatDeps,
    creator_id: str,
    question: str,
    video_id: str | None,
    timings: dict[str, float] | None = None,
    *,
    filters: SearchFilters | None = None,
) -> list[SearchHit]:
    """The hits the assistant would answer from: the gate on the cosine and on exact rare
    terms (``retrieval.passes_gate``), in the reranker's order when there is one (from
    ``rerank_candidates`` gated hits); with ``video_id``, that video's hits first."""
    timings = {} if timings is None else timings
    top_k = deps.settings.top_k
    floor = deps.settings.similarity_floor
    # in the watched video, the question is read with that video as its context ("How much
    # do I put in?" on the sealant video): searched and gated as such
    in_video = question
    if video_id:
        opening = deps.index.chunks_for_video(creator_id, video_id, limit=1)
        if opening and opening[0].creator_id == creator_id:
            in_video = retrieval.about_video(question, opening[0].title)
    with _timed(timings, "embed"):
        texts = [question] if in_video == question else [question, in_video]
        vectors = deps.embedder.embed(texts)
    reranker = deps.reranker
    wide = max(top_k, deps.settings.rerank_candidates) if reranker is not None else top_k
    with _timed(timings, "search"):
        hits = deps.index.search(creator_id, vectors[0], question, top_k=wide, filters=filters)
        hits = _own(hits, creator_id, filters)
        hits = retrieval.gate(hits, question, floor)
    if reranker is not None and hits:
        with _timed(timings, "rerank"):
            hits = _reranked(reranker, question, hits, top_k)
    if video_id:
        with _timed(timings, "search"):
            watched = deps.index.search(
                creator_id, vectors[-1], in_video, top_k=top_k, video_id=video_id, filters=filters
            )
        watched = retrieval.gate(_own(watched, creator_id, filters), in_video, floor)
        hits = retrieval.prefer_video(hits, watched, top_k)
    return hits


def _own(
    hits: list[SearchHit], creator_id: str, filters: SearchFilters | None = None
) -> list[SearchHit]:
    """Tenancy guard: an index bug must never put another creator's text in an answer (nor,
    with ``filters``, a chunk outside them)."""
    return [
        h
        for h in hits
        if h.chunk.creator_id == creator_id and (filters is None or filters.matches(h.chunk))
    ]


def _reranked(
    reranker: Reranker, question: str, hits: list[SearchHit], top_k: int
) -> list[SearchHit]:
    """The gated candidates in the reranker's order; in retrieval order should it fail (a
    rerank improves an answer, it is never a reason to lose one)."""
    try:
        ranked = reranker.rerank(question, hits, top_n=top_k)
    except Exception:
        logger.warning("rerank failed; keeping the retrieval order", exc_info=True)
        count("RerankFailed")
        return hits[:top_k]
    return ranked


def _standalone(deps: ChatDeps, question: str, earlier: list[str]) -> str:
    """The question a follow-up stands for: a generator that can rewrite (Bedrock) does it in
    a short call, cached; otherwise, or when that call fails, the deterministic rewrite."""
    if not earlier or not retrieval.looks_dependent(question):
        return question
    rewrite = getattr(deps.generator, "rewrite_question", None)
    if not callable(rewrite):
        return retrieval.standalone_question(question, earlier)
    recent = earlier[-REWRITE_CONTEXT_QUESTIONS:]
    digest = hashlib.sha256(json.dumps([recent, question]).encode()).hexdigest()
    key = f"rw:{deps.generator.model_id}:{digest[:32]}"
    cached = deps.cache.get(key)
    if cached is not None:
        return cached.decode()
    try:
        rewritten = str(rewrite(earlier=recent, question=question))
    except Exception:  # a rewrite is an improvement, never a reason to fail the answer
        count("RewriteFailed")
        return retrieval.standalone_question(question, earlier)
    deps.cache.set(key, rewritten.encode(), ttl_s=REWRITE_TTL_S)
    return rewritten


def _topic_video(
    deps: ChatDeps,
    creator: Creator,
    question: str,
    earlier: list[str],
    timings: dict[str, float],
    filters: SearchFilters | None = None,
) -> str | None:
    """The video a follow-up's earlier question was answered from ("How long does that
    take?" after "How do I raise the grain?": the finishing video, not the dovetail video
    that also says how long something took). Its sources are usually in the context cache;
    None when the follow-up leans on nothing or the earlier answer came from a document."""
    leaned = retrieval.leaned_on(question, earlier)
    if leaned is None:
        return None
    prior = retrieve_sources(deps, creator, leaned, None, timings, filters=filters)
    return prior[0].video_id if prior else None


def _video_context(
    deps: ChatDeps,
    creator: Creator,
    thread: Thread,
    video_id: str | None,
    sources: list[Chunk],
    filters: SearchFilters | None = None,
) -> list[Chunk]:
    """When the fan moved to another video, that video's opening chunks join the sources
    (those matching ``filters``: a filtered answer cites nothing outside them)."""
    if not video_id or video_id == thread.last_video_id:
        return sources
    deps.threads.set_last_video(thread.thread_id, video_id)
    thread.last_video_id = video_id
    if not sources:
        return sources  # nothing relevant: don't answer from an unrelated intro
    extra = [
        c
        for c in deps.index.chunks_for_video(
            creator.creator_id, video_id, limit=VIDEO_CONTEXT_CHUNKS
        )
        if c.creator_id == creator.creator_id
        and c.chunk_id not in {s.chunk_id for s in sources}
        and (filters is None or filters.matches(c))
    ]
    return sources + extra


def make_citations(
    generation: Generation,
    sources: Sequence[Chunk],
    question: str = "",
    *,
    entries: Sequence[tuple[int, float | None]] | None = None,
) -> list[Citation]:
    """The answer's citations, numbered 1..n in the order they first appear (the markers in
    ``generation.text`` are renumbered to match), each linking to the second where its
    supporting sentence starts in a video — one citation per source, or per stretch of a
    transcript whose claims are said more than ``retrieval.CLAIM_GAP_S`` apart. A streamed
    answer was renumbered as it was written (:class:`creator_chat.streaming.CitationStream`):
    its ``entries`` are passed in."""
    text = generation.text
    if entries is None:
        stream = CitationStream(sources)
        if text.strip():
            stream.feed(text)
            stream.finish()
            text = stream.text
        entries = stream.entries
    out: list[Citation] = []
    for number, (source, at) in enumerate(entries, start=1):
        chunk = sources[source - 1]
        if at is None:
            at = retrieval.supporting_second(chunk, text, number, question)
        snippet = _snippet(chunk, at)
        out.append(
            Citation(
                n=number,
                title=chunk.title,
                url=deep_link(chunk.source_url, start_s=at, page=chunk.page),
                snippet=snippet,
                document_id=chunk.document_id,
                chunk_id=chunk.chunk_id,
                start_s=at,
                page=chunk.page,
            )
        )
    generation.text = text
    generation.cited = [c.n for c in out]
    return out


def _snippet(chunk: Chunk, second: float | None) -> str:
    """What a citation shows on hover: the passage from the cue its link opens at (the
    cited sentence, not the passage's first words), up to ``SNIPPET_CHARS``."""
    start = 0
    if second is not None and chunk.cue_starts and chunk.cue_offsets:
        for offset, cue_start in zip(chunk.cue_offsets, chunk.cue_starts, strict=False):
            if cue_start == second:
                start = offset
                break
    text = chunk.text[start:].lstrip()
    prefix = "… " if start else ""
    if len(text) <= SNIPPET_CHARS:
        return prefix + text
    return prefix + text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"


# ------------------------------------------------------------------------------- chat
def _active_creator(deps: ChatDeps, creator_id: str) -> Creator:
    creator = deps.creators.get_creator(creator_id) or deps.creators.get_creator_by_slug(creator_id)
    if creator is None or not creator.active:
        raise NotFound("creator not found")
    return creator


def _thread_for(
    deps: ChatDeps,
    caller: Identity,
    creator: Creator,
    thread_id: str | None,
    title: str,
    request_id: str = "",
) -> Thread:
    """The caller's thread, or a new one that is stored with its first message."""
    if thread_id:
        auditor = Auditor(deps.audit, deps.clock, request_id)
        thread = own_thread(deps.threads, caller, thread_id, auditor)
        if thread.creator_id != creator.creator_id:
            raise NotFound("thread not found")  # a thread is bound to one creator
        return thread
    now = int(deps.clock.now())
    return Thread(
        thread_id=random_id("th_"),
        user_id=caller.user_id,
        creator_id=creator.creator_id,
        created_at=now,
        last_activity_at=now,
        expires_at=now + deps.settings.thread_idle_ttl_s,
        title=title[:80],
    )


def ask(
    deps: ChatDeps,
    caller: Identity,
    creator_id: str,
    text: str,
    *,
    thread_id: str | None = None,
    video_id: str | None = None,
    mode: str = "sync",
    request_id: str = "",
    on_delta: Callable[[str], None] | None = None,
    filters: SearchFilters | None = None,
) -> ChatResult:
    """Answer one question (or queue it) and persist the question and the answer.

    With ``on_delta`` the answer is streamed: its text goes to ``on_delta`` piece by piece as
    it is written (citation markers already checked and renumbered; the pieces joined are
    the answer stored), after the question is stored and before the answer is; a cached
    answer comes as one piece. Nothing is passed when the answer is queued instead."""
    question = text.strip()
    if not question:
        raise InvalidInput("message is empty")
    if len(question) > deps.settings.max_message_chars:
        raise InvalidInput(f"message is longer than {deps.settings.max_message_chars} characters")
    timings: dict[str, float] = {}
    with _timed(timings, "load"):
        creator = _active_creator(deps, creator_id)
    with _timed(timings, "quota"):
        quota = check_quota(deps, caller)
        budget = budgets.reserve(deps, caller)
    # an exhausted budget still gets what costs nothing: a cached reply (which only the
    # first question of a new thread, asked synchronously, can have)
    if budget.hold is None and not (
        thread_id is None
        and mode == "sync"
        and _has_cached_reply(deps, caller, creator, question, video_id, filters)
    ):
        raise budgets.exceeded(deps, caller, budget)
    hold = budget.hold
    # The question, its thread and the trending count commit together (one transaction in
    # the embedded database, where each commit is most of a write's cost).
    with (
        budgets.released_on_error(deps, hold),
        _timed(timings, "thread"),
        deps.unit_of_work(),
    ):
        thread = _thread_for(deps, caller, creator, thread_id, question, request_id)
        first_turn = thread.message_count == 0
        history = (
            []
            if first_turn
            else deps.threads.recent_messages(thread.thread_id, deps.settings.history_messages)
        )
        now = deps.clock.now()
        user_msg = Message(
            message_id=sortable_id(now),
            thread_id=thread.thread_id,
            user_id=caller.user_id,
            creator_id=creator.creator_id,
            role="user",
            content=question,
            created_at=int(now),
            video_id=video_id,
        )
        if thread_id:
            deps.threads.append_message(thread, user_msg)
        else:
            deps.threads.create_thread(thread, user_msg)
        _record_trending(deps, caller, creator, question)
    try:
        return _answer(
            deps,
            caller,
            creator,
            thread,
            user_msg,
            history,
            first_turn,
            quota,
            video_id,
            mode,
            timings,
            on_delta,
            filters=filters,
            hold=hold,
        )
    except Exception:
        # the question is stored: never leave it without an answer or a reason
        _record_unanswered(deps, caller, thread, user_msg)
        budgets.release(deps, hold)  # a no-op once settled
        raise


def _has_cached_reply(
    deps: ChatDeps,
    caller: Identity,
    creator: Creator,
    question: str,
    video_id: str | None,
    filters: SearchFilters | None,
) -> bool:
    """Whether the response cache holds the answer ``_answer`` would serve to this first
    question of a new thread."""
    profile = deps.users.get_profile(caller.user_id)
    key = _response_key(creator, question, video_id, profile, deps.generator.model_id, filters)
    return deps.cache.get(key) is not None


def _record_unanswered(deps: ChatDeps, caller: Identity, thread: Thread, question: Message) -> None:
    try:
        deps.threads.append_message(
            thread,
            Message(
                message_id=sortable_id(deps.clock.now()),
                thread_id=thread.thread_id,
                user_id=caller.user_id,
                creator_id=thread.creator_id,
                role="assistant",
                content="",
                created_at=int(deps.clock.now()),
                status=MessageStatus.FAILED,
                reply_to=question.message_id,
                failure_reason="Something went wrong while answering. Please ask again.",
            ),
        )
        count("ChatFailed")
    except Exception:
        logger.exception("could not record the failed answer")


def _answer(
    deps: ChatDeps,
    caller: Identity,
    creator: Creator,
    thread: Thread,
    user_msg: Message,
    history: list[Message],
    first_turn: bool,
    quota: QuotaDecision,
    video_id: str | None,
    mode: str,
    timings: dict[str, float],
    on_delta: Callable[[str], None] | None = None,
    *,
    filters: SearchFilters | None = None,
    hold: TokenHold | None = None,
) -> ChatResult:
    question = user_msg.content
    since = insights.started(timings)  # the answer time, for the creator's analytics
    fan = insights.fan_id(caller, creator.creator_id)
    profile = deps.users.get_profile(caller.user_id)
    answer_id = sortable_id(deps.clock.now())
    result = ChatResult(
        MessageStatus.PENDING,
        thread.thread_id,
        answer_id,
        user_msg.message_id,
        quota=quota,
        timings_ms=timings,
        hold=hold,
    )

    response_key = _response_key(
        creator, question, video_id, profile, deps.generator.model_id, filters
    )
    if first_turn and mode == "sync":
        with _timed(timings, "response_cache"):
            cached = _cache_get_json(deps.cache, response_key)
        if cached is not None:
            count("ResponseCacheHit")
            citations = [Citation(**c) for c in cached["citations"]]
            if on_delta is not None:
                on_delta(cached["answer"])  # a cached answer streams at once
            _finish(
                deps,
                caller,
                thread,
                result,
                cached["answer"],
                citations,
                Generation(cached["answer"]),
            )
            result.cached = True
            count("ChatAnswered")
            insights.record_answer(
                deps, user_msg, cached["answer"], fan=fan, cached=True, since=since
            )
            return result
    if hold is None:  # admitted for a cached reply that has gone meanwhile: no budget room
        raise budgets.exceeded(deps, caller)

    if mode == "async" or not deps.generator_breaker.allow():
        reason = "async" if mode == "async" else "breaker_open"
        _queue(deps, caller, thread, result, reason=reason, filters=filters)
        return result
    try:
        entries: list[tuple[int, float | None]] | None = [] if on_delta is not None else None
        generation, sources = _generate(
            deps,
            creator,
            thread,
            profile,
            history,
            question,
            video_id,
            timings,
            on_delta,
            entries,
            filters=filters,
        )
    except RetrievalUnavailable:
        count("RetrievalUnavailable")
        _queue(deps, caller, thread, result, reason="retrieval_unavailable", filters=filters)
        return result
    except DependencyUnavailable:
        deps.generator_breaker.record_failure()
        count("GeneratorThrottled")
        _queue(deps, caller, thread, result, reason="generator_unavailable", filters=filters)
        return result
    deps.generator_breaker.record_success()
    citations = make_citations(generation, sources, question, entries=entries)
    _finish(deps, caller, thread, result, generation.text, citations, generation)
    if first_turn:
        _cache_set_json(
            deps.cache,
            response_key,
            {"answer": generation.text, "citations": [asdict(c) for c in citations]},
            RESPONSE_TTL_S,
        )
    count("ChatAnswered")
    insights.record_answer(deps, user_msg, generation.text, fan=fan, history=history, since=since)
    return result


def _generate(
    deps: ChatDeps,
    creator: Creator,
    thread: Thread,
    profile: FanProfile | None,
    history: list[Message],
    question: str,
    video_id: str | None,
    timings: dict[str, float],
    on_delta: Callable[[str], None] | None = None,
    entries: list[tuple[int, float | None]] | None = None,
    *,
    filters: SearchFilters | None = None,
) -> tuple[Generation, list[Chunk]]:
    """The answer and the sources it was given. With ``on_delta`` it is streamed through a
    :class:`CitationStream`, whose numbering lands in ``entries`` (the text is final)."""
    # A follow-up is retrieved — and answered — as the question it stands for (the cache
    # keys follow it).
    earlier = [m.content for m in history if m.role == "user" and m.content]
    query = _standalone(deps, question, earlier)
    if getattr(deps.generator, "rewrite_question", None) is not None:
        question = query  # a model's rewrite is a question of its own: answer that
    # (a deterministic rewrite only finds the sources: the generator answers the fan's own
    # words, with the history — the extractive one falls back to the rewrite by itself)
    try:
        # a follow-up stays with what was just discussed: the video the earlier question
        # was answered from is searched first (as the watched one is)
        focus = video_id or _topic_video(deps, creator, question, earlier, timings, filters)
        sources = retrieve_sources(deps, creator, query, focus, timings, filters=filters)
        sources = _video_context(deps, creator, thread, video_id, sources, filters)
    except RetrievalUnavailable:
        raise
    except DependencyUnavailable as exc:
        # Not the generator's fault: its breaker and throttling metric stay out of it.
        raise RetrievalUnavailable(str(exc)) from exc
    if not sources:
        count("AnswerNotFound")
        if on_delta is not None:
            on_delta(NOT_FOUND_ANSWER)
        return Generation(NOT_FOUND_ANSWER, model_id="none"), []
    if video_id and retrieval.looks_dependent(question):
        # "How much do I put in?" on the sealant video is answered as a question about it
        title = next((c.title for c in sources if c.video_id == video_id), "")
        question = retrieval.about_video(question, title)
    system = build_system_prompt(creator, profile)
    turns, kept = fit_to_budget(
        system, history, sources, question, deps.settings.prompt_token_budget
    )
    with _timed(timings, "generate"):
        if on_delta is None:
            generation = deps.generator.generate(
                system=system,
                history=turns,
                question=question,
                sources=kept,
                max_tokens=deps.settings.answer_max_tokens,
            )
        else:
            generation, streamed = _stream(
                deps.generator, on_delta, system, turns, question, kept, deps.settings
            )
            if entries is not None:
                entries.extend(streamed)
    count("GeneratorInputTokens", generation.input_tokens)
    count("GeneratorOutputTokens", generation.output_tokens)
    return generation, kept


def _stream(
    generator: Generator,
    on_delta: Callable[[str], None],
    system: str,
    turns: list[dict[str, str]],
    question: str,
    sources: list[Chunk],
    settings: Settings,
) -> tuple[Generation, list[tuple[int, float | None]]]:
    """Generate with the text passed on as it is written: a generator that can stream
    (``generate_stream``) sends its pieces; one that cannot sends its answer whole."""
    stream = CitationStream(sources)
    take = relay(stream, on_delta)
    streaming = getattr(generator, "generate_stream", None)
    request: dict[str, Any] = {
        "system": system,
        "history": turns,
        "question": question,
        "sources": sources,
        "max_tokens": settings.answer_max_tokens,
    }
    if streaming is not None:
        generation: Generation = streaming(**request, on_delta=take)
    else:
        generation = generator.generate(**request)
        take(generation.text)
    tail = stream.finish()
    if tail:
        on_delta(tail)
    generation.text = stream.text
    generation.cited = sorted(stream.order)
    return generation, list(stream.entries)


def _finish(
    deps: ChatDeps,
    caller: Identity,
    thread: Thread,
    result: ChatResult,
    answer: str,
    citations: list[Citation],
    generation: Generation,
) -> None:
    with _timed(result.timings_ms, "persist"), deps.unit_of_work():
        message = Message(
            message_id=result.message_id,
            thread_id=thread.thread_id,
            user_id=caller.user_id,
            creator_id=thread.creator_id,
            role="assistant",
            content=answer,
            created_at=int(deps.clock.now()),
            status=MessageStatus.ANSWERED,
            reply_to=result.question_id,
            citations=citations,
            input_tokens=generation.input_tokens,
            output_tokens=generation.output_tokens,
        )
        deps.threads.append_message(thread, message)
        budgets.settle(deps, caller.user_id, result.hold, generation)
    result.status, result.answer, result.citations = MessageStatus.ANSWERED, answer, citations


def _queue(
    deps: ChatDeps,
    caller: Identity,
    thread: Thread,
    result: ChatResult,
    *,
    reason: str,
    filters: SearchFilters | None = None,
) -> None:
    """Persist a pending answer, then queue the job (with the question's filters, which the
    worker applies); if queueing fails the answer says so."""
    pending = Message(
        message_id=result.message_id,
        thread_id=thread.thread_id,
        user_id=caller.user_id,
        creator_id=thread.creator_id,
        role="assistant",
        content="",
        created_at=int(deps.clock.now()),
        status=MessageStatus.PENDING,
        reply_to=result.question_id,
    )
    deps.threads.append_message(thread, pending)
    try:
        deps.llm_queue.send(
            {
                "message_id": result.message_id,
                "thread_id": thread.thread_id,
                "user_id": caller.user_id,
                "creator_id": thread.creator_id,
                "tier": caller.tier.value,
                "fan": insights.fan_id(caller, thread.creator_id) is not None,
                **({"filters": filters.to_json()} if filters else {}),
                # the worker settles (or releases) the budget's hold
                **({"token_hold": result.hold.to_json()} if result.hold else {}),
            }
        )
    except DependencyUnavailable:
        pending.status, pending.failure_reason = MessageStatus.FAILED, BUSY_REASON
        deps.threads.update_message(pending)
        result.status, result.failure_reason = MessageStatus.FAILED, BUSY_REASON
        budgets.release(deps, result.hold)
        count("ChatFailed")
        return
    count("ChatQueued")
    insights.record_queued(deps, thread.creator_id, fan=insights.fan_id(caller, thread.creator_id))
    logger.info("chat queued", extra={"reason": reason, "message_id": result.message_id})


def _week(clock: Clock) -> str:
    return datetime.fromtimestamp(clock.now(), UTC).strftime("%G-W%V")


def _week_end(now: float) -> int:
    """The first second of the next ISO week (Monday 00:00 UTC)."""
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((day + timedelta(days=7 - day.weekday())).timestamp())


def _record_trending(deps: ChatDeps, caller: Identity, creator: Creator, question: str) -> None:
    # Only fans count toward "asked by enough different fans": the creator, its team and
    # admins testing the assistant would otherwise vouch for a single real fan's question.
    if caller.role is not Role.FAN or caller.can_manage_creator(creator.creator_id):
        return
    now = deps.clock.now()
    week = _week(deps.clock)
    try:
        # counts each fan once per question and week, under a key that is discarded after the
        # week: the markers can then be linked to nobody (not across creators, weeks, or
        # back to an erased fan)
        secret = deps.trending.week_secret(week, expires_at=_week_end(now) + 24 * 3600)
        asker = hmac.new(secret, f"{creator.creator_id}|{caller.user_id}".encode(), "sha256")
        deps.trending.record_question(
            creator.creator_id, week, normalise_question(question), asker.hexdigest()[:32]
        )
    except Exception:  # analytics must never cost a fan an answer
        logger.warning("trending not recorded")


# ----------------------------------------------------------------------------- worker
def answer_queued(deps: ChatDeps, job: dict[str, Any], *, final_attempt: bool) -> str:
    """The chat worker: answer a pending message once; idempotent per message id.

    Any failure is retried by the queue; on the final attempt the message ends ``failed``
    with a reason the fan can read (and the job goes on to the DLQ).
    """
    hold = TokenHold.from_json(job.get("token_hold"))
    thread = deps.threads.get_thread(str(job["thread_id"]))
    if thread is None or thread.user_id != job["user_id"]:
        budgets.release(deps, hold)
        return "gone"  # the thread expired or was erased while the job waited
    pending = deps.threads.get_message(thread.thread_id, str(job["message_id"]))
    if pending is None or pending.status is not MessageStatus.PENDING:
        return "already-done"  # a duplicate delivery
    try:
        filters = SearchFilters.from_json(job.get("filters"))
        fan = thread.user_id if job.get("fan") else None
        return _answer_pending(deps, thread, pending, filters, hold, fan=fan)
    except DependencyUnavailable:
        if final_attempt:
            _fail(deps, pending, BUSY_REASON, hold)
        raise
    except Exception:
        if final_attempt:
            _fail(deps, pending, "Something went wrong while answering. Please ask again.", hold)
        raise


def _answer_pending(
    deps: ChatDeps,
    thread: Thread,
    pending: Message,
    filters: SearchFilters | None = None,
    hold: TokenHold | None = None,
    *,
    fan: str | None = None,
) -> str:
    question = deps.threads.get_message(thread.thread_id, pending.reply_to or "")
    creator = deps.creators.get_creator(thread.creator_id)
    if question is None or creator is None:
        _fail(deps, pending, "The question or the creator no longer exists.", hold)
        return "failed"
    recent = deps.threads.recent_messages(thread.thread_id, deps.settings.history_messages + 2)
    history = [m for m in recent if m.message_id < question.message_id]
    history = history[-deps.settings.history_messages :]
    profile = deps.users.get_profile(thread.user_id)
    try:
        generation, sources = _generate(
            deps,
            creator,
            thread,
            profile,
            history,
            question.content,
            question.video_id,
            {},
            filters=filters,
        )
    except RetrievalUnavailable:
        count("RetrievalUnavailable")
        raise  # retried after the visibility timeout; the DLQ keeps it after max receives
    except DependencyUnavailable:
        deps.generator_breaker.record_failure()
        raise
    deps.generator_breaker.record_success()
    # (renumbers the text's markers)
    pending.citations = make_citations(generation, sources, question.content)
    pending.content, pending.status = generation.text, MessageStatus.ANSWERED
    pending.input_tokens, pending.output_tokens = generation.input_tokens, generation.output_tokens
    with deps.unit_of_work():  # the answer and its tokens commit together where they can
        deps.threads.update_message(pending)
        budgets.settle(deps, thread.user_id, hold, generation)
    count("ChatAnswered")
    insights.record_answer(
        deps, question, generation.text, fan=fan, history=history, asked_now=False
    )
    return "answered"


def _fail(deps: ChatDeps, message: Message, reason: str, hold: TokenHold | None = None) -> None:
    message.status, message.failure_reason = MessageStatus.FAILED, reason
    deps.threads.update_message(message)
    budgets.release(deps, hold)  # nothing was generated
    count("ChatFailed")


# ---------------------------------------------------------------- feedback, analytics
def give_feedback(
    deps: ChatDeps, caller: Identity, message_id: str, rating: str, comment: str
) -> None:
    """A fan rates an answer in one of its own threads."""
    message = deps.threads.find_message(message_id)
    if message is None or message.user_id != caller.user_id:
        raise NotFound("message not found")
    if message.role != "assistant":
        raise InvalidInput("feedback is for the assistant's answers")
    feedback = Feedback(
        message_id=message_id,
        user_id=caller.user_id,
        creator_id=message.creator_id,
        thread_id=message.thread_id,
        rating=rating,
        comment=comment,
        created_at=int(deps.clock.now()),
    )
    previous = deps.threads.put_feedback(feedback)
    insights.record_rating(deps, caller, message, feedback, previous)  # best effort


def trending(
    deps: ChatDeps, caller: Identity, creator_id: str, *, limit: int = 20, request_id: str = ""
) -> list[tuple[str, int]]:
    """This week's most asked questions (each asked by at least a few different fans, see
    ``DynamoTrendingStore``): the creator itself or an admin only."""
    Auditor(deps.audit, deps.clock, request_id).require_manager(
        caller, creator_id, "trending.read", "only the creator sees its analytics"
    )
    return deps.trending.top_questions(creator_id, _week(deps.clock), limit=limit)

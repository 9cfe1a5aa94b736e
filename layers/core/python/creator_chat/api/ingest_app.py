"""The ingest function's HTTP API: documents of a creator, and retrieval preview (search)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator

from creator_chat.api.common import (
    ERROR_RESPONSES,
    Caller,
    ContainerDep,
    ContainerFactory,
    CreatorRef,
    body_limit,
    install_edge,
    request_id,
)
from creator_chat.api.routing import Depends, HttpApp, JSONResponse, Request
from creator_chat.api.schemas import FiltersIn, Strict, Tags
from creator_chat.domain.models import Document, DocumentKind, SearchHit
from creator_chat.usecases import ingest as uc

# Inline content is capped at ``max_inline_document_bytes`` (1 MiB of UTF-8; the use case's
# 413 says how to upload instead), which JSON escaping can make up to 3x larger on the wire
# for any real text. The body must also stay under Lambda's 6 MB synchronous payload limit
# (the whole event: body, headers, context), or it fails before this function runs.
MAX_DOCUMENT_BODY_BYTES = 5 * 1024 * 1024


class DocumentIn(Strict):
    free_text: ClassVar[frozenset[str]] = frozenset({"content"})

    title: str = Field(min_length=1, max_length=300)
    kind: DocumentKind
    source_url: str = Field("", max_length=2000)
    video_id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    content: str | None = None
    upload: bool = Field(False, strict=True)
    size_bytes: int | None = Field(None, ge=1, strict=True)
    content_type: str = Field("application/octet-stream", max_length=200)
    # labels for filtering (a playlist, a course module), copied onto every chunk; omitted:
    # the document keeps the tags it has, [] clears them. The same content with other tags
    # is indexed again with them (202), with the same tags it is a no-op (200).
    tags: Tags | None = None

    @field_validator("source_url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        # citations deep-link into it: it must parse, or every answer citing it would fail
        if not value:
            return value
        try:
            parts = urlsplit(value)
        except ValueError as err:
            raise ValueError(f"not a valid URL: {err}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> DocumentIn:
        if self.upload == (self.content is not None):
            raise ValueError("give either inline 'content' or 'upload': true (with size_bytes)")
        if self.upload and self.size_bytes is None:
            raise ValueError("'size_bytes' is required with 'upload': true")
        return self


class DocumentOut(BaseModel):
    document_id: str
    creator_id: str
    title: str
    kind: str
    source_url: str
    video_id: str | None
    tags: list[str]
    status: Literal["queued", "processing", "done", "failed"]
    failure_reason: str | None
    chunk_count: int
    size_bytes: int
    created_at: int
    updated_at: int

    @classmethod
    def of(cls, d: Document) -> DocumentOut:
        return cls(
            document_id=d.document_id,
            creator_id=d.creator_id,
            title=d.title,
            kind=d.kind.value,
            source_url=d.source_url,
            video_id=d.video_id,
            tags=list(d.tags),
            status=d.status.value,
            failure_reason=d.failure_reason,
            chunk_count=d.chunk_count,
            size_bytes=d.size_bytes,
            created_at=d.created_at,
            updated_at=d.updated_at,
        )


class SubmittedOut(BaseModel):
    document: DocumentOut
    created: bool
    # An upload ticket (``"upload": true``): POST a multipart/form-data form to
    # ``upload_url`` with every one of ``upload_fields``, then the file as the last field,
    # ``file`` (S3's presigned POST; the local server takes the same form). A file larger
    # than the declared ``size_bytes`` is refused and never stored.
    upload_url: str | None = None
    upload_method: Literal["POST"] | None = None
    upload_fields: dict[str, str] | None = None
    upload_expires_in_s: int | None = None


class DocumentList(BaseModel):
    documents: list[DocumentOut]


class SearchIn(Strict):
    query: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(5, ge=1, le=50, strict=True)
    video_id: str | None = Field(None, max_length=64)
    # only chunks matching these (and ``video_id``, when given too)
    filters: FiltersIn | None = None
    # hits the assistant would not answer from (under the gate) are left out unless asked for
    include_below_gate: bool = Field(False, strict=True)


class SearchResult(BaseModel):
    # the assistant would answer from it: close enough in meaning, or holding an exact rare
    # term of the query (a part number, an error code)
    answerable: bool
    document_id: str
    chunk_id: str
    score: float
    title: str
    source_url: str
    kind: str
    video_id: str | None
    tags: list[str]
    start_s: float | None
    end_s: float | None
    page: int | None
    heading: str
    text: str

    @classmethod
    def of(cls, hit: SearchHit, answerable: bool) -> SearchResult:
        c = hit.chunk
        return cls(
            answerable=answerable,
            document_id=c.document_id,
            chunk_id=c.chunk_id,
            score=round(hit.score, 4),
            title=c.title,
            source_url=c.source_url,
            kind=c.kind,
            video_id=c.video_id,
            tags=list(c.tags),
            start_s=c.start_s,
            end_s=c.end_s,
            page=c.page,
            heading=c.heading,
            text=c.text,
        )


class SearchOut(BaseModel):
    results: list[SearchResult]


def _deps(c: ContainerDep) -> uc.IngestDeps:
    return c


D = Annotated[uc.IngestDeps, Depends(_deps)]


def create_app(get_container: ContainerFactory) -> HttpApp:
    app = HttpApp(title="creator-chat ingest", version="0.1.0", responses=ERROR_RESPONSES)
    app.container_factory = get_container
    install_edge(app)
    base = "/v1/creators/{creator_id}/documents"

    @app.post(
        base,
        response_model=SubmittedOut,
        status_code=202,
        responses={
            200: {"model": SubmittedOut, "description": "The same content again: a no-op"},
            201: {
                "model": SubmittedOut,
                "description": "Upload ticket: POST upload_fields, then the file, to upload_url",
            },
        },
        openapi_extra=body_limit(MAX_DOCUMENT_BODY_BYTES),
    )
    def submit(
        creator_id: CreatorRef, body: DocumentIn, deps: D, caller: Caller, request: Request
    ) -> JSONResponse:
        rid = request_id(request)
        if body.upload:
            ticket = uc.request_upload(
                deps,
                caller,
                creator_id,
                title=body.title,
                kind=body.kind,
                size_bytes=body.size_bytes or 0,
                source_url=body.source_url,
                video_id=body.video_id,
                tags=body.tags,
                content_type=body.content_type,
                request_id=rid,
            )
            out = SubmittedOut(
                document=DocumentOut.of(ticket.document),
                created=True,
                upload_url=ticket.upload_url,
                upload_method="POST",
                upload_fields=ticket.upload_fields,
                upload_expires_in_s=ticket.expires_in_s,
            )
            return JSONResponse(out.model_dump(), status_code=201)
        submitted = uc.submit_document(
            deps,
            caller,
            creator_id,
            title=body.title,
            kind=body.kind,
            content=(body.content or "").encode("utf-8"),
            source_url=body.source_url,
            video_id=body.video_id,
            tags=body.tags,
            request_id=rid,
        )
        out = SubmittedOut(document=DocumentOut.of(submitted.document), created=submitted.created)
        return JSONResponse(out.model_dump(), status_code=202 if submitted.created else 200)

    @app.post(base + "/{document_id}/complete", response_model=SubmittedOut, status_code=202)
    def complete(
        creator_id: CreatorRef, document_id: str, deps: D, caller: Caller, request: Request
    ) -> SubmittedOut:
        submitted = uc.complete_upload(deps, caller, creator_id, document_id, request_id(request))
        return SubmittedOut(document=DocumentOut.of(submitted.document), created=True)

    @app.get(base, response_model=DocumentList)
    def list_documents(
        creator_id: CreatorRef, deps: D, caller: Caller, request: Request
    ) -> DocumentList:
        return DocumentList(
            documents=[
                DocumentOut.of(d)
                for d in uc.list_documents(deps, caller, creator_id, request_id(request))
            ]
        )

    @app.get(base + "/{document_id}", response_model=DocumentOut)
    def get_document(
        creator_id: CreatorRef, document_id: str, deps: D, caller: Caller, request: Request
    ) -> DocumentOut:
        return DocumentOut.of(
            uc.get_document(deps, caller, creator_id, document_id, request_id(request))
        )

    @app.delete(base + "/{document_id}")
    def delete_document(
        creator_id: CreatorRef, document_id: str, deps: D, caller: Caller, request: Request
    ) -> dict[str, object]:
        removed = uc.delete_document(deps, caller, creator_id, document_id, request_id(request))
        return {"deleted": True, "document_id": document_id, "chunks_removed": removed}

    @app.post("/v1/creators/{creator_id}/search", response_model=SearchOut)
    def search(
        creator_id: CreatorRef, body: SearchIn, deps: D, caller: Caller, request: Request
    ) -> SearchOut:
        hits = uc.search(
            deps,
            caller,
            creator_id,
            body.query,
            top_k=body.top_k,
            video_id=body.video_id,
            filters=body.filters.to_domain() if body.filters else None,
            request_id=request_id(request),
        )
        return SearchOut(
            results=[SearchResult.of(h, ok) for h, ok in hits if ok or body.include_below_gate]
        )

    return app

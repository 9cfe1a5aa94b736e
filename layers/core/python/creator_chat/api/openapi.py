"""The OpenAPI document of an HTTP function, written by FastAPI from its route table.

FastAPI is imported here only, when the document is first asked for (``/openapi.json``,
``/docs``, the tests): each route becomes a FastAPI route whose endpoint has the signature
the route's function declares, in FastAPI's terms (``Depends``, ``Query``, the body's model,
the return annotation), so the document is the one FastAPI wrote when it served the API.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, get_type_hints

from fastapi import Depends as FastAPIDepends
from fastapi import FastAPI
from fastapi import Query as FastAPIQuery
from fastapi import Request as FastAPIRequest
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse as FastAPIJSONResponse
from fastapi.responses import Response as FastAPIResponse

from creator_chat.api.routing import HttpApp, JSONResponse, Plan, Response


def document(app: HttpApp) -> dict[str, Any]:
    described = FastAPI(
        title=app.title,
        version=app.version,
        description=app.description,
        responses=app.responses,
    )
    for route in (r for r in app.routes if r.include_in_schema):
        meta: dict[str, Any] = {
            "methods": [route.method],
            "name": route.name,
            "tags": list(route.tags),
            "responses": route.responses,
            "openapi_extra": route.openapi_extra,
        }
        if route.response_model is not None:
            meta["response_model"] = route.response_model
        if route.status_code is not None:
            meta["status_code"] = route.status_code
        described.add_api_route(route.path, _signed_like(route.plan), **meta)
    return described.openapi()


def swagger_page(title: str) -> bytes:
    return bytes(
        get_swagger_ui_html(openapi_url="/openapi.json", title=f"{title} - Swagger UI").body
    )


def _signed_like(how: Plan) -> Callable[..., Any]:
    """A function FastAPI reads as it would read ``how.call`` (it is never called)."""
    params = []
    for p in how.params:
        annotation: Any = p.annotation
        if p.kind == "depends":
            assert p.depends is not None
            annotation = Annotated[annotation, FastAPIDepends(_signed_like(p.depends))]
        elif p.kind == "request":
            annotation = FastAPIRequest
        elif p.kind == "query" and p.query is not None:
            annotation = Annotated[annotation, FastAPIQuery(ge=p.query.ge, le=p.query.le)]
        params.append(
            inspect.Parameter(
                p.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=inspect.Parameter.empty if p.required else p.default,
                annotation=annotation,
            )
        )
    returns = get_type_hints(how.call).get("return", inspect.Signature.empty)
    if isinstance(returns, type) and issubclass(returns, Response):
        returns = FastAPIJSONResponse if issubclass(returns, JSONResponse) else FastAPIResponse

    def described(**_: Any) -> None:
        raise AssertionError("documentation only")

    described.__name__ = how.call.__name__
    described.__doc__ = how.call.__doc__
    described.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    return described

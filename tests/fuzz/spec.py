"""The project's OpenAPI document: both HTTP apps' documents merged into one.

API Gateway serves one API, but its routes belong to two functions, each a FastAPI app with
its own document: the chat function's is served at ``/openapi.json``; the ingest function's
(documents and search) is built in-process from the same code. The merge is a union of
paths, schemas and security schemes; a path, method or component both declare differently
is an error, not a silent overwrite.
"""

from __future__ import annotations

import copy
from typing import Any

from creator_chat.api.ingest_app import create_app as create_ingest_app


def ingest_openapi() -> dict[str, Any]:
    """The ingest app's document (``openapi()`` never touches the container)."""
    return create_ingest_app(lambda: None).openapi()  # type: ignore[arg-type,return-value]


def merge_openapi(*docs: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(docs[0])
    merged["info"] = {**merged["info"], "title": "creator-chat (all functions)"}
    for doc in docs[1:]:
        for path, operations in doc.get("paths", {}).items():
            target = merged.setdefault("paths", {}).setdefault(path, {})
            for method, operation in operations.items():
                if method in target and target[method] != operation:
                    raise ValueError(f"{method.upper()} {path} is declared twice, differently")
                target[method] = copy.deepcopy(operation)
        for kind, components in doc.get("components", {}).items():
            target = merged.setdefault("components", {}).setdefault(kind, {})
            for name, component in components.items():
                if name in target and target[name] != component:
                    raise ValueError(f"components.{kind}.{name} differs between the apps")
                target[name] = copy.deepcopy(component)
    return merged


def operations(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """``(METHOD, path)`` of every operation, in document order."""
    return [
        (method.upper(), path)
        for path, ops in doc["paths"].items()
        for method in ops
        if method in ("get", "put", "post", "patch", "delete")
    ]

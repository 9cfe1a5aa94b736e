"""Builds the CDK app from context; shared by ``app.py``, ``cdk synth`` and the tests.

Context (``-c key=value``): ``env`` (dev|staging|prod, default dev), ``deps_layer_dir``
(the built dependency layer, default ``build/deps-layer``), ``alarm_email``,
``cors_origins`` (comma-separated), ``rerank_model_id`` and the profile flags that override
one choice of the env's profile (infra_cdk/config.py, README "Profiles"):
``vector_store`` (opensearch|s3vectors), ``cache`` (elasticache|memory), ``vpc``,
``provisioned`` and ``snapstart`` (true|false). No AWS call is made: the stack is
environment-agnostic (account and region resolve at deploy time), so synth works offline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, Tags
from creator_chat.resources import DECLARATION, Declaration

from infra_cdk.bytecode import load_build_deps
from infra_cdk.config import DEFAULT_DEPS_LAYER_DIR, SERVICE, load_config, parse_flag
from infra_cdk.nag import add_checks
from infra_cdk.stack import CreatorChatStack

REPO_ROOT = Path(__file__).resolve().parent.parent


class DependencyLayerMissing(FileNotFoundError):
    """The third-party dependency layer has not been built."""


def cdk_json_context() -> dict[str, Any]:
    """The feature flags of cdk.json, so ``python app.py`` and the tests synthesise exactly
    what ``cdk synth`` does (the CLI passes them itself)."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


def resolve_deps_layer_dir(
    override: str | None,
    *,
    default: Path = REPO_ROOT / DEFAULT_DEPS_LAYER_DIR,
    pyproject: Path = REPO_ROOT / "pyproject.toml",
) -> Path:
    """The dependency layer folder: ``-c deps_layer_dir`` as given (tests pass an empty
    placeholder), else the built default, which must hold ``python/`` built from the
    runtime requirements pyproject.toml lists today."""
    if override:
        path = Path(override)
        if not path.is_dir():
            raise DependencyLayerMissing(f"-c deps_layer_dir={override}: no such folder")
        return path
    path = default
    if not (path / "python").is_dir():
        raise DependencyLayerMissing(
            f"the dependency layer {path / 'python'} is missing. Build it with "
            "`python layers/build_deps.py` (no Docker needed, see layers/README.md), "
            "or pass -c deps_layer_dir=<folder holding python/>."
        )
    build_deps = load_build_deps()
    if not build_deps.is_current(path, build_deps.runtime_requirements(pyproject)):
        # A layer built before pyproject.toml changed would deploy functions that fail to
        # import (e.g. without the X-Ray SDK the Tracer needs): refuse it here.
        raise DependencyLayerMissing(
            f"the dependency layer {path / 'python'} was built from other requirements than "
            "pyproject.toml now lists. Rebuild it with `python layers/build_deps.py`."
        )
    return path


def build_app(
    context: Mapping[str, Any] | None = None,
    *,
    outdir: str | None = None,
    declaration: Declaration = DECLARATION,
) -> tuple[App, CreatorChatStack]:
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    env = str(app.node.try_get_context("env") or "dev")
    cors = app.node.try_get_context("cors_origins")
    config = load_config(
        env,
        alarm_email=app.node.try_get_context("alarm_email"),
        # `cdk deploy -c rerank_model_id=amazon.rerank-v1:0` where the region offers it
        rerank_model_id=app.node.try_get_context("rerank_model_id"),
        cors_allowed_origins=(
            tuple(o.strip() for o in str(cors).split(",") if o.strip()) if cors else None
        ),
        # `cdk deploy -c env=dev -c vector_store=opensearch`: one choice of the profile
        vector_store=_text(app.node.try_get_context("vector_store")),
        cache=_text(app.node.try_get_context("cache")),
        vpc=parse_flag("vpc", app.node.try_get_context("vpc")),
        nat=parse_flag("nat", app.node.try_get_context("nat")),
        provisioned=parse_flag("provisioned", app.node.try_get_context("provisioned")),
        snapstart=parse_flag("snapstart", app.node.try_get_context("snapstart")),
    )
    stack = CreatorChatStack(
        app,
        config.stack_name,
        config=config,
        declaration=declaration,
        repo_root=REPO_ROOT,
        deps_layer_dir=resolve_deps_layer_dir(app.node.try_get_context("deps_layer_dir")),
        tags={"project": SERVICE, "environment": config.name},
    )
    for key, value in {"project": SERVICE, "environment": config.name, "managed-by": "cdk"}.items():
        Tags.of(app).add(key, value)
    add_checks(app)
    return app, stack


def _text(value: object) -> str | None:
    return str(value).strip().lower() or None if value is not None else None

"""Synthesises the CDK app offline, once per environment per module.

The app is built by the same ``build_app`` that ``app.py`` and ``cdk synth`` use, with:
an empty placeholder for the dependency layer (``deps_layer_dir``), no asset bundling
(``aws:cdk:bundling-stacks: []``) and no asset staging, so each asset's metadata names
its source folder. A cdk-nag failure does not abort the fixture: the template is still
written, and the nag test reports the findings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import App, CfnElement
from aws_cdk.assertions import Template
from constructs import IConstruct

from infra_cdk.application import build_app
from infra_cdk.config import EnvConfig
from infra_cdk.stack import CreatorChatStack


@dataclass
class Synthesized:
    """One synthesised environment: the app, its stack, template and nag outcome."""

    env: str
    config: EnvConfig
    app: App
    stack: CreatorChatStack
    template: Template
    resources: dict[str, dict[str, Any]]
    validation_error: str | None
    validation_report: dict[str, Any]

    def logical_id(self, construct_path: str) -> str:
        """Logical id of the CloudFormation resource at ``construct_path`` in the stack
        (``"Data/CreatorsTable"``), found through the construct tree, not by guessing."""
        construct: IConstruct = self.stack
        for part in construct_path.split("/"):
            child = construct.node.try_find_child(part)
            assert child is not None, f"no construct {construct_path} (at {part!r})"
            construct = child
        cfn = construct.node.default_child or construct
        assert isinstance(cfn, CfnElement), f"{construct_path} is not a CloudFormation element"
        return str(self.stack.resolve(self.stack.get_logical_id(cfn)))

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}


def synthesize(
    env: str,
    outdir: Path,
    deps_layer_dir: Path,
    customize: Callable[[App, CreatorChatStack], object] | None = None,
    extra_context: dict[str, Any] | None = None,
    *,
    bundle: bool = False,
) -> Synthesized:
    """``bundle``: stage and bundle the assets as ``cdk synth`` does (slower)."""
    skip_bundling = {"aws:cdk:bundling-stacks": [], "aws:cdk:disable-asset-staging": True}
    context = {
        **(extra_context or {}),
        "env": env,
        "deps_layer_dir": str(deps_layer_dir),
        **({} if bundle else skip_bundling),
        "aws:cdk:enable-asset-metadata": True,
    }
    app, stack = build_app(context, outdir=str(outdir))
    if customize:
        customize(app, stack)
    error: str | None = None
    try:
        app.synth()
    except RuntimeError as exc:  # jsii surfaces the validation failure as RuntimeError
        if "ValidationFailed" not in str(exc):
            raise
        error = str(exc)
    template_json = json.loads((outdir / stack.template_file).read_text())
    report_file = outdir / "validation-report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    return Synthesized(
        env=env,
        config=stack.config,  # the env's profile with the context flags applied
        app=app,
        stack=stack,
        template=Template.from_json(template_json),
        resources=template_json["Resources"],
        validation_error=error,
        validation_report=report,
    )


@pytest.fixture(scope="module")
def deps_layer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty stand-in for build/deps-layer: tests never build the real layer."""
    return tmp_path_factory.mktemp("deps-layer")


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory, deps_layer_dir: Path) -> Iterator[Synthesized]:
    yield synthesize("prod", tmp_path_factory.mktemp("cdk-prod"), deps_layer_dir)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, deps_layer_dir: Path) -> Iterator[Synthesized]:
    yield synthesize("dev", tmp_path_factory.mktemp("cdk-dev"), deps_layer_dir)


@pytest.fixture(scope="module", params=["prod", "dev"])
def synthesized(request: pytest.FixtureRequest) -> Synthesized:
    """Each environment in turn (the same two synths as ``prod`` and ``dev``)."""
    result: Synthesized = request.getfixturevalue(request.param)
    return result

"""The cost model (bench/cost.py, `make cost`) reads the synthesized templates: a change to
the stack changes the figures, by exactly the price of what changed."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.infra.conftest import Synthesized

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_cost", ROOT / "bench" / "cost.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_cost"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


cost = _load()
HOURS = 730.0


def template_of(synth: Synthesized) -> dict[str, Any]:
    return {"Resources": copy.deepcopy(synth.resources)}


def total(lines: list[Any]) -> float:
    return float(sum(line.usd for line in lines))


def of_type(template: dict[str, Any], resource_type: str) -> list[str]:
    return [k for k, r in template["Resources"].items() if r["Type"] == resource_type]


def chat_env(template: dict[str, Any]) -> dict[str, str]:
    for res in template["Resources"].values():
        if res["Type"] == "AWS::Lambda::Function":
            variables = res["Properties"].get("Environment", {}).get("Variables", {})
            if variables.get("POWERTOOLS_SERVICE_NAME") == "chat":
                return variables  # type: ignore[no-any-return]
    raise AssertionError("no chat function")


def test_removing_the_collection_lowers_idle_cost_by_exactly_its_price(
    synthesized: Synthesized,
) -> None:
    template = template_of(synthesized)
    collections = of_type(template, "AWS::OpenSearchServerless::Collection")
    if not collections:  # dev on S3 Vectors: give it a dev/test collection to take away
        template["Resources"]["AddedCollection"] = {
            "Type": "AWS::OpenSearchServerless::Collection",
            "Properties": {"Name": "added", "Type": "VECTORSEARCH", "StandbyReplicas": "DISABLED"},
        }
        collections = ["AddedCollection"]
    (logical,) = collections
    standby = template["Resources"][logical]["Properties"].get("StandbyReplicas") != "DISABLED"
    a = cost.Assumptions()
    before = total(cost.idle_cost(template, a))
    del template["Resources"][logical]
    after = total(cost.idle_cost(template, a))
    ocus = 2.0 if standby else 1.0
    expected = ocus * 0.24 * HOURS + a.corpus_gb * 0.024
    assert before - after == pytest.approx(expected)


def test_standby_replicas_double_the_collection_minimum(prod: Synthesized) -> None:
    template = template_of(prod)
    (logical,) = of_type(template, "AWS::OpenSearchServerless::Collection")
    props = template["Resources"][logical]["Properties"]
    props["StandbyReplicas"] = "ENABLED"
    on = total(cost.idle_cost(template))
    props["StandbyReplicas"] = "DISABLED"
    off = total(cost.idle_cost(template))
    assert on - off == pytest.approx(0.24 * HOURS)  # 2 OCUs vs 1


def test_provisioned_concurrency_is_priced_from_the_alias_and_the_function_memory(
    prod: Synthesized,
) -> None:
    template = template_of(prod)
    with_pc = cost.idle_cost(template)
    for logical in of_type(template, "AWS::Lambda::Alias"):
        template["Resources"][logical]["Properties"].pop("ProvisionedConcurrencyConfig", None)
    without = cost.idle_cost(template)
    pc_lines = [line for line in with_pc if line.component == "Lambda provisioned concurrency"]
    assert not [line for line in without if line.component == "Lambda provisioned concurrency"]
    assert total(with_pc) - total(without) == pytest.approx(total(pc_lines))
    for line in pc_lines:  # count x GB x seconds x the arm64 price
        count, mb = (int(x) for x in line.detail.split(": ")[1].split(" MB")[0].split(" x "))
        assert line.usd == pytest.approx(count * mb / 1024 * HOURS * 3600 * 0.0000033334)


def test_s3_vectors_store_is_priced_per_query_and_the_peer_pays_a_redundant_collection(
    dev: Synthesized,
) -> None:
    template = template_of(dev)
    for logical in of_type(template, "AWS::OpenSearchServerless::Collection"):
        del template["Resources"][logical]
    for res in template["Resources"].values():
        if res["Type"] == "AWS::Lambda::Function":
            variables = res["Properties"].get("Environment", {}).get("Variables", {})
            if "CREATOR_CHAT_VECTOR_INDEX" in variables:
                variables["CREATOR_CHAT_VECTOR_INDEX"] = "s3vectors"
    result = cost.cost_of("dev", template)
    names = [line.component for line in result.per_1000]
    assert "S3 Vectors queries" in names
    assert not any(line.component.startswith("OpenSearch") for line in result.idle)
    a = cost.Assumptions()
    assert total(result.peer_idle) - total(result.idle) == pytest.approx(
        2 * 0.24 * HOURS + a.corpus_gb * (0.024 - 0.06)
    )


def test_model_prices_come_from_the_template_function_environment(prod: Synthesized) -> None:
    template = template_of(prod)
    chat_env(template)["CREATOR_CHAT_GENERATION_MODEL_ID"] = "example.unknown-model-v9"
    warnings: list[str] = []
    lines = cost.per_1000_chats(template, cost.Assumptions(), warnings)
    assert "Bedrock generation" not in [line.component for line in lines]
    assert warnings == ["no price for generation model example.unknown-model-v9"]
    chat_env(template)["CREATOR_CHAT_GENERATION_MODEL_ID"] = "us.amazon.nova-micro-v1:0"
    chat_env(template)["CREATOR_CHAT_RERANK_MODEL_ID"] = "amazon.rerank-v1:0"
    lines = cost.per_1000_chats(template)
    by_name = {line.component: line.usd for line in lines}
    a = cost.Assumptions()
    chats = 1000 * (1 - a.response_cache_hit)
    assert by_name["Bedrock generation"] == pytest.approx(
        chats * (a.prompt_tokens * 0.000035 + a.answer_tokens * 0.00014) / 1000
    )
    assert by_name["Bedrock rerank"] == pytest.approx(chats / 1000 * 1.00)


def test_main_prints_dev_and_prod_with_assumptions_and_sources(
    dev: Synthesized,
    prod: Synthesized,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = []
    for synth in (dev, prod):
        path = tmp_path / f"{synth.env}.json"
        path.write_text(json.dumps(template_of(synth)))
        args += ["--template", f"{synth.env}={path}"]
    assert cost.main(args) == 0
    out = capsys.readouterr().out
    table = out.split("\n\n")[1]
    assert [row.split()[0] for row in table.splitlines()[1:3]] == ["dev", "prod"]
    for heading in ("dev: idle / month", "prod: 1,000 chats", "Assumptions", "Sources"):
        assert heading in out
    sources = out.split("Sources")[1]
    assert "https://aws.amazon.com/opensearch-service/pricing/" in sources
    assert "https://aws.amazon.com/bedrock/pricing/" in sources
    assert "verify" in sources  # list prices, dated, to be checked against the page

"""The dependency layer ships boto3 and botocore with the models of the services the code
calls and no others (``layers/build_deps.py``): a client resolves the same endpoint with
them as with every model, a service left out fails loudly, and the code cannot create a
client for a service the layer would not ship."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import botocore
import pytest
from creator_chat.adapters.aws.clients import AwsClients, declared, new_client
from creator_chat.adapters.aws.services import AWS_SERVICES
from creator_chat.settings import Settings

from infra_cdk.bytecode import load_build_deps

ROOT = Path(__file__).resolve().parents[2]
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1")

# Prints, per service and region, what a client resolves to (or the error it raises).
_RESOLVE = """
import json, sys
import boto3
session = boto3.session.Session(
    aws_access_key_id="testing", aws_secret_access_key="testing"
)
out = {}
for service in json.loads(sys.argv[1]):
    for region in json.loads(sys.argv[2]):
        try:
            client = session.client(service, region_name=region)
            signer = client._request_signer
            out[service + "@" + region] = [
                client.meta.endpoint_url, signer.region_name, signer.signing_name
            ]
        except Exception as err:
            out[service + "@" + region] = type(err).__name__
table = session.resource("dynamodb", region_name="us-east-1").Table("t")
out["dynamodb resource"] = table.meta.client.meta.endpoint_url
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def pruned_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This environment's boto3, botocore and s3transfer, pruned as the layer build does."""
    site = load_build_deps().shipped_sdk_copy(tmp_path_factory.mktemp("layer-sdk"))
    data = site / "botocore" / "data"
    assert len([p for p in data.iterdir() if p.is_dir()]) == len(AWS_SERVICES)
    return site


def _resolve(site: Path | None, services: list[str]) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(site) if site else ""
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", _RESOLVE, json.dumps(services), json.dumps(REGIONS)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_the_layer_keeps_only_the_declared_services_and_their_endpoints(pruned_site: Path):
    data = pruned_site / "botocore" / "data"
    assert {p.name for p in data.iterdir() if p.is_dir()} == AWS_SERVICES
    endpoints_file = data / "endpoints.json"
    full = botocore.__file__ and Path(botocore.__file__).parent / "data" / "endpoints.json"
    assert endpoints_file.stat().st_size < full.stat().st_size / 10
    endpoints = json.loads(endpoints_file.read_text())
    aws = next(p for p in endpoints["partitions"] if p["partition"] == "aws")
    # keyed by endpoint prefix; the newer services resolve by their endpoint rule sets alone
    assert {"dynamodb", "sqs", "s3", "sts", "xray"} == set(aws["services"])
    assert "ec2" not in aws["services"] and "lambda" not in aws["services"]
    assert "us-east-1" in aws["regions"] and len(endpoints["partitions"]) > 3


def test_a_client_resolves_the_same_endpoint_with_the_pruned_models_as_with_all(
    pruned_site: Path,
):
    services = sorted(AWS_SERVICES)
    pruned = _resolve(pruned_site, services)
    assert pruned == _resolve(None, services)
    assert pruned["dynamodb@us-east-1"] == [
        "https://dynamodb.us-east-1.amazonaws.com",
        "us-east-1",
        "dynamodb",
    ]
    assert pruned["apigatewaymanagementapi@us-east-1"][2] == "execute-api"  # type: ignore[index]


def test_a_service_the_layer_does_not_ship_fails_loudly(pruned_site: Path):
    assert _resolve(pruned_site, ["lambda"])["lambda@us-east-1"] == "UnknownServiceError"
    assert _resolve(None, ["lambda"])["lambda@us-east-1"] != "UnknownServiceError"


def test_the_code_refuses_a_client_for_a_service_not_declared():
    with pytest.raises(ValueError, match="AWS_SERVICES"):
        declared("lambda")
    with pytest.raises(ValueError, match="AWS_SERVICES"):
        new_client("ec2", region_name="us-east-1")
    clients = AwsClients(Settings(aws_region="us-east-1"))
    with pytest.raises(ValueError, match="AWS_SERVICES"):
        clients.client("kinesis")
    assert declared("sqs") == "sqs"


def _creates_a_client(node: ast.Call) -> bool:
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr in {"client", "resource"}
        and (
            (isinstance(func.value, ast.Name) and func.value.id in {"boto3", "session"})
            or (isinstance(func.value, ast.Attribute) and func.value.attr == "session")
        )
    )


def test_every_client_in_the_deployed_code_is_created_through_the_declared_services():
    """``boto3.client(...)`` anywhere but ``clients.py`` would skip the check above."""
    clients_py = ROOT / "layers/core/python/creator_chat/adapters/aws/clients.py"
    offenders = []
    for root in (ROOT / "layers/core/python/creator_chat", ROOT / "functions"):
        for path in root.rglob("*.py"):
            if path == clients_py or "local" in path.relative_to(ROOT).parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno}"
                for node in ast.walk(tree)
                if isinstance(node, ast.Call) and _creates_a_client(node)
            ]
    assert offenders == []


def test_the_layer_is_built_with_the_sdk_and_the_declared_services():
    build_deps = load_build_deps()
    names = {build_deps.canonical_name(r) for r in build_deps.runtime_requirements()}
    assert "boto3" in names  # shipped, pinned to what the tests ran, not the runtime's
    assert build_deps.aws_services() == AWS_SERVICES

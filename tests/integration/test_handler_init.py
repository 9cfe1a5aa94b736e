"""What each Lambda function loads at cold start, as a deployed function would.

Each case runs a handler in a fresh interpreter with the environment Lambda gives a
deployed function (tracing on, as the stack deploys it) against the emulator, invokes it
once, and checks which heavy packages ended up imported. A package in ``must_not_load``
is one the function's first request does not need; importing it anyway costs every cold
start tens to hundreds of milliseconds (see docs/performance.md). No timing is asserted:
what is loaded is the behaviour; ``make bench`` measures how long it takes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from creator_chat.auth import issue_dev_token
from creator_chat.domain.models import Creator, Role, Tier
from creator_chat.local.cold_start import child_code, lambda_environment, run_cold
from creator_chat.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
WATCHED = (
    "aws_xray_sdk",
    "fastapi",
    "httpx",
    "requests",
    "rich",
    "numpy",
    "onnxruntime",
    "tokenizers",
    "pypdf",
    "webvtt",
    "redis",
    "opensearchpy",
    "pydantic",
    "pydantic_settings",
    "jwt",
)


def run_function(
    settings: Settings,
    name: str,
    path: str,
    event: dict[str, Any] | None,
    *,
    tracing: bool = True,
) -> dict[str, Any]:
    code_dir, _, rest = path.partition("/")
    module, _, attr = rest.rpartition(".")
    base = {
        **os.environ,
        "CREATOR_CHAT_RESOURCE_PREFIX": settings.resource_prefix,
        "CREATOR_CHAT_JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "CREATOR_CHAT_DATA_DIR": str(settings.data_dir),
        "CREATOR_CHAT_STORAGE": "aws",  # a deployed function: DynamoDB, SQS, S3 (moto here)
    }
    env = lambda_environment(
        base, name=name, task_root=ROOT / "functions" / code_dir, tracing=tracing
    )
    code = child_code(
        ROOT / "functions" / code_dir / f"{module}.py", attr, name, event, watched=WATCHED
    )
    return run_cold(code, env)


def api_event(path: str, claims: dict[str, str]) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "http_get_creators.json").read_text())
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    event["requestContext"]["authorizer"] = {"lambda": claims}
    event["pathParameters"] = {"proxy": path.removeprefix("/v1/")}
    return event


@pytest.fixture(scope="module")
def creator_id(settings: Settings) -> str:
    from creator_chat.container import Container

    Container(settings).creators.create_creator(Creator("cr_init", "init-creator", "Init"))
    return "cr_init"


def test_authorizer_loads_no_web_framework_model_or_parser_and_traces_only_aws_calls(
    settings: Settings,
) -> None:
    tok = issue_dev_token(settings, user_id="fan-init", role=Role.FAN, tier=Tier.FREE)
    event = json.loads((EVENTS / "authorizer_request.json").read_text())
    event["headers"]["authorization"] = f"Bearer {tok}"
    out = run_function(settings, "authorizer", "authorizer/handler.handler", event)
    assert out["result"]["isAuthorized"] is True
    # X-Ray is on as deployed, but only botocore is patched: requests/httpx (and rich,
    # which httpx imports) are not pulled in by patching every library X-Ray supports;
    # nor pydantic: settings are read without it (~90 ms of the authorizer's cold start).
    assert out["loaded"] == ["aws_xray_sdk", "jwt"]


def test_without_tracing_the_xray_sdk_is_not_even_imported(settings: Settings) -> None:
    tok = issue_dev_token(settings, user_id="fan-init", role=Role.FAN, tier=Tier.FREE)
    event = json.loads((EVENTS / "authorizer_request.json").read_text())
    event["headers"]["authorization"] = f"Bearer {tok}"
    out = run_function(settings, "authorizer", "authorizer/handler.handler", event, tracing=False)
    assert out["result"]["isAuthorized"] is True
    assert out["loaded"] == ["jwt"]


def test_chat_lists_threads_without_loading_the_model_index_or_parsers(
    settings: Settings,
) -> None:
    claims = {"user_id": "fan-init", "role": "fan", "tier": "free"}
    out = run_function(settings, "chat", "chat/handler.handler", api_event("/v1/threads", claims))
    assert out["result"]["statusCode"] == 200, out["result"]
    # no JWT library (and cryptography under it): the authorizer verified the token; and no
    # web framework: FastAPI writes the OpenAPI document, only when it is asked for
    assert out["loaded"] == ["aws_xray_sdk", "pydantic"]


def test_ingest_api_lists_documents_without_parsers_index_or_model(
    settings: Settings, creator_id: str
) -> None:
    claims = {"user_id": "u-init", "role": "creator", "tier": "free", "creator_id": creator_id}
    path = f"/v1/creators/{creator_id}/documents"
    out = run_function(settings, "ingest", "ingest/handler.handler", api_event(path, claims))
    assert out["result"]["statusCode"] == 200, out["result"]
    assert json.loads(out["result"]["body"])["documents"] == []
    # the API stores and queues; parsing (pypdf, webvtt) and embedding are the worker's
    assert out["loaded"] == ["aws_xray_sdk", "pydantic"]


def sqs_event(body: dict[str, str]) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "sqs_ingest_job.json").read_text())
    event["Records"][0]["body"] = json.dumps(body)
    return event


@pytest.mark.parametrize(
    ("name", "path", "job"),
    [
        (
            "chat-worker",
            "chat/worker.handler",
            {"message_id": "msg_gone", "thread_id": "thr_gone", "user_id": "u", "tier": "free"},
        ),
        (
            "ingest-worker",
            "ingest/worker.handler",
            {"job_id": "job_init", "creator_id": "cr_init", "document_id": "doc_gone"},
        ),
        (
            "export-worker",
            "chat/export_worker.handler",
            {"export_id": "exp_gone", "user_id": "u"},
        ),
    ],
)
def test_queue_workers_do_not_load_the_web_framework(
    settings: Settings, name: str, path: str, job: dict[str, str]
) -> None:
    out = run_function(settings, name, path, sqs_event(job))
    assert out["result"] == {"batchItemFailures": []}  # the job's target is gone: skipped
    assert "fastapi" not in out["loaded"]
    assert "pydantic" not in out["loaded"]  # settings are read without it


def test_authorizer_loads_only_the_session_store_and_registers_its_snapstart_hooks(
    settings: Settings,
) -> None:
    """The DynamoDB adapters load per store (the authorizer writes sessions only), and the
    handler hands its container to the SnapStart hooks (refreshed after a restore)."""
    tok = issue_dev_token(settings, user_id="fan-init", role=Role.FAN, tier=Tier.FREE)
    event = json.loads((EVENTS / "authorizer_request.json").read_text())
    event["headers"]["authorization"] = f"Bearer {tok}"
    base = {
        **os.environ,
        "CREATOR_CHAT_RESOURCE_PREFIX": settings.resource_prefix,
        "CREATOR_CHAT_JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "CREATOR_CHAT_DATA_DIR": str(settings.data_dir),
        "CREATOR_CHAT_STORAGE": "aws",
    }
    env = lambda_environment(base, name="authorizer", task_root=ROOT / "functions" / "authorizer")
    code = child_code(
        ROOT / "functions" / "authorizer" / "handler.py", "handler", "authorizer", event
    )
    code += (
        "\nfrom creator_chat import snapstart\n"
        "prefix = 'creator_chat.adapters.aws.dynamodb.'\n"
        "print(json.dumps({'result': result, "
        "'stores': sorted(m for m in sys.modules if m.startswith(prefix)), "
        "'registered': [c is module.container for c in snapstart.registered()]}))\n"
    )
    out = run_cold(code, env)
    assert out["result"]["isAuthorized"] is True
    assert out["stores"] == [
        "creator_chat.adapters.aws.dynamodb.base",
        "creator_chat.adapters.aws.dynamodb.sessions",
    ]
    assert out["registered"] == [True]

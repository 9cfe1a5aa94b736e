"""The Lambda handlers, called as Lambda calls them, with the sample events in events/."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from creator_chat.auth import issue_dev_token
from creator_chat.domain.models import Creator, Role, Session, Tier
from creator_chat.local.gateway import LambdaContext
from creator_chat.local.runtime import default_functions_dir, load_handler
from creator_chat.settings import Settings

EVENTS = Path(__file__).resolve().parents[2] / "events"


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(scope="module")
def handlers(settings: Settings) -> Iterator[dict[str, Any]]:
    from creator_chat.container import reset_container

    # handler modules build their container from the environment, as in Lambda
    saved = dict(os.environ)
    os.environ["CREATOR_CHAT_RESOURCE_PREFIX"] = settings.resource_prefix
    os.environ["CREATOR_CHAT_STORAGE"] = "aws"  # as deployed: DynamoDB, SQS, S3 (moto)
    os.environ["CREATOR_CHAT_JWT_SECRET"] = "sample-events-secret-0123456789abcdef"
    reset_container()
    fdir = default_functions_dir()
    yield {
        "chat": load_handler(fdir, "chat", "handler.handler"),
        "authorizer": load_handler(fdir, "authorizer", "handler.handler"),
        "ingest_worker": load_handler(fdir, "ingest", "worker.handler"),
        "stream": load_handler(fdir, "stream", "handler.handler"),
    }
    os.environ.clear()
    os.environ.update(saved)
    reset_container()


def ctx(name: str) -> LambdaContext:
    return LambdaContext(name, 512, 30, "req-1")


def test_chat_handler_answers_an_http_api_v2_event(handlers: dict[str, Any], container):
    container.creators.create_creator(Creator("cr_evt", "evt-creator", "Evt"))
    out = handlers["chat"](event("http_get_creators.json"), ctx("chat"))
    assert out["statusCode"] == 200
    assert "evt-creator" in [c["slug"] for c in json.loads(out["body"])["creators"]]


def test_authorizer_allows_a_valid_token_and_denies_without_raising(handlers: dict[str, Any]):
    settings = Settings()
    tok = issue_dev_token(settings, user_id="fan-1", role=Role.FAN, tier=Tier.PREMIUM)
    ev = event("authorizer_request.json")
    ev["headers"]["authorization"] = f"Bearer {tok}"
    allowed = handlers["authorizer"](ev, ctx("authorizer"))
    assert allowed["isAuthorized"] is True
    context = allowed["context"]
    assert {k: context[k] for k in ("user_id", "role", "tier")} == {
        "user_id": "fan-1",
        "role": "fan",
        "tier": "premium",
    }
    assert context["session_id"].startswith("ses_") and tok not in str(allowed)
    ev["headers"]["authorization"] = "Bearer " + tok[:-4] + "AAAA"
    assert handlers["authorizer"](ev, ctx("authorizer")) == {"isAuthorized": False}
    ev["headers"].pop("authorization")
    assert handlers["authorizer"](ev, ctx("authorizer")) == {"isAuthorized": False}


def test_ingest_worker_skips_a_job_whose_document_is_gone(handlers: dict[str, Any]):
    out = handlers["ingest_worker"](event("sqs_ingest_job.json"), ctx("ingest-worker"))
    assert out == {"batchItemFailures": []}


def test_authorizer_errors_instead_of_denying_when_the_session_store_is_unavailable(
    handlers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    """A deny would be cached by API Gateway for the token (60 s) and the page would sign
    the fan out; an error (500) is not cached, and nobody gets in either way."""
    from creator_chat.container import container_from_env
    from creator_chat.errors import DependencyUnavailable

    settings = Settings()
    tok = issue_dev_token(settings, user_id="fan-blip", role=Role.FAN, tier=Tier.FREE)
    ev = event("authorizer_request.json")
    ev["headers"]["authorization"] = f"Bearer {tok}"
    sessions = container_from_env().sessions  # the store the handler's container uses

    def throttled(_sids: object) -> None:
        raise DependencyUnavailable("DynamoDB unavailable (ThrottlingException)")

    monkeypatch.setattr(sessions, "get_sessions", throttled)
    with pytest.raises(DependencyUnavailable):
        handlers["authorizer"](ev, ctx("authorizer"))
    monkeypatch.undo()
    assert handlers["authorizer"](ev, ctx("authorizer"))["isAuthorized"] is True


class RecordingSender:
    """Stands in for API Gateway's management API: what the stream function posts."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send(self, connection_id: str, message: dict[str, Any]) -> bool:
        self.sent.append((connection_id, message))
        return True


def test_websocket_authorizer_answers_with_an_iam_policy(handlers: dict[str, Any]):
    settings = Settings()
    tok = issue_dev_token(settings, user_id="fan-ws", role=Role.FAN, tier=Tier.FREE)
    ev = event("websocket_authorizer.json")
    ev["queryStringParameters"]["token"] = tok
    allowed = handlers["authorizer"](ev, ctx("authorizer"))
    statement = allowed["policyDocument"]["Statement"][0]
    assert statement == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": ev["methodArn"],
    }
    assert allowed["principalId"] == "fan-ws"
    assert allowed["context"]["user_id"] == "fan-ws"
    assert allowed["context"]["session_id"].startswith("ses_") and tok not in str(allowed)
    ev["queryStringParameters"]["token"] = tok[:-4] + "AAAA"
    denied = handlers["authorizer"](ev, ctx("authorizer"))
    assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_stream_handler_connects_answers_and_disconnects(handlers: dict[str, Any], container):
    from creator_chat.container import container_from_env

    stream_container = container_from_env()
    sender = RecordingSender()
    stream_container.overrides["connection_sender"] = sender
    try:
        if stream_container.creators.get_creator("cr_evt") is None:
            stream_container.creators.create_creator(Creator("cr_evt", "evt-creator", "Evt"))
        connect = event("websocket_connect.json")
        connection_id = connect["requestContext"]["connectionId"]
        # the session the authorizer made for this token
        stream_container.sessions.put_session(
            Session("ses_sample", "fan-1", created_at=1, expires_at=4102444800), replace=True
        )
        assert handlers["stream"](connect, ctx("stream")) == {"statusCode": 200}
        stored = stream_container.connections.get_connection(connection_id)
        assert stored is not None and stored.user_id == "fan-1"

        out = handlers["stream"](event("websocket_chat.json"), ctx("stream"))
        assert out == {"statusCode": 200}
        kinds = [m["type"] for _, m in sender.sent]
        assert kinds[-1] == "done" and {c for c, _ in sender.sent} == {connection_id}
        thread = stream_container.threads.get_thread(sender.sent[-1][1]["thread_id"])
        assert thread is not None and thread.user_id == "fan-1"

        handlers["stream"](event("websocket_disconnect.json"), ctx("stream"))
        assert stream_container.connections.get_connection(connection_id) is None
    finally:
        stream_container.overrides.pop("connection_sender", None)

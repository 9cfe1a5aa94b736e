"""ApiGatewayConnectionSender at the management API's request boundary: botocore's Stubber
for the answers, a ``before-send`` hook for what goes through botocore's retries. No request
leaves the process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber
from creator_chat.adapters.aws.websocket_sender import (
    CALLBACK_URL_ENV,
    MAX_MESSAGE_BYTES,
    ApiGatewayConnectionSender,
    MessageTooLarge,
    build_client,
    callback_url,
    encode,
)
from creator_chat.errors import DependencyUnavailable
from creator_chat.ports import ConnectionSender

ENDPOINT = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"


@pytest.fixture
def client() -> Any:
    return build_client(ENDPOINT, max_attempts=3)


@pytest.fixture
def stubber(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def expect_post(stubber: Stubber, connection_id: str, message: dict[str, Any]) -> None:
    stubber.add_response(
        "post_to_connection", {}, {"ConnectionId": connection_id, "Data": encode(message)}
    )


def test_it_serves_the_connection_sender_port(client: Any):
    sender: ConnectionSender = ApiGatewayConnectionSender(client)
    assert callable(sender.send)


def test_a_message_is_posted_as_compact_utf8_json(client: Any, stubber: Stubber):
    message = {"type": "delta", "text": 'Prise de son à 48 kHz — "mono"'}
    stubber.add_response(
        "post_to_connection",
        {},
        {
            "ConnectionId": "conn-1",
            "Data": '{"type":"delta","text":"Prise de son à 48 kHz — \\"mono\\""}'.encode(),
        },
    )

    assert ApiGatewayConnectionSender(client).send("conn-1", message) is True


def test_the_client_talks_to_the_stages_callback_url(client: Any):
    assert client.meta.endpoint_url == ENDPOINT
    assert client.meta.region_name == "eu-west-1"


def test_a_gone_connection_returns_false(client: Any, stubber: Stubber):
    stubber.add_client_error(
        "post_to_connection", service_error_code="GoneException", http_status_code=410
    )

    assert ApiGatewayConnectionSender(client).send("conn-1", {"type": "done"}) is False


def test_a_forbidden_connection_raises(client: Any, stubber: Stubber):
    # another API's connection id, or a missing execute-api:ManageConnections grant
    stubber.add_client_error(
        "post_to_connection", service_error_code="ForbiddenException", http_status_code=403
    )

    with pytest.raises(ClientError, match="ForbiddenException"):
        ApiGatewayConnectionSender(client).send("conn-1", {"type": "done"})


def test_throttling_left_after_the_retries_is_dependency_unavailable(client: Any, stubber: Stubber):
    stubber.add_client_error(
        "post_to_connection", service_error_code="LimitExceededException", http_status_code=429
    )

    with pytest.raises(DependencyUnavailable):
        ApiGatewayConnectionSender(client).send("conn-1", {"type": "done"})


def test_an_unreachable_endpoint_is_dependency_unavailable(
    client: Any, monkeypatch: pytest.MonkeyPatch
):
    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url=ENDPOINT)

    monkeypatch.setattr(client, "post_to_connection", unreachable)
    with pytest.raises(DependencyUnavailable):
        ApiGatewayConnectionSender(client).send("conn-1", {"type": "done"})


class FakeHttp:
    """Answers the client's HTTP requests in order (``before-send``), through botocore's
    parsing and retry handling, and records what was sent."""

    def __init__(self, client: Any, answers: list[tuple[int, str]]) -> None:
        self.answers = list(answers)
        self.requests: list[Any] = []
        client.meta.events.register("before-send.apigatewaymanagementapi", self)

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.requests.append(request)
        status, error = self.answers.pop(0)
        headers = {"x-amzn-ErrorType": error} if error else {}
        body = json.dumps({"message": error}).encode() if error else b""
        raw = type("Raw", (), {"stream": lambda self, **_: iter([body])})()
        response = AWSResponse(request.url, status, headers, raw)
        response._content = body
        return response


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", slept.append)
    return slept


def test_throttled_posts_are_retried_by_botocore_then_delivered(client: Any, no_backoff):
    http = FakeHttp(client, [(429, "LimitExceededException"), (500, ""), (200, "")])

    assert ApiGatewayConnectionSender(client).send("conn-1", {"type": "delta", "text": "Hi"})

    assert len(http.requests) == 3
    assert len(no_backoff) == 2  # backed off before each retry
    assert http.requests[-1].url == f"{ENDPOINT}/@connections/conn-1"
    assert http.requests[-1].body == b'{"type":"delta","text":"Hi"}'


def test_throttling_on_every_attempt_gives_up_after_the_configured_attempts(
    client: Any, no_backoff
):
    http = FakeHttp(client, [(429, "LimitExceededException")] * 3)

    with pytest.raises(DependencyUnavailable):
        ApiGatewayConnectionSender(client).send("conn-1", {"type": "done"})
    assert len(http.requests) == 3


def test_gone_is_not_retried(client: Any, no_backoff):
    http = FakeHttp(client, [(410, "GoneException")])

    assert ApiGatewayConnectionSender(client).send("conn-1", {"type": "done"}) is False
    assert len(http.requests) == 1


# -- the 128 KB message cap ------------------------------------------------------------------


def test_a_message_at_the_cap_is_sent_whole(client: Any, stubber: Stubber):
    overhead = len(encode({"type": "delta", "text": ""}))
    message = {"type": "delta", "text": "a" * (MAX_MESSAGE_BYTES - overhead)}
    assert len(encode(message)) == MAX_MESSAGE_BYTES
    expect_post(stubber, "conn-1", message)

    assert ApiGatewayConnectionSender(client).send("conn-1", message) is True


def test_a_delta_over_the_cap_goes_as_several_deltas_that_join_to_its_text(client: Any):
    posted: list[bytes] = []
    client.post_to_connection = lambda ConnectionId, Data: posted.append(Data)
    # multi-byte characters and escapes count by their encoded size
    text = ('é€😀"\\\n' + "x" * 50) * 6_000
    message = {"type": "delta", "text": text}
    assert len(encode(message)) > 2 * MAX_MESSAGE_BYTES

    assert ApiGatewayConnectionSender(client).send("conn-1", message) is True

    assert len(posted) >= 3
    assert all(len(data) <= MAX_MESSAGE_BYTES for data in posted)
    parts = [json.loads(data) for data in posted]
    assert all(p["type"] == "delta" for p in parts)
    assert "".join(p["text"] for p in parts) == text


def test_a_split_delta_stops_at_the_first_part_the_connection_did_not_take(client: Any):
    calls: list[bytes] = []

    def post(ConnectionId: str, Data: bytes) -> None:
        calls.append(Data)
        raise ClientError({"Error": {"Code": "GoneException"}}, "PostToConnection")

    client.post_to_connection = post
    message = {"type": "delta", "text": "x" * (3 * MAX_MESSAGE_BYTES)}

    assert ApiGatewayConnectionSender(client).send("conn-1", message) is False
    assert len(calls) == 1


def test_any_other_message_over_the_cap_is_refused_before_a_request(client: Any, stubber: Stubber):
    citations = [{"title": "t" * 1000, "url": "https://example.com"}] * 200
    message = {"type": "done", "thread_id": "t1", "citations": citations}

    with pytest.raises(MessageTooLarge, match=r"'done' message of \d+ bytes"):
        ApiGatewayConnectionSender(client).send("conn-1", message)
    # the stubber has no response queued: a request would have failed differently


# -- close and the callback URL ------------------------------------------------------------


def test_close_deletes_the_connection_and_reports_one_already_gone(client: Any, stubber: Stubber):
    stubber.add_response("delete_connection", {}, {"ConnectionId": "conn-1"})
    stubber.add_client_error(
        "delete_connection", service_error_code="GoneException", http_status_code=410
    )
    sender = ApiGatewayConnectionSender(client)

    assert sender.close("conn-1") is True
    assert sender.close("conn-1") is False


def event(domain: str = "abc123.execute-api.eu-west-1.amazonaws.com") -> dict[str, Any]:
    return {"requestContext": {"domainName": domain, "stage": "prod", "apiId": "abc123"}}


def test_the_callback_url_set_by_cdk_wins():
    env = {CALLBACK_URL_ENV: "https://xyz.execute-api.us-east-1.amazonaws.com/live/"}
    assert callback_url(event(), env) == "https://xyz.execute-api.us-east-1.amazonaws.com/live"


def test_without_it_the_callback_url_comes_from_the_event():
    assert callback_url(event(), {}) == ENDPOINT


def test_a_custom_domain_falls_back_to_the_execute_api_host():
    env = {"AWS_REGION": "eu-west-1"}
    assert callback_url(event("chat.example.com"), env) == ENDPOINT
    with pytest.raises(ValueError, match="custom domain"):
        callback_url(event("chat.example.com"), {})


def test_an_event_without_a_request_context_needs_the_env_var():
    with pytest.raises(ValueError, match=CALLBACK_URL_ENV):
        callback_url({}, {})

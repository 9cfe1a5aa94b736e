from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from creator_chat.adapters.aws.bedrock_embedder import TITAN_V2_MODEL_ID, BedrockEmbedder
from creator_chat.errors import DependencyUnavailable
from creator_chat.ports import Embedder


def make_client(**kw: Any) -> Any:
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        **kw,
    )


@pytest.fixture
def client() -> Any:
    return make_client()


@pytest.fixture
def stubber(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


@pytest.fixture
def sent_bodies(client: Any) -> list[dict[str, Any]]:
    """The JSON bodies of the InvokeModel calls, as the client received them."""
    bodies: list[dict[str, Any]] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        bodies.append(json.loads(params["body"]))

    client.meta.events.register("before-parameter-build.bedrock-runtime.InvokeModel", capture)
    return bodies


def titan_reply(embedding: list[float], tokens: int = 3) -> dict[str, Any]:
    raw = json.dumps({"embedding": embedding, "inputTextTokenCount": tokens}).encode()
    return {"body": StreamingBody(io.BytesIO(raw), len(raw)), "contentType": "application/json"}


EXPECTED_PARAMS = {
    "modelId": TITAN_V2_MODEL_ID,
    "body": ANY,
    "contentType": "application/json",
    "accept": "application/json",
}


def test_implements_the_embedder_port(client: Any) -> None:
    embedder: Embedder = BedrockEmbedder(client, dimensions=256)
    assert embedder.model_id == "amazon.titan-embed-text-v2:0"
    assert embedder.dimension == 256


def test_exact_request_and_parsed_vector(
    client: Any, stubber: Stubber, sent_bodies: list[dict[str, Any]]
) -> None:
    vector = [0.6, 0.8] + [0.0] * 254
    stubber.add_response("invoke_model", titan_reply(vector), EXPECTED_PARAMS)

    result = BedrockEmbedder(client, dimensions=256).embed(["how do I light my face?"])

    assert result == [vector]
    assert sent_bodies == [
        {"inputText": "how do I light my face?", "dimensions": 256, "normalize": True}
    ]


def test_batch_is_one_call_per_text_in_order(
    client: Any, stubber: Stubber, sent_bodies: list[dict[str, Any]]
) -> None:
    texts = ["first", "second", "third"]
    for n in range(3):
        stubber.add_response("invoke_model", titan_reply([float(n)] * 256), EXPECTED_PARAMS)

    # One worker: the Stubber answers in the order the requests arrive.
    result = BedrockEmbedder(client, dimensions=256, max_workers=1).embed(texts)

    assert [body["inputText"] for body in sent_bodies] == texts
    assert [v[0] for v in result] == [0.0, 1.0, 2.0]


def test_parallel_batch_keeps_each_vector_with_its_text() -> None:
    class EchoClient:
        """Answers each text with a vector derived from that text, from any thread."""

        def __init__(self) -> None:
            self.threads: set[str] = set()
            self.lock = threading.Lock()

        def invoke_model(self, **params: Any) -> dict[str, Any]:
            with self.lock:
                self.threads.add(threading.current_thread().name)
            text = json.loads(params["body"])["inputText"]
            return titan_reply([float(len(text))] * 256)

    fake = EchoClient()
    client: Any = fake
    texts = ["a" * n for n in range(1, 21)]
    result = BedrockEmbedder(client, dimensions=256, max_workers=4).embed(texts)

    assert [v[0] for v in result] == [float(n) for n in range(1, 21)]
    assert all(name.startswith("titan-embed") for name in fake.threads)


def test_empty_batch_makes_no_call(client: Any, stubber: Stubber) -> None:
    assert BedrockEmbedder(client).embed([]) == []


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "ServiceUnavailableException", "ModelTimeoutException"]
)
def test_transient_errors_raise_dependency_unavailable(
    client: Any, stubber: Stubber, code: str
) -> None:
    stubber.add_client_error("invoke_model", service_error_code=code, http_status_code=429)
    with pytest.raises(DependencyUnavailable) as info:
        BedrockEmbedder(client).embed(["q"])
    assert code in info.value.message


def test_throttling_in_a_parallel_batch_raises_dependency_unavailable() -> None:
    class Throttled:
        def invoke_model(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "ThrottlingException"}}, "InvokeModel")

    client: Any = Throttled()
    with pytest.raises(DependencyUnavailable):
        BedrockEmbedder(client, max_workers=3).embed(["a", "b", "c", "d"])


def test_validation_errors_propagate_unchanged(client: Any, stubber: Stubber) -> None:
    stubber.add_client_error(
        "invoke_model", service_error_code="ValidationException", http_status_code=400
    )
    with pytest.raises(ClientError) as info:
        BedrockEmbedder(client).embed(["q"])
    assert info.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize(
    "exc",
    [
        ReadTimeoutError(endpoint_url="https://bedrock-runtime"),
        ConnectTimeoutError(endpoint_url="https://bedrock-runtime"),
    ],
)
def test_timeouts_raise_dependency_unavailable(exc: Exception) -> None:
    class TimingOut:
        def invoke_model(self, **_: Any) -> Any:
            raise exc

    client: Any = TimingOut()
    with pytest.raises(DependencyUnavailable):
        BedrockEmbedder(client).embed(["q"])


def test_wrong_length_vector_is_an_error(client: Any, stubber: Stubber) -> None:
    stubber.add_response("invoke_model", titan_reply([1.0] * 512), EXPECTED_PARAMS)
    with pytest.raises(ValueError, match="512"):
        BedrockEmbedder(client, dimensions=256).embed(["q"])


def test_rejects_dimensions_titan_v2_does_not_offer(client: Any) -> None:
    with pytest.raises(ValueError):
        BedrockEmbedder(client, dimensions=384)


def test_throttled_after_the_clients_own_retries() -> None:
    """A real client against a loopback endpoint that always answers 429: botocore retries,
    then the adapter turns the last ThrottlingException into DependencyUnavailable."""
    requests: list[str] = []

    class AlwaysThrottled(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            requests.append(self.path)
            body = b'{"message":"Too many requests, please wait before trying again."}'
            self.send_response(429)
            self.send_header("x-amzn-ErrorType", "ThrottlingException")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), AlwaysThrottled)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = make_client(
            endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
            config=Config(retries={"mode": "adaptive", "total_max_attempts": 2}, read_timeout=5),
        )
        with pytest.raises(DependencyUnavailable, match="ThrottlingException"):
            BedrockEmbedder(client).embed(["q"])
    finally:
        server.shutdown()
        server.server_close()
    assert requests == ["/model/amazon.titan-embed-text-v2%3A0/invoke"] * 2

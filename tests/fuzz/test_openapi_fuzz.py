"""Fuzz every operation of the OpenAPI document through the local gateway.

For each operation, Hypothesis draws requests from schemathesis' strategies — valid ones
(``positive``) and ones that break the schema (``negative``), with generated path ids or
real ones (so requests reach the use cases, not only the 404 of an unknown id) — and sends
them as an admin, a creator or a fan, each request with a fresh token; then again with no
token at all. Every response must be:

- never a 5xx;
- a status the document declares, with a body that matches its declared schema (errors
  are ``{"error": {code, message, request_id}}``, or API Gateway's ``{"message"}`` for its
  own 401/403/413);
- for schema-breaking requests, a 4xx;
- without a token, a 401 on every ``/v1`` route (and the re-sent request without auth is
  refused: schemathesis' ``ignored_auth``).
"""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest
import schemathesis
from creator_chat.api.chat_app import create_app as create_chat_app
from creator_chat.local.runtime import LocalRuntime
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import AcceptedNegativeData

from tests.fuzz.conftest import DERANDOMIZE, FUZZ_EXAMPLES, SENT, World
from tests.fuzz.spec import ingest_openapi, merge_openapi, operations

# The operations are known without a server: the same apps build the same documents
# (``test_the_served_document_is_the_one_fuzzed`` holds the gateway to that).
LOCAL_DOC = merge_openapi(create_chat_app(lambda: None).openapi(), ingest_openapi())  # type: ignore[arg-type,return-value]
OPERATIONS = operations(LOCAL_DOC)
ROLES = ("admin", "creator", "fan")
# the budget: signed-in runs get three quarters of it, the anonymous run the rest
SIGNED_IN = max(3, FUZZ_EXAMPLES * 3 // 4 // len(OPERATIONS))
ANONYMOUS = max(1, FUZZ_EXAMPLES // 4 // len(OPERATIONS))


def _stripped(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        return {k: _stripped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stripped(v) for v in value]
    return value


def _body_schema(case: Any) -> dict[str, Any] | None:
    operation = LOCAL_DOC["paths"][case.operation.path][case.method.lower()]
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return {**schema, "components": LOCAL_DOC["components"]} if schema else None


def negative_data_rejected(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis' ``negative_data_rejection``, knowing that request bodies are stripped of
    surrounding whitespace before they are validated (``Strict``): a body the fuzzer made
    invalid only by a length or pattern its padding breaks is valid here, and accepted."""
    try:
        negative_data_rejection(ctx, response, case)
        return None
    except AcceptedNegativeData:
        schema = _body_schema(case)
        body = case.body if isinstance(case.body, dict | list | str) else None
        if schema is not None and body is not None and body != _stripped(body):
            validator = jsonschema.Draft202012Validator(schema)
            if validator.is_valid(_stripped(body)):
                return None
        raise


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejected,
]


def _settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


@pytest.fixture(scope="module")
def schema(openapi_doc: dict[str, Any]) -> Any:
    config = SchemathesisConfig.from_dict(
        {
            "generation": {
                # the token is ours to give (a real one per request, or none at all)
                "with-security-parameters": False,
                # unknown query parameters are ignored, as most HTTP APIs do (unknown body
                # fields are refused: a typo in a body is a 422)
                "allow-extra-parameters": False,
            }
        }
    )
    return schemathesis.openapi.from_dict(openapi_doc, config=config)


def _operation(schema: Any, method: str, path: str) -> Any:
    return schema[path][method]


def _real_path_parameters(operation: Any, world: World) -> dict[str, str]:
    known = {
        "creator_id": world.creator_id,
        "document_id": world.document_id,
        "thread_id": world.thread_id,
        "message_id": world.message_id,
    }
    names = {p.name for p in operation.path_parameters}
    return {k: v for k, v in known.items() if k in names}


def _send(case: Any, url: str, headers: dict[str, str]) -> Any:
    response = case.call(base_url=url, headers=headers, timeout=60)
    caller = "anonymous" if not headers else headers["x-fuzz-role"]
    SENT[(caller, response.status_code)] += 1
    assert response.status_code < 500, (
        f"{response.status_code} {response.text[:500]}\n{case.as_curl_command(headers)}"
    )
    return response


def test_the_served_document_is_the_one_fuzzed(api: httpx.Client) -> None:
    served = api.get("/openapi.json").json()
    assert merge_openapi(served, ingest_openapi()) == LOCAL_DOC


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_signed_in_requests_never_fail_and_match_the_document(
    method: str, path: str, schema: Any, runtime: LocalRuntime, world: World, fresh_token: Any
) -> None:
    operation = _operation(schema, method, path)
    real = _real_path_parameters(operation, world)
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    if real:
        strategies += [
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=real),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, path_parameters=real),
        ]

    @_settings(SIGNED_IN)
    @given(case=st.one_of(strategies), role=st.sampled_from(ROLES))
    def fuzz(case: Any, role: str) -> None:
        headers = {"Authorization": f"Bearer {fresh_token(role)}", "x-fuzz-role": role}
        response = _send(case, runtime.url, headers)
        checks = [*CHECKS, ignored_auth] if path.startswith("/v1/") else CHECKS
        case.validate_response(response, checks=checks, headers=headers)

    fuzz()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_requests_without_a_token_are_refused_at_the_gateway(
    method: str, path: str, schema: Any, runtime: LocalRuntime, world: World
) -> None:
    operation = _operation(schema, method, path)
    modes = st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE])

    @_settings(ANONYMOUS)
    @given(data=st.data(), mode=modes)
    def fuzz(data: st.DataObject, mode: GenerationMode) -> None:
        case = data.draw(operation.as_strategy(generation_mode=mode))
        case.headers = {
            k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"
        }
        response = _send(case, runtime.url, {})
        if path.startswith("/v1/"):
            assert response.status_code == 401, response.text
            assert response.json() == {"message": "Unauthorized"}
        case.validate_response(response, checks=CHECKS)

    fuzz()

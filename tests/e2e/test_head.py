"""HEAD answers like GET without a body, for the API's GET routes and the web page's files
(monitors and link checkers use HEAD; issue 15). Locally only: API Gateway routes HEAD only
to a HEAD or ANY route (CloudFront and S3 answer HEAD for the page in AWS)."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize("path", ["/", "/health", "/widget.js", "/c/bench-shot", "/config.json"])
def test_head_answers_like_get_without_the_body(api: httpx.Client, path: str):
    got = api.get(path)
    head = api.head(path)
    assert got.status_code == head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(got.content)
    assert head.headers["content-type"] == got.headers["content-type"]


def test_head_goes_through_the_authorizer_like_get(api: httpx.Client):
    assert api.head("/v1/creators").status_code == 401
    assert api.head("/no/such/page").status_code == 404

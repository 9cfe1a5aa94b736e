"""One edit to the shared declaration reaches both the CDK template and the local runtime."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import boto3
from creator_chat.local.gateway import match_route
from creator_chat.local.provision import provision
from creator_chat.resources import DECLARATION, Key, Route, Table, WebSocketRoute
from creator_chat.settings import Settings

from infra_cdk.application import build_app

EXTENDED = dataclasses.replace(
    DECLARATION,
    tables=(*DECLARATION.tables, Table("bookmarks", Key("user_id"), Key("sk"))),
    routes=(*DECLARATION.routes, Route("GET", "/v1/bookmarks/{bookmark_id}", "chat")),
    websocket_routes=(*DECLARATION.websocket_routes, WebSocketRoute("typing", "stream")),
)


def test_a_new_table_and_route_appear_in_the_template_and_locally(
    tmp_path: Path, deps_layer_dir: Path, emulator: str
):
    # CDK: the same declaration object, no other edit
    app, stack = build_app(
        {
            "env": "dev",
            "deps_layer_dir": str(deps_layer_dir),
            "aws:cdk:bundling-stacks": [],
            "aws:cdk:disable-asset-staging": True,
        },
        outdir=str(tmp_path),
        declaration=EXTENDED,
    )
    app.synth()
    template = json.loads((tmp_path / stack.template_file).read_text())
    tables = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::DynamoDB::GlobalTable"
    ]
    assert any(
        t["KeySchema"][0]["AttributeName"] == "user_id"
        and any(a["AttributeName"] == "sk" for a in t["AttributeDefinitions"])
        and t.get("TimeToLiveSpecification", {}).get("AttributeName") == "expires_at"
        for t in tables
        if len(t["KeySchema"]) == 2
    )
    assert len(tables) == len(EXTENDED.tables)
    routes = [
        r["Properties"]["RouteKey"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    ]
    assert "GET /v1/bookmarks/{bookmark_id}" in routes
    # a WebSocket action: a route of the WebSocket API (route selection: the body's action)
    ws_api = next(
        logical_id
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::ApiGatewayV2::Api" and r["Properties"]["ProtocolType"] == "WEBSOCKET"
    )
    ws_routes = {
        r["Properties"]["RouteKey"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::ApiGatewayV2::Route" and r["Properties"]["ApiId"] == {"Ref": ws_api}
    }
    assert ws_routes == {r.route_key for r in EXTENDED.websocket_routes}
    assert "typing" in ws_routes

    # Local: provisioning and the gateway read the same object
    settings = Settings(resource_prefix=f"drift{uuid.uuid4().hex[:6]}")
    provision(settings, EXTENDED)
    described = boto3.client("dynamodb").describe_table(
        TableName=settings.physical_name("table", "bookmarks")
    )["Table"]
    assert [k["AttributeName"] for k in described["KeySchema"]] == ["user_id", "sk"]
    matched = match_route(list(EXTENDED.routes), "GET", "/v1/bookmarks/b1")
    assert matched is not None and matched[0].path == "/v1/bookmarks/{bookmark_id}"

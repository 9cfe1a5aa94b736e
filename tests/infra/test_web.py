"""The web client in AWS: the web folder in a private bucket, behind CloudFront with OAC."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from creator_chat.local.static import DEV_TOKEN_PATH, WEB_ROOT
from creator_chat.resources import DECLARATION

from infra_cdk.constructs.web import WebConstruct

from .conftest import Synthesized

# Every cdk-nag finding the web construct acknowledges (each with its reason in code).
WEB_ACKNOWLEDGEMENTS = {
    "AwsSolutions-CFR1",  # no geo restriction: fans everywhere
    "AwsSolutions-CFR2",  # no WAF on static files (a CloudFront WAF lives in us-east-1)
    "AwsSolutions-CFR4",  # default *.cloudfront.net certificate
    "AwsSolutions-IAM5[Action::s3:GetBucket*]",  # BucketDeployment's own grants, below
    "AwsSolutions-IAM5[Action::s3:GetObject*]",
    "AwsSolutions-IAM5[Action::s3:List*]",
    "AwsSolutions-IAM5[Action::s3:Abort*]",
    "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-"
    "<AWS::AccountId>-<AWS::Region>/*]",
    "AwsSolutions-IAM5[Resource::<WebSiteBucket1E6F6F45.Arn>/*]",
    "AwsSolutions-IAM5[Resource::*]",  # CloudFront invalidations
    "AwsSolutions-L1",  # BucketDeployment's handler runtime is aws-cdk-lib's choice
}


def only(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    assert len(resources) == 1, list(resources)
    return next(iter(resources.items()))


def distribution(synthesized: Synthesized) -> dict[str, Any]:
    _, dist = only(synthesized.of_type("AWS::CloudFront::Distribution"))
    config: dict[str, Any] = dist["Properties"]["DistributionConfig"]
    return config


def test_site_bucket_is_private_encrypted_and_tls_only(synthesized: Synthesized) -> None:
    for path in ("Web/SiteBucket", "Web/LogsBucket"):
        bucket = synthesized.resources[synthesized.logical_id(path)]["Properties"]
        assert bucket["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, path
        encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert encryption[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert "WebsiteConfiguration" not in bucket  # CloudFront reads it, nobody else
    site = synthesized.logical_id("Web/SiteBucket")
    (policy,) = [
        p
        for p in synthesized.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": site}
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    public = [s for s in statements if s["Effect"] == "Allow" and s.get("Principal") == "*"]
    assert public == []


def test_distribution_reads_the_bucket_through_origin_access_control(
    synthesized: Synthesized,
) -> None:
    config = distribution(synthesized)
    (origin,) = config["Origins"]
    site = synthesized.logical_id("Web/SiteBucket")
    assert origin["DomainName"] == {"Fn::GetAtt": [site, "RegionalDomainName"]}
    assert origin["S3OriginConfig"]["OriginAccessIdentity"] == ""  # no legacy OAI
    oac_id, oac = only(synthesized.of_type("AWS::CloudFront::OriginAccessControl"))
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    oac_config = oac["Properties"]["OriginAccessControlConfig"]
    assert oac_config["OriginAccessControlOriginType"] == "s3"
    assert oac_config["SigningBehavior"] == "always"
    # and the bucket lets only this distribution read it
    (policy,) = [
        p
        for p in synthesized.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": site}
    ]
    (grant,) = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}
    ]
    assert grant["Action"] == "s3:GetObject"
    source_arn = json.dumps(grant["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert synthesized.logical_id("Web/Distribution") in source_arn


def test_index_html_is_the_root_and_creator_pages_and_https_only(
    synthesized: Synthesized,
) -> None:
    config = distribution(synthesized)
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["Logging"]["Prefix"] == "cloudfront/"
    (creator_pages,) = config["CacheBehaviors"]
    assert creator_pages["PathPattern"] == "/c/*"
    assert creator_pages["ViewerProtocolPolicy"] == "redirect-to-https"
    events = {
        a["EventType"]: a["FunctionARN"]["Fn::GetAtt"][0]
        for a in creator_pages["FunctionAssociations"]
    }
    rewrite = synthesized.resources[events["viewer-request"]]["Properties"]["FunctionCode"]
    assert "request.uri = '/index.html'" in rewrite
    headers = json.dumps(synthesized.resources[events["viewer-response"]]["Properties"])
    assert "frame-ancestors *" in headers and "frame-ancestors 'none'" in headers
    assert "embed.value === '1'" in headers


def test_security_headers_allow_only_self_and_the_api(synthesized: Synthesized) -> None:
    policy_id = distribution(synthesized)["DefaultCacheBehavior"]["ResponseHeadersPolicyId"]
    policy = synthesized.resources[policy_id["Ref"]]["Properties"]["ResponseHeadersPolicyConfig"]
    security = policy["SecurityHeadersConfig"]
    csp = json.dumps(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert synthesized.logical_id("Api/HttpApi") in csp  # connect-src: the API's URL
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31_536_000


def test_the_dashboard_may_post_uploads_to_the_uploads_bucket_and_nowhere_else(
    synthesized: Synthesized,
) -> None:
    """The dashboard's upload is a form POST from the site's origin to the bucket (a
    presigned POST): the bucket allows exactly that, and the page's CSP allows the bucket."""
    bucket_id = synthesized.logical_id("Storage/RawUploadsBucket")
    rules = synthesized.resources[bucket_id]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert [r["AllowedMethods"] for r in rules] == [["POST"]]
    # any origin may send the form; only a form signed for one key and size is accepted
    assert rules[0]["AllowedOrigins"] == ["*"]
    policy_id = distribution(synthesized)["DefaultCacheBehavior"]["ResponseHeadersPolicyId"]
    policy = synthesized.resources[policy_id["Ref"]]["Properties"]["ResponseHeadersPolicyConfig"]
    csp = json.dumps(policy["SecurityHeadersConfig"]["ContentSecurityPolicy"])
    assert bucket_id in csp and ".s3.amazonaws.com" in csp
    # the other buckets (exports: download links) take no cross-origin writes
    exports = synthesized.resources[synthesized.logical_id("Storage/ExportsBucket")]
    assert "CorsConfiguration" not in exports["Properties"]


def test_the_web_folder_and_a_deploy_time_config_are_uploaded(synthesized: Synthesized) -> None:
    outdir = Path(synthesized.app.outdir)
    manifest = json.loads((outdir / f"{synthesized.stack.artifact_id}.assets.json").read_text())
    sources = [Path(a["source"]["path"]) for a in manifest["files"].values()]
    assert WEB_ROOT in sources  # the very folder the local runtime serves
    web = synthesized.stack.node.find_child("Web")
    assert isinstance(web, WebConstruct)
    config = synthesized.stack.resolve(web.client_config)
    assert config["dev_sign_in"] is False  # the local dev sign-in is never deployed
    assert config.get("sign_in_url") is None  # -c web_sign_in_url=... sets the hosted UI link
    assert synthesized.logical_id("Api/HttpApi") in json.dumps(config["api_base"])
    _, deployment = only(synthesized.of_type("Custom::CDKBucketDeployment"))
    props = deployment["Properties"]
    assert props["DestinationBucketName"] == {"Ref": synthesized.logical_id("Web/SiteBucket")}
    assert props["Prune"] is True and props["DistributionPaths"] == ["/*"]
    assert len(props["SourceObjectKeys"]) == 2  # the folder and config.json
    markers = json.dumps(props["SourceMarkers"])
    assert synthesized.logical_id("Api/HttpApi") in markers  # api_base, filled in at deploy


def test_no_local_route_is_deployed(synthesized: Synthesized) -> None:
    assert all(not r.path.startswith("/local") for r in DECLARATION.routes)
    routes = [
        r["Properties"]["RouteKey"]
        for r in synthesized.of_type("AWS::ApiGatewayV2::Route").values()
    ]
    assert routes and not any(DEV_TOKEN_PATH in key or "/local" in key for key in routes)


def test_cdk_nag_passes_and_web_acknowledgements_are_expected_with_reasons(
    synthesized: Synthesized,
) -> None:
    assert synthesized.validation_error is None, synthesized.validation_error
    web_ids = {
        logical_id
        for logical_id in synthesized.resources
        if logical_id.startswith("Web") or logical_id.startswith("CustomCDKBucketDeployment")
    }
    acknowledged: set[str] = set()
    for logical_id in web_ids:
        metadata = synthesized.resources[logical_id].get("Metadata", {})
        for rule in metadata.get("cdk_nag", {}).get("rules_to_suppress", []):
            if rule["id"].startswith("AwsSolutions-"):
                assert len(rule["reason"]) >= 20, rule
                acknowledged.add(rule["id"])
    assert acknowledged == WEB_ACKNOWLEDGEMENTS

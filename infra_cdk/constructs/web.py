"""The web client: ``creator_chat/web/`` in a private S3 bucket behind CloudFront (OAC).

The same folder the local runtime serves. CloudFront reads the bucket through an origin
access control (the bucket stays private, no website hosting), answers ``/`` with
``index.html`` and rewrites ``/c/{slug}`` to it (a CloudFront Function), and adds the same
security headers as the local runtime: a CSP allowing this origin and the API, ``nosniff``,
HSTS, and ``frame-ancestors 'none'`` except on the embed page (``/c/{slug}?embed=1``).
``config.json`` is written at deploy time: the API URL and, when ``-c web_sign_in_url=...``
is given, the Cognito hosted UI link. The local dev sign-in does not exist here.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct
from creator_chat.local.static import WEB_ROOT, content_security_policy

from infra_cdk.config import EnvConfig
from infra_cdk.constructs.storage import private_bucket
from infra_cdk.nag import acknowledge

INDEX = "index.html"
CREATOR_PAGES = "/c/*"

# /c/{slug} is the single page opened on a creator: serve index.html for it.
_REWRITE_TO_INDEX = f"""function handler(event) {{
  var request = event.request;
  request.uri = '/{INDEX}';
  return request;
}}"""

# The embed page (?embed=1) may be framed by any site; every other page by none.
_EMBED_HEADERS = """var EMBED_CSP = {embed_csp};
var PAGE_CSP = {page_csp};
function handler(event) {{
  var response = event.response;
  var embed = event.request.querystring.embed;
  var framed = Boolean(embed && embed.value === '1');
  response.headers['content-security-policy'] = {{ value: framed ? EMBED_CSP : PAGE_CSP }};
  if (!framed) {{
    response.headers['x-frame-options'] = {{ value: 'DENY' }};
  }}
  return response;
}}"""


class WebConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvConfig,
        api_url: str,
        stream_url: str | None = None,
        upload_bucket: s3.IBucket | None = None,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        # CloudFront standard logs are written with ACLs: this bucket alone allows them.
        self.logs_bucket = private_bucket(
            self,
            "LogsBucket",
            config=config,
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(config.access_log_expiration_days))
            ],
        )
        self.bucket = private_bucket(
            self,
            "SiteBucket",
            config=config,
            server_access_logs_bucket=self.logs_bucket,
            server_access_logs_prefix="site-bucket/",
        )

        # the page calls the API on its own origin (execute-api), and streams answers from the
        # WebSocket API (wss://…): allow exactly those URLs
        connect_src = f"'self' {api_url}" + (f" {stream_url}" if stream_url else "")
        # the dashboard POSTs uploads straight to the uploads bucket (a presigned form whose
        # URL is the bucket's virtual-hosted https://{bucket}.s3.amazonaws.com/)
        upload_origin = (
            f"https://{upload_bucket.bucket_name}.s3.amazonaws.com" if upload_bucket else None
        )
        if upload_origin:
            connect_src += f" {upload_origin}"
        page_csp = content_security_policy(connect_src=connect_src)
        embed_csp = content_security_policy(frame_ancestors="*", connect_src=connect_src)
        security = cloudfront.ResponseSecurityHeadersBehavior(
            content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
            referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
                override=True,
            ),
            strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                access_control_max_age=Duration.days(365),
                include_subdomains=True,
                override=True,
            ),
        )
        site_headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SiteHeaders",
            comment=f"creator-chat {config.name} web client",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_type_options=security.content_type_options,
                referrer_policy=security.referrer_policy,
                strict_transport_security=security.strict_transport_security,
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=page_csp, override=True
                ),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
            ),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=[
                    cloudfront.ResponseCustomHeader(
                        header="Cross-Origin-Resource-Policy", value="cross-origin", override=True
                    )
                ]
            ),
        )
        # /c/*: the CSP (frame-ancestors) depends on ?embed=1, so a function sets it
        creator_page_headers = cloudfront.ResponseHeadersPolicy(
            self,
            "CreatorPageHeaders",
            comment=f"creator-chat {config.name} creator pages (CSP set by a function)",
            security_headers_behavior=security,
        )
        rewrite = cloudfront.Function(
            self,
            "CreatorPageRewrite",
            code=cloudfront.FunctionCode.from_inline(_REWRITE_TO_INDEX),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="/c/{slug} serves index.html",
        )
        embed_headers = cloudfront.Function(
            self,
            "CreatorPageHeadersFunction",
            code=cloudfront.FunctionCode.from_inline(
                _EMBED_HEADERS.format(
                    embed_csp=stack.to_json_string(embed_csp),
                    page_csp=stack.to_json_string(page_csp),
                )
            ),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="frame-ancestors * for ?embed=1 only",
        )

        origin = origins.S3BucketOrigin.with_origin_access_control(self.bucket)
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"creator-chat {config.name} web client",
            default_root_object=INDEX,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=site_headers,
                compress=True,
            ),
            additional_behaviors={
                CREATOR_PAGES: cloudfront.BehaviorOptions(
                    origin=origin,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                    response_headers_policy=creator_page_headers,
                    compress=True,
                    function_associations=[
                        cloudfront.FunctionAssociation(
                            function=rewrite, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                        ),
                        cloudfront.FunctionAssociation(
                            function=embed_headers,
                            event_type=cloudfront.FunctionEventType.VIEWER_RESPONSE,
                        ),
                    ],
                )
            },
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=self.logs_bucket,
            log_file_prefix="cloudfront/",
        )

        sign_in_url = self.node.try_get_context("web_sign_in_url")
        # what /config.json tells the page (the local runtime serves its own)
        self.client_config: dict[str, object] = {
            "api_base": api_url,
            # the WebSocket of streamed answers (wss://…/live); the page falls back to HTTP
            "stream_url": stream_url,
            "dev_sign_in": False,  # the local dev sign-in does not exist here
            "sign_in_url": str(sign_in_url) if sign_in_url else None,
        }
        deploy_logs = logs.LogGroup(
            self,
            "DeployLogs",
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        # our own role: the upload function's logs go to its log group, no managed policy
        deploy_role = iam.Role(
            self,
            "DeployRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"creator-chat {config.name} web client upload (BucketDeployment)",
        )
        deploy_logs.grant_write(deploy_role)
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deploy",
            destination_bucket=self.bucket,
            sources=[
                s3deploy.Source.asset(str(WEB_ROOT), exclude=["config.json", ".*"]),
                s3deploy.Source.json_data("config.json", self.client_config),
            ],
            distribution=self.distribution,
            distribution_paths=["/*"],
            prune=True,
            log_group=deploy_logs,
            role=deploy_role,
        )
        self._acknowledge(config, deploy_role)
        self.url = f"https://{self.distribution.distribution_domain_name}"
        if upload_bucket is not None:
            # the browser's form POST to the bucket is cross-origin. Any origin, POST only:
            # naming this site's origin would make the bucket depend on the distribution,
            # which depends on the bucket (its CSP names it), and CORS guards nothing here —
            # a POST is accepted only with a form signed for one key, size range and type,
            # from wherever it comes (curl needs no CORS)
            upload_bucket.add_cors_rule(
                allowed_methods=[s3.HttpMethods.POST],
                allowed_origins=["*"],
                allowed_headers=["*"],
                max_age=3000,
            )
        CfnOutput(self, "WebUrl", value=self.url)
        CfnOutput(
            self,
            "WidgetSnippet",
            value=f'<script src="{self.url}/widget.js" data-creator="SLUG" async></script>',
        )

    def _acknowledge(self, config: EnvConfig, deploy_role: iam.Role) -> None:
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "Fans watch creators from every country; the client is public static files and "
            "the API decides who may chat, so no geo restriction.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "Static files only (no forms, no origin logic); the API has its own stage "
            "throttling and per-user quotas. A CloudFront WAF must live in us-east-1: add one "
            "when the stack is pinned there.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "Served on the default *.cloudfront.net certificate, whose security policy "
            "CloudFront fixes; a custom domain with an ACM certificate and TLSv1.2_2021 "
            "replaces it when the product gets one.",
        )
        bucket_id = Stack.of(self).resolve(
            Stack.of(self).get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        )
        upload_grants = {
            "Action::s3:GetBucket*": "reads the uploaded asset (CDK's grantRead on the asset)",
            "Action::s3:GetObject*": "reads the uploaded asset (CDK's grantRead on the asset)",
            "Action::s3:List*": "lists the asset and the site bucket to sync them",
            "Action::s3:Abort*": "aborts its own multipart uploads into the site bucket",
            "Action::s3:DeleteObject*": "prunes files removed from the web folder",
            "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-"
            "<AWS::Region>/*": "the CDK bootstrap asset bucket, where the folder is uploaded",
            f"Resource::<{bucket_id}.Arn>/*": "every file of the site bucket it deploys",
            "Resource::*": "CloudFront invalidations have no resource-level permissions",
        }
        for applies_to, why in upload_grants.items():
            acknowledge(
                deploy_role,
                f"AwsSolutions-IAM5[{applies_to}]",
                f"CDK's BucketDeployment (deploy time only, not reachable by users): {why}.",
            )
        stack = Stack.of(self)
        for child in stack.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                acknowledge(
                    child,
                    "AwsSolutions-L1",
                    "CDK's BucketDeployment handler: its runtime is chosen by aws-cdk-lib and "
                    "moves with it; it runs only during deployments.",
                )

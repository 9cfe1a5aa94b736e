"""The local runtime: the real Lambda handlers behind a local API gateway, on the embedded
family by default (or the AWS adapters against moto or LocalStack)."""

import os

# Locally there is no CloudWatch to read EMF lines or X-Ray daemon to take traces: keep the
# terminal for what a developer reads. Set before observability creates its objects.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

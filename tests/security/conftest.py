"""The security probes run against the same local runtime as the end-to-end tests."""

from tests.e2e.conftest import api, demo_ready, runtime, token  # noqa: F401

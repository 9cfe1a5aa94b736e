"""Construct ids derived from declared logical names."""

from __future__ import annotations

import re


def pascal_case(logical_name: str) -> str:
    """``rate_limits`` → ``RateLimits``, ``chat-worker`` → ``ChatWorker``.

    Construct ids come from logical names, so CloudFormation logical ids stay stable as
    long as the declaration keeps its names.
    """
    return "".join(part.capitalize() for part in re.split(r"[-_\s]+", logical_name) if part)

"""DynamoDB adapters for every store port, one module per store (keys: ``docs/data-model.md``).

The same code runs against AWS, LocalStack or moto. Each store is imported on first use
(``from creator_chat.adapters.aws.dynamodb import DynamoSessionStore`` loads ``sessions`` only):
a function's cold start pays for the stores it uses, not for all of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from creator_chat.adapters.aws.dynamodb.audit import DynamoAuditLog
    from creator_chat.adapters.aws.dynamodb.connections import DynamoConnectionStore
    from creator_chat.adapters.aws.dynamodb.creator_stats import DynamoCreatorStatsStore
    from creator_chat.adapters.aws.dynamodb.creators import DynamoCreatorStore
    from creator_chat.adapters.aws.dynamodb.documents import DynamoDocumentStore
    from creator_chat.adapters.aws.dynamodb.exports import DynamoExportStore
    from creator_chat.adapters.aws.dynamodb.question_groups import DynamoQuestionGroupStore
    from creator_chat.adapters.aws.dynamodb.rate_limits import DynamoRateLimiter
    from creator_chat.adapters.aws.dynamodb.sessions import DynamoSessionStore
    from creator_chat.adapters.aws.dynamodb.threads import DynamoThreadStore
    from creator_chat.adapters.aws.dynamodb.trending import DynamoTrendingStore
    from creator_chat.adapters.aws.dynamodb.users import DynamoUsageStore

_MODULES = {
    "DynamoAuditLog": "audit",
    "DynamoConnectionStore": "connections",
    "DynamoCreatorStatsStore": "creator_stats",
    "DynamoCreatorStore": "creators",
    "DynamoDocumentStore": "documents",
    "DynamoExportStore": "exports",
    "DynamoQuestionGroupStore": "question_groups",
    "DynamoRateLimiter": "rate_limits",
    "DynamoSessionStore": "sessions",
    "DynamoThreadStore": "threads",
    "DynamoTrendingStore": "trending",
    "DynamoUsageStore": "users",
}

__all__ = [
    "DynamoAuditLog",
    "DynamoConnectionStore",
    "DynamoCreatorStatsStore",
    "DynamoCreatorStore",
    "DynamoDocumentStore",
    "DynamoExportStore",
    "DynamoQuestionGroupStore",
    "DynamoRateLimiter",
    "DynamoSessionStore",
    "DynamoThreadStore",
    "DynamoTrendingStore",
    "DynamoUsageStore",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value

"""DynamoDB adapters for every store port, one module per store (keys: ``docs/data-model.md``).

The same code runs against AWS, LocalStack or moto.
"""

from creator_chat.adapters.aws.dynamodb.audit import DynamoAuditLog
from creator_chat.adapters.aws.dynamodb.creators import DynamoCreatorStore
from creator_chat.adapters.aws.dynamodb.documents import DynamoDocumentStore
from creator_chat.adapters.aws.dynamodb.exports import DynamoExportStore
from creator_chat.adapters.aws.dynamodb.rate_limits import DynamoRateLimiter
from creator_chat.adapters.aws.dynamodb.sessions import DynamoSessionStore
from creator_chat.adapters.aws.dynamodb.threads import DynamoThreadStore
from creator_chat.adapters.aws.dynamodb.trending import DynamoTrendingStore
from creator_chat.adapters.aws.dynamodb.users import DynamoUsageStore

__all__ = [
    "DynamoAuditLog",
    "DynamoCreatorStore",
    "DynamoDocumentStore",
    "DynamoExportStore",
    "DynamoRateLimiter",
    "DynamoSessionStore",
    "DynamoThreadStore",
    "DynamoTrendingStore",
    "DynamoUsageStore",
]

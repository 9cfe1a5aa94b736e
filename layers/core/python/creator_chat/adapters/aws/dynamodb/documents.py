"""DynamoDB Table ``documents``: documents and content-hash claims per creator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creator_chat.adapters.aws.dynamodb.base import (
    _is_conditional_failure,
    _raise_for,
    _TableAdapter,
)
from creator_chat.domain.models import (
    Document,
    DocumentKind,
    DocumentStatus,
)


class DynamoDocumentStore(_TableAdapter):
    """Table ``documents``: ``DOC#<id>`` items and ``HASH#<sha256>`` claims per creator."""

    def put_document(self, doc: Document) -> None:
        item = {"sk": f"DOC#{doc.document_id}", **asdict(doc)}
        item["status"], item["kind"] = doc.status.value, doc.kind.value
        self._put(item)

    def claim_content_hash(self, creator_id: str, content_hash: str, document_id: str) -> str:
        key = {"creator_id": creator_id, "sk": f"HASH#{content_hash}"}
        try:
            self._put(
                {**key, "document_id": document_id}, ConditionExpression="attribute_not_exists(sk)"
            )
        except ClientError as err:
            if not _is_conditional_failure(err):
                raise
            existing = self._get(key)
            return str(existing["document_id"]) if existing else document_id
        return document_id

    def release_content_hash(self, creator_id: str, content_hash: str) -> None:
        self._table.delete_item(Key={"creator_id": creator_id, "sk": f"HASH#{content_hash}"})

    def get_document(self, creator_id: str, document_id: str) -> Document | None:
        item = self._get({"creator_id": creator_id, "sk": f"DOC#{document_id}"})
        return _document(item) if item else None

    def list_documents(self, creator_id: str) -> list[Document]:
        items = self._query_all(
            KeyConditionExpression=Key("creator_id").eq(creator_id) & Key("sk").begins_with("DOC#")
        )
        return sorted((_document(i) for i in items), key=lambda d: d.created_at)

    def set_status(
        self,
        creator_id: str,
        document_id: str,
        status: DocumentStatus,
        *,
        chunk_count: int | None = None,
        failure_reason: str | None = None,
        expected: Sequence[DocumentStatus] | None = None,
        job_id: str | None = None,
    ) -> bool:
        sets = ["#s = :s", "updated_at = :now"]
        values: dict[str, Any] = {":s": status.value, ":now": self._now()}
        if chunk_count is not None:
            sets.append("chunk_count = :c")
            values[":c"] = chunk_count
        removes = ""
        if failure_reason is not None:
            sets.append("failure_reason = :r")
            values[":r"] = failure_reason
        else:
            removes = " REMOVE failure_reason"
        condition = "attribute_exists(sk)"
        if expected:
            names = [f":e{i}" for i in range(len(expected))]
            condition += f" AND #s IN ({', '.join(names)})"
            values.update({n: e.value for n, e in zip(names, expected, strict=True)})
        if job_id is not None:
            condition += " AND job_id = :j"
            values[":j"] = job_id
        try:
            self._table.update_item(
                Key={"creator_id": creator_id, "sk": f"DOC#{document_id}"},
                UpdateExpression="SET " + ", ".join(sets) + removes,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                return False
            _raise_for(err)
            raise
        return True

    def delete_document(self, creator_id: str, document_id: str) -> None:
        self._table.delete_item(Key={"creator_id": creator_id, "sk": f"DOC#{document_id}"})


def _document(item: Mapping[str, Any]) -> Document:
    data = {k: v for k, v in item.items() if k in Document.__dataclass_fields__}
    data["status"] = DocumentStatus(data["status"])
    data["kind"] = DocumentKind(data["kind"])
    return Document(**data)

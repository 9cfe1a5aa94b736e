"""DynamoDB adapters for every store port. Same code against AWS, LocalStack or moto.

Key design: ``docs/data-model.md``. Two rules hold everywhere here:
- an item whose ``expires_at`` has passed is treated as absent (DynamoDB's TTL deletes
  only eventually, moto never), and
- writes that two requests could race are conditional.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from creator_chat.domain.models import (
    AuditEntry,
    Citation,
    Creator,
    Document,
    DocumentKind,
    DocumentStatus,
    FanProfile,
    Feedback,
    Message,
    MessageStatus,
    QuotaDecision,
    Session,
    Thread,
    Usage,
)
from creator_chat.errors import Conflict, DependencyUnavailable, NotFound
from creator_chat.ids import random_id
from creator_chat.ports import Clock

_THROTTLE_CODES = {
    "ProvisionedThroughputExceededException",
    "TransactionConflictException",
    "TransactionCanceledException",  # reached only when no condition failed: a conflict
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
}


def _to_ddb(value: Any) -> Any:
    """Python → DynamoDB: floats become Decimal, None values are dropped from maps."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(str(value)) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _to_ddb(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_ddb(v) for v in value]
    return value


def _from_ddb(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _from_ddb(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_ddb(v) for v in value]
    return value


def _is_conditional_failure(err: ClientError) -> bool:
    """A condition was false (not a conflict with a concurrent transaction)."""
    code = err.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = err.response.get("CancellationReasons", [])
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return False


def _raise_for(err: ClientError) -> None:
    """Throttling and service faults become DependencyUnavailable; the rest propagate."""
    code = err.response.get("Error", {}).get("Code", "")
    if code in _THROTTLE_CODES:
        raise DependencyUnavailable(f"DynamoDB unavailable ({code})") from err


class _TableAdapter:
    def __init__(self, resource: Any, table_name: str, clock: Clock) -> None:
        self._table = resource.Table(table_name)
        # the resource's client (de)serialises plain Python values, like the Table API
        self._client = resource.meta.client
        self.table_name = table_name
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock.now())

    def _live(self, item: Mapping[str, Any] | None) -> bool:
        if not item:
            return False
        expires = item.get("expires_at")
        return expires is None or int(expires) > self._now()

    def _query_all(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            try:
                page = self._table.query(**kwargs)
            except ClientError as err:
                _raise_for(err)
                raise
            yield from (_from_ddb(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _scan_all(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = self._table.scan(**kwargs)
            yield from (_from_ddb(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _get(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            item = self._table.get_item(Key=dict(key), ConsistentRead=True).get("Item")
        except ClientError as err:
            _raise_for(err)
            raise
        return _from_ddb(item) if item else None

    def _put(self, item: Mapping[str, Any], **kwargs: Any) -> None:
        try:
            self._table.put_item(Item=_to_ddb(item), **kwargs)
        except ClientError as err:
            _raise_for(err)
            raise

    def _delete_keys(self, keys: Sequence[Mapping[str, Any]]) -> None:
        with self._table.batch_writer() as batch:
            for key in keys:
                batch.delete_item(Key=dict(key))


# --------------------------------------------------------------------------- creators
class DynamoCreatorStore(_TableAdapter):
    """Table ``creators``: creator items keyed by id, plus ``slug:<slug>`` claim items."""

    def create_creator(self, creator: Creator) -> None:
        item = {"kind": "creator", **asdict(creator)}
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": _to_ddb(item),
                            "ConditionExpression": "attribute_not_exists(creator_id)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": _to_ddb(
                                {
                                    "creator_id": f"slug:{creator.slug}",
                                    "kind": "slug_claim",
                                    "owner": creator.creator_id,
                                }
                            ),
                            "ConditionExpression": "attribute_not_exists(creator_id)",
                        }
                    },
                ]
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                raise Conflict(f"creator id or slug '{creator.slug}' already exists") from err
            _raise_for(err)
            raise

    def put_creator(self, creator: Creator) -> None:
        """Update an existing creator; the slug is immutable (it is in fans' URLs)."""
        item = {"kind": "creator", **asdict(creator)}
        try:
            self._put(
                item,
                ConditionExpression="attribute_exists(creator_id) AND slug = :s",
                ExpressionAttributeValues={":s": creator.slug},
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                raise NotFound("creator not found (or slug changed)") from err
            raise

    def get_creator(self, creator_id: str) -> Creator | None:
        item = self._get({"creator_id": creator_id})
        if not item or item.get("kind") != "creator":
            return None
        return _creator(item)

    def get_creator_by_slug(self, slug: str) -> Creator | None:
        claim = self._get({"creator_id": f"slug:{slug}"})
        return self.get_creator(claim["owner"]) if claim else None

    def list_creators(self, *, active_only: bool = True) -> list[Creator]:
        items = self._scan_all(FilterExpression=Attr("kind").eq("creator"))
        creators = [_creator(i) for i in items]
        if active_only:
            creators = [c for c in creators if c.active]
        return sorted(creators, key=lambda c: c.slug)

    def bump_content_version(self, creator_id: str) -> int:
        out = self._table.update_item(
            Key={"creator_id": creator_id},
            UpdateExpression="ADD content_version :one SET updated_at = :now",
            ConditionExpression="attribute_exists(creator_id)",
            ExpressionAttributeValues={":one": 1, ":now": self._now()},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["content_version"])


def _creator(item: Mapping[str, Any]) -> Creator:
    fields = Creator.__dataclass_fields__
    return Creator(**{k: v for k, v in item.items() if k in fields})


# ---------------------------------------------------------------------- conversations
_TTL_REFRESH_EVERY_S = 24 * 3600


class DynamoThreadStore(_TableAdapter):
    """Table ``conversations``: ``THREAD#<id>``/``META`` plus ``MSG#<sortable id>`` items.

    Threads expire after ``idle_ttl_s`` without activity. Messages carry the same
    ``expires_at`` so DynamoDB removes them with their thread; an active thread pushes
    its messages' expiry forward at most once a day (``_TTL_REFRESH_EVERY_S``), which
    bounds that write cost while never letting a live thread lose history.
    """

    def __init__(self, resource: Any, table_name: str, clock: Clock, *, idle_ttl_s: int) -> None:
        super().__init__(resource, table_name, clock)
        self._idle_ttl_s = idle_ttl_s

    def create_thread(self, thread: Thread, first: Message) -> None:
        """Store a new thread with its first message, message first.

        A thread exists for the fan only once its ``META`` item does, and that is written
        after the message: a failure in between leaves no empty thread in the fan's list and
        no count that disagrees with the messages, only an unreachable message that is
        removed here (or by its TTL). One write each, no transaction (half the write units;
        moto copies every table per transaction).
        """
        pk = f"THREAD#{thread.thread_id}"
        msg_key = {"pk": pk, "sk": f"MSG#{first.message_id}"}
        self._put_once(
            {**msg_key, "kind": "message", "expires_at": thread.expires_at, **_message_item(first)},
            "sk",
            lambda stored: _same_message(stored, first),
        )
        meta = {
            "pk": pk,
            "sk": "META",
            "kind": "thread",
            **asdict(thread),
            "message_count": thread.message_count + 1,
            "ttl_refreshed_at": thread.created_at,
        }
        try:
            self._put_once(
                meta,
                "pk",
                lambda stored: (
                    stored.get("user_id") == thread.user_id
                    and stored.get("created_at") == thread.created_at
                ),
            )
        except Exception:
            with contextlib.suppress(Exception):
                self._table.delete_item(Key=msg_key)
            raise
        thread.message_count += 1

    def _put_once(
        self, item: dict[str, Any], key_attr: str, is_ours: Callable[[dict[str, Any]], bool]
    ) -> None:
        """Put a new item; if it exists already and ``is_ours`` says it is this very write
        (botocore retried a timed-out attempt that had landed), that is success."""
        try:
            self._put(item, ConditionExpression=f"attribute_not_exists({key_attr})")
        except ClientError as err:
            if not _is_conditional_failure(err):
                raise
            stored = self._get({"pk": item["pk"], "sk": item["sk"]})
            if not stored or not is_ours(stored):
                raise Conflict(f"{item['kind']} already exists") from err

    def get_thread(self, thread_id: str) -> Thread | None:
        item = self._get({"pk": f"THREAD#{thread_id}", "sk": "META"})
        return _thread(item) if item and self._live(item) else None

    def _user_threads(self, user_id: str) -> Iterator[dict[str, Any]]:
        return self._query_all(
            IndexName="by_user",
            KeyConditionExpression=Key("user_id").eq(user_id),
            ScanIndexForward=False,
        )

    def find_latest_thread(self, user_id: str, creator_id: str) -> Thread | None:
        for item in self._user_threads(user_id):
            if item.get("creator_id") == creator_id and self._live(item):
                return self.get_thread(item["thread_id"])
        return None

    def list_threads(self, user_id: str, *, limit: int = 50) -> list[Thread]:
        threads: list[Thread] = []
        for item in self._user_threads(user_id):
            if self._live(item):
                threads.append(_thread(item))
            if len(threads) >= limit:
                break
        return threads

    def append_message(self, thread: Thread, message: Message) -> None:
        now = self._now()
        expires = now + self._idle_ttl_s
        item = {
            "pk": f"THREAD#{thread.thread_id}",
            "sk": f"MSG#{message.message_id}",
            "kind": "message",
            "expires_at": expires,
            **_message_item(message),
        }
        # Two conditional writes, thread first: the thread must exist, be alive and belong
        # to the message's user before any message is written into it. (A transaction would
        # say the same, but costs twice the write units — and in moto it copies every table.)
        try:
            self._table.update_item(
                Key={"pk": f"THREAD#{thread.thread_id}", "sk": "META"},
                UpdateExpression=(
                    "SET last_activity_at = :now, expires_at = :exp ADD message_count :one"
                ),
                ConditionExpression="attribute_exists(pk) AND user_id = :u AND expires_at > :now",
                ExpressionAttributeValues={
                    ":now": now,
                    ":exp": expires,
                    ":one": 1,
                    ":u": message.user_id,
                },
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                raise NotFound("thread not found or expired") from err
            _raise_for(err)
            raise
        try:
            self._put_once(item, "sk", lambda stored: _same_message(stored, message))
        except Exception:
            # the count went up for a message that was not stored: take it back (best
            # effort; a throttled correction leaves the count one high, nothing else)
            with contextlib.suppress(Exception):
                self._table.update_item(
                    Key={"pk": f"THREAD#{thread.thread_id}", "sk": "META"},
                    UpdateExpression="ADD message_count :minus",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues={":minus": -1},
                )
            raise
        thread.last_activity_at, thread.expires_at = now, expires
        thread.message_count += 1
        # the message is stored; a failed TTL refresh is retried by the next append
        with contextlib.suppress(ClientError, DependencyUnavailable):
            self._maybe_refresh_message_ttls(thread.thread_id, now, expires)

    def _maybe_refresh_message_ttls(self, thread_id: str, now: int, expires: int) -> None:
        key = {"pk": f"THREAD#{thread_id}", "sk": "META"}
        try:
            self._table.update_item(
                Key=key,
                UpdateExpression="SET ttl_refreshed_at = :now",
                ConditionExpression="ttl_refreshed_at < :due",
                ExpressionAttributeValues={":now": now, ":due": now - _TTL_REFRESH_EVERY_S},
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                return  # refreshed recently (or by a concurrent request)
            raise
        for item in self._query_all(
            KeyConditionExpression=Key("pk").eq(f"THREAD#{thread_id}"),
            ProjectionExpression="pk, sk",
        ):
            if item["sk"] != "META":
                self._table.update_item(
                    Key={"pk": item["pk"], "sk": item["sk"]},
                    UpdateExpression="SET expires_at = :exp",
                    ExpressionAttributeValues={":exp": expires},
                )

    def update_message(self, message: Message) -> None:
        item = {
            "pk": f"THREAD#{message.thread_id}",
            "sk": f"MSG#{message.message_id}",
            "kind": "message",
            **_message_item(message),
        }
        existing = self._get({"pk": item["pk"], "sk": item["sk"]})
        if existing is None:
            raise NotFound("message not found")
        item["expires_at"] = existing.get("expires_at")
        self._put(item, ConditionExpression="attribute_exists(sk)")

    def get_message(self, thread_id: str, message_id: str) -> Message | None:
        if self.get_thread(thread_id) is None:
            return None
        item = self._get({"pk": f"THREAD#{thread_id}", "sk": f"MSG#{message_id}"})
        return _message(item) if item and self._live(item) else None

    def find_message(self, message_id: str) -> Message | None:
        for item in self._query_all(
            IndexName="by_message", KeyConditionExpression=Key("message_id").eq(message_id)
        ):
            if item.get("kind") == "message":
                return self.get_message(item["thread_id"], message_id)
        return None

    def list_messages(self, thread_id: str, *, limit: int = 100) -> list[Message]:
        if self.get_thread(thread_id) is None:
            return []
        items = self._query_all(
            KeyConditionExpression=Key("pk").eq(f"THREAD#{thread_id}")
            & Key("sk").begins_with("MSG#"),
        )
        out = [_message(i) for i in items if self._live(i)]
        return out[:limit]

    def recent_messages(self, thread_id: str, n: int) -> list[Message]:
        if n <= 0:
            return []
        page = self._table.query(
            KeyConditionExpression=Key("pk").eq(f"THREAD#{thread_id}")
            & Key("sk").begins_with("MSG#"),
            ScanIndexForward=False,
            Limit=n,
        )
        items = [_from_ddb(i) for i in page.get("Items", [])]
        return [_message(i) for i in reversed(items) if self._live(i)]

    def set_last_video(self, thread_id: str, video_id: str) -> None:
        self._table.update_item(
            Key={"pk": f"THREAD#{thread_id}", "sk": "META"},
            UpdateExpression="SET last_video_id = :v",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":v": video_id},
        )

    def put_feedback(self, feedback: Feedback) -> None:
        thread = self.get_thread(feedback.thread_id)
        if thread is None:
            raise NotFound("thread not found")
        item = {
            "pk": f"THREAD#{feedback.thread_id}",
            "sk": f"FEEDBACK#{feedback.message_id}#{feedback.user_id}",
            "kind": "feedback",
            "expires_at": thread.expires_at,
            **{k: v for k, v in asdict(feedback).items() if k != "message_id"},
            "feedback_for": feedback.message_id,
        }
        self._put(item)

    def list_feedback(self, user_id: str) -> list[Feedback]:
        out: list[Feedback] = []
        for thread in self._user_threads(user_id):
            for item in self._query_all(
                KeyConditionExpression=Key("pk").eq(f"THREAD#{thread['thread_id']}")
                & Key("sk").begins_with("FEEDBACK#"),
            ):
                if item.get("user_id") == user_id:
                    out.append(
                        Feedback(
                            message_id=item["feedback_for"],
                            user_id=item["user_id"],
                            creator_id=item["creator_id"],
                            thread_id=item["thread_id"],
                            rating=item["rating"],
                            comment=item.get("comment", ""),
                            created_at=item.get("created_at", 0),
                        )
                    )
        return out

    def delete_user_data(self, user_id: str) -> int:
        """Every item of every thread of this user, expired or not (GDPR erasure)."""
        deleted = 0
        for thread in list(self._user_threads(user_id)):
            keys = [
                {"pk": i["pk"], "sk": i["sk"]}
                for i in self._query_all(
                    KeyConditionExpression=Key("pk").eq(f"THREAD#{thread['thread_id']}"),
                    ProjectionExpression="pk, sk",
                )
            ]
            self._delete_keys(keys)
            deleted += len(keys)
        return deleted


def _thread(item: Mapping[str, Any]) -> Thread:
    fields = Thread.__dataclass_fields__
    return Thread(**{k: v for k, v in item.items() if k in fields})


def _same_message(stored: Mapping[str, Any], message: Message) -> bool:
    return stored.get("content") == message.content and stored.get("user_id") == message.user_id


def _message_item(message: Message) -> dict[str, Any]:
    data = asdict(message)
    data["status"] = message.status.value
    return data


def _message(item: Mapping[str, Any]) -> Message:
    fields = Message.__dataclass_fields__
    data = {k: v for k, v in item.items() if k in fields}
    data["status"] = MessageStatus(data.get("status", "answered"))
    cfields = Citation.__dataclass_fields__
    data["citations"] = [
        Citation(**{k: v for k, v in c.items() if k in cfields}) for c in data.get("citations", [])
    ]
    return Message(**data)


# --------------------------------------------------------------------------- sessions
class DynamoSessionStore(_TableAdapter):
    """Table ``sessions``: one item per session, ``expires_at`` = created + 24 h."""

    def put_session(self, session: Session) -> None:
        try:
            self._put(asdict(session), ConditionExpression="attribute_not_exists(session_id)")
        except ClientError as err:
            if _is_conditional_failure(err):
                raise Conflict("session exists") from err
            raise

    def get_session(self, session_id: str) -> Session | None:
        item = self._get({"session_id": session_id})
        if not item or not self._live(item):
            return None
        return Session(**{k: v for k, v in item.items() if k in Session.__dataclass_fields__})

    def revoke_session(self, session_id: str, user_id: str) -> bool:
        try:
            self._table.update_item(
                Key={"session_id": session_id},
                UpdateExpression="SET revoked = :t",
                ConditionExpression="attribute_exists(session_id) AND user_id = :u",
                ExpressionAttributeValues={":t": True, ":u": user_id},
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                return False
            raise
        return True

    def list_sessions(self, user_id: str) -> list[Session]:
        items = self._query_all(
            IndexName="by_user", KeyConditionExpression=Key("user_id").eq(user_id)
        )
        fields = Session.__dataclass_fields__
        return [
            Session(**{k: v for k, v in i.items() if k in fields}) for i in items if self._live(i)
        ]

    def delete_user_sessions(self, user_id: str) -> int:
        keys = [
            {"session_id": s["session_id"]}
            for s in self._query_all(
                IndexName="by_user", KeyConditionExpression=Key("user_id").eq(user_id)
            )
        ]
        self._delete_keys(keys)
        return len(keys)


# ------------------------------------------------------------------------ rate limits
class DynamoRateLimiter(_TableAdapter):
    """Table ``rate_limits``: one counter per (key, fixed window), TTL at the window's end.

    ``ADD`` under the condition ``count < limit`` is atomic in DynamoDB, so N parallel
    requests against a limit L admit exactly min(N, L).
    """

    def hit(self, key: str, *, limit: int, window_s: int) -> QuotaDecision:
        now = self._now()
        window_start = now - now % window_s
        reset = window_start + window_s
        try:
            out = self._table.update_item(
                Key={"key": f"{key}#{window_start}"},
                UpdateExpression="ADD #c :one SET expires_at = :reset",
                ConditionExpression="attribute_not_exists(#c) OR #c < :limit",
                ExpressionAttributeNames={"#c": "count"},
                ExpressionAttributeValues={":one": 1, ":limit": limit, ":reset": reset},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                return QuotaDecision(False, limit, 0, reset, max(1, reset - now))
            _raise_for(err)
            raise
        used = int(out["Attributes"]["count"])
        return QuotaDecision(True, limit, max(0, limit - used), reset, 0)

    def delete_user_counters(self, user_id: str) -> int:
        keys = [
            {"key": i["key"]}
            for i in self._scan_all(
                FilterExpression=Attr("key").begins_with(f"chat:{user_id}#"),
                ProjectionExpression="#k",
                ExpressionAttributeNames={"#k": "key"},
            )
        ]
        self._delete_keys(keys)
        return len(keys)


# -------------------------------------------------------------------------- documents
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


# ------------------------------------------------------------------ users and usage
class DynamoUsageStore(_TableAdapter):
    """Table ``users``: ``PROFILE`` and ``USAGE#YYYY-MM`` items per user."""

    def add_usage(
        self, user_id: str, month: str, *, requests: int, input_tokens: int, output_tokens: int
    ) -> None:
        self._table.update_item(
            Key={"user_id": user_id, "sk": f"USAGE#{month}"},
            UpdateExpression="ADD requests :r, input_tokens :i, output_tokens :o",
            ExpressionAttributeValues={":r": requests, ":i": input_tokens, ":o": output_tokens},
        )

    def get_usage(self, user_id: str, month: str) -> Usage:
        item = self._get({"user_id": user_id, "sk": f"USAGE#{month}"}) or {}
        return Usage(
            user_id,
            month,
            int(item.get("requests", 0)),
            int(item.get("input_tokens", 0)),
            int(item.get("output_tokens", 0)),
        )

    def list_usage(self, user_id: str) -> list[Usage]:
        items = self._query_all(
            KeyConditionExpression=Key("user_id").eq(user_id) & Key("sk").begins_with("USAGE#")
        )
        return [
            Usage(
                user_id,
                i["sk"].removeprefix("USAGE#"),
                int(i.get("requests", 0)),
                int(i.get("input_tokens", 0)),
                int(i.get("output_tokens", 0)),
            )
            for i in items
        ]

    def put_profile(self, profile: FanProfile) -> None:
        self._put({"sk": "PROFILE", **asdict(profile)})

    def get_profile(self, user_id: str) -> FanProfile | None:
        item = self._get({"user_id": user_id, "sk": "PROFILE"})
        if not item:
            return None
        return FanProfile(**{k: v for k, v in item.items() if k in FanProfile.__dataclass_fields__})

    def delete_user(self, user_id: str) -> int:
        keys = [
            {"user_id": i["user_id"], "sk": i["sk"]}
            for i in self._query_all(KeyConditionExpression=Key("user_id").eq(user_id))
        ]
        self._delete_keys(keys)
        return len(keys)


# ------------------------------------------------------------------------------ audit
AUDIT_RETENTION_S = 400 * 24 * 3600


class DynamoAuditLog(_TableAdapter):
    """Table ``audit``: ``ACTOR#<user>`` / ``<epoch>#<id>``, kept ~13 months."""

    def record(self, entry: AuditEntry) -> None:
        item = {
            "pk": f"ACTOR#{entry.actor_id}",
            "sk": f"{entry.at:012d}#{random_id()}",
            **asdict(entry),
            "expires_at": entry.at + AUDIT_RETENTION_S,
        }
        self._put(item)

    def delete_actor(self, actor_id: str) -> int:
        keys = [
            {"pk": i["pk"], "sk": i["sk"]}
            for i in self._query_all(KeyConditionExpression=Key("pk").eq(f"ACTOR#{actor_id}"))
        ]
        self._delete_keys(keys)
        return len(keys)

    def entries_for(self, actor_id: str) -> list[AuditEntry]:
        items = self._query_all(KeyConditionExpression=Key("pk").eq(f"ACTOR#{actor_id}"))
        fields = AuditEntry.__dataclass_fields__
        return [AuditEntry(**{k: v for k, v in i.items() if k in fields}) for i in items]


# --------------------------------------------------------------------------- trending
TRENDING_RETENTION_S = 60 * 24 * 3600


class DynamoTrendingStore(_TableAdapter):
    """Table ``trending``: per creator and week, a counter per question and one marker per
    (question, asker) — keyed by hashes, never by the question's words.

    A question's text is stored only once ``min_askers`` different fans have asked it, so a
    creator never reads what a single fan asked (that belongs to the fan's thread), and a
    question nobody else asked leaves no text behind outside the thread (which erasure
    removes). Markers hold a per-creator-and-week pseudonym of the fan, only to count each
    fan once; everything expires after ``TRENDING_RETENTION_S``.
    """

    def __init__(
        self, resource: Any, table_name: str, clock: Clock, *, min_askers: int = 3
    ) -> None:
        super().__init__(resource, table_name, clock)
        self.min_askers = min_askers

    def record_question(self, creator_id: str, week: str, question: str, asker: str) -> None:
        text = question[:200]
        qhash = hashlib.sha256(text.encode()).hexdigest()[:32]
        expires = self._now() + TRENDING_RETENTION_S
        new_asker = 1
        try:
            self._table.put_item(
                Item={
                    "creator_id": creator_id,
                    "sk": f"{week}#a#{qhash}#{asker}",
                    "expires_at": expires,
                },
                ConditionExpression="attribute_not_exists(sk)",
            )
        except ClientError as err:
            if not _is_conditional_failure(err):
                raise
            new_asker = 0  # this fan asked it before this week
        key = {"creator_id": creator_id, "sk": f"{week}#q#{qhash}"}
        out = self._table.update_item(
            Key=key,
            UpdateExpression="ADD asked :one, askers :new SET expires_at = :exp",
            ExpressionAttributeValues={":one": 1, ":new": new_asker, ":exp": expires},
            ReturnValues="ALL_NEW",
        )
        item = out.get("Attributes", {})
        if int(item.get("askers", 0)) >= self.min_askers and "question" not in item:
            self._table.update_item(
                Key=key,
                UpdateExpression="SET question = :q",
                ExpressionAttributeValues={":q": text},
            )

    def top_questions(self, creator_id: str, week: str, *, limit: int) -> list[tuple[str, int]]:
        items = self._query_all(
            KeyConditionExpression=Key("creator_id").eq(creator_id)
            & Key("sk").begins_with(f"{week}#q#")
        )
        ranked = sorted(
            (
                (i["question"], int(i["asked"]))
                for i in items
                if self._live(i) and "question" in i and int(i["askers"]) >= self.min_askers
            ),
            key=lambda qa: (-qa[1], qa[0]),
        )
        return ranked[:limit]

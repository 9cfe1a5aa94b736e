"""DynamoDB Table ``conversations``: threads, their messages and feedback."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creator_chat.adapters.aws.dynamodb.base import (
    _from_ddb,
    _is_conditional_failure,
    _raise_for,
    _TableAdapter,
    _to_ddb,
)
from creator_chat.domain.models import (
    Citation,
    Feedback,
    Message,
    MessageStatus,
    Thread,
)
from creator_chat.errors import Conflict, DependencyUnavailable, NotFound
from creator_chat.ports import Clock

_TTL_REFRESH_EVERY_S = 24 * 3600


class DynamoThreadStore(_TableAdapter):
    """Table ``conversations``: ``THREAD#<id>``/``META`` plus ``MSG#<sortable id>`` items.

    Threads expire after ``idle_ttl_s`` without activity. An active thread pushes its
    messages' expiry forward at most once a day (``_TTL_REFRESH_EVERY_S``), which bounds
    that write cost; so that a live thread never loses history in between, a message's
    ``expires_at`` lies one such period beyond its thread's (DynamoDB removes it a day after
    the thread; no read returns a message of an expired thread).
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
            {
                **msg_key,
                "kind": "message",
                "expires_at": thread.expires_at + _TTL_REFRESH_EVERY_S,
                **_message_item(first),
            },
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
    ) -> bool:
        """Put a new item; if it exists already and ``is_ours`` says it is this very write
        (botocore, or a client, retried an attempt that had landed), that is success too.
        Returns whether this call wrote it."""
        try:
            self._put(item, ConditionExpression=f"attribute_not_exists({key_attr})")
        except ClientError as err:
            if not _is_conditional_failure(err):
                raise
            stored = self._get({"pk": item["pk"], "sk": item["sk"]})
            if not stored or not is_ours(stored):
                raise Conflict(f"{item['kind']} already exists") from err
            return False
        return True

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
            "expires_at": expires + _TTL_REFRESH_EVERY_S,
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
            written = self._put_once(item, "sk", lambda stored: _same_message(stored, message))
        except Exception:
            # the count went up for a message that was not stored: take it back (best
            # effort; a throttled correction leaves the count one high, nothing else)
            self._uncount(thread.thread_id)
            raise
        thread.last_activity_at, thread.expires_at = now, expires
        if written:
            thread.message_count += 1
        else:
            self._uncount(thread.thread_id)  # a retry of a stored message: counted once
        # the message is stored; a failed TTL refresh is retried by the next append
        with contextlib.suppress(ClientError, DependencyUnavailable):
            self._maybe_refresh_message_ttls(thread.thread_id, now, expires)

    def _uncount(self, thread_id: str) -> None:
        with contextlib.suppress(Exception):
            self._table.update_item(
                Key={"pk": f"THREAD#{thread_id}", "sk": "META"},
                UpdateExpression="ADD message_count :minus",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":minus": -1},
            )

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
                    ExpressionAttributeValues={":exp": expires + _TTL_REFRESH_EVERY_S},
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

    def _live_thread_ids(self, user_id: str) -> set[str]:
        return {t["thread_id"] for t in self._user_threads(user_id) if self._live(t)}

    def _owned_items(self, user_id: str, sk_prefix: str, threads: set[str]) -> list[dict[str, Any]]:
        """The user's items whose sort key starts with ``sk_prefix`` in ``threads``: one
        query of ``by_owner`` (keys only, paginated) and batch reads of 100 items."""
        keys = [
            {"pk": k["pk"], "sk": k["sk"]}
            for k in self._query_all(
                IndexName="by_owner",
                KeyConditionExpression=Key("user_id").eq(user_id)
                & Key("sk").begins_with(sk_prefix),
            )
            if k["pk"].removeprefix("THREAD#") in threads
        ]
        return self._batch_get(keys)

    def list_user_messages(self, user_id: str) -> list[Message]:
        threads = self._live_thread_ids(user_id)
        if not threads:
            return []
        items = self._owned_items(user_id, "MSG#", threads)
        out = [_message(i) for i in items if i.get("kind") == "message" and self._live(i)]
        return sorted(out, key=lambda m: (m.thread_id, m.message_id))

    def recent_messages(self, thread_id: str, n: int) -> list[Message]:
        if n <= 0 or self.get_thread(thread_id) is None:
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

    def put_feedback(self, feedback: Feedback) -> Feedback | None:
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
        try:
            # the rating it replaces comes back with the write itself (no extra read)
            old = self._table.put_item(Item=_to_ddb(item), ReturnValues="ALL_OLD")
        except ClientError as err:
            _raise_for(err)
            raise
        before = _from_ddb(old.get("Attributes") or {})
        if not before or not self._live(before):
            return None
        return Feedback(
            message_id=before["feedback_for"],
            user_id=before["user_id"],
            creator_id=before["creator_id"],
            thread_id=before["thread_id"],
            rating=before["rating"],
            comment=before.get("comment", ""),
            created_at=before.get("created_at", 0),
        )

    def list_feedback(self, user_id: str) -> list[Feedback]:
        # only what lies in a live thread: it expired with its thread (DynamoDB's TTL
        # deletes only eventually)
        threads = self._live_thread_ids(user_id)
        if not threads:
            return []
        out = [
            Feedback(
                message_id=item["feedback_for"],
                user_id=item["user_id"],
                creator_id=item["creator_id"],
                thread_id=item["thread_id"],
                rating=item["rating"],
                comment=item.get("comment", ""),
                created_at=item.get("created_at", 0),
            )
            for item in self._owned_items(user_id, "FEEDBACK#", threads)
            if item.get("user_id") == user_id
        ]
        return sorted(out, key=lambda f: (f.thread_id, f.message_id))

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

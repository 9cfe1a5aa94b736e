"""DynamoDB Table ``question_groups``: a creator's fans' questions grouped by meaning
(content gaps, down-rated answers)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creator_chat.adapters.aws.dynamodb.base import (
    _is_conditional_failure,
    _raise_for,
    _TableAdapter,
)
from creator_chat.domain.insights import (
    DEFAULT_GROUP_SIMILARITY,
    INSIGHTS_RETENTION_S,
    QUESTION_CHARS,
    QuestionGroup,
    joined_centroid,
    nearest,
    pack_vector,
    unit,
    unpack_vector,
)
from creator_chat.ids import random_id
from creator_chat.ports import Clock


class DynamoQuestionGroupStore(_TableAdapter):
    """Table ``question_groups`` (``creator_id``, ``sk``), three kinds of item per kind of
    group (``gap``, ``down``):

    - ``g#<kind>#<group>``: the group — float16 centroid (Binary), ``asked`` (``ADD``),
      ``last_asked_at``, ``fans`` (the most different fans in one week) and, only once that
      reached ``min_fans``, the ``question``; TTL 90 days after its last asking;
    - ``w#<kind>#<group>#<week>``: that week's different fans (``ADD``), until the week ends;
    - ``a#<kind>#<group>#<week>#<asker>``: one per fan pseudonym, put conditionally so a fan
      counts once a week; it too lives only until the week ends (plus a day).

    Matching reads the kind's group items (centroids only) and writes the one it joins; two
    first askings of a new question at the same instant may start two groups (the embedded
    store does it in one transaction and cannot)."""

    def __init__(
        self,
        resource: Any,
        table_name: str,
        clock: Clock,
        *,
        min_fans: int = 3,
        similarity: float = DEFAULT_GROUP_SIMILARITY,
    ) -> None:
        super().__init__(resource, table_name, clock)
        self.min_fans = min_fans
        self.similarity = similarity

    def record(
        self,
        creator_id: str,
        kind: str,
        vector: Sequence[float],
        question: str,
        *,
        week: str,
        asker: str,
        asker_expires_at: int,
    ) -> str:
        vector = unit(vector)
        now = self._now()
        groups = [
            (i["sk"].split("#", 2)[2], unpack_vector(bytes(i["centroid"])), int(i["asked"]))
            for i in self._query_all(
                KeyConditionExpression=Key("creator_id").eq(creator_id)
                & Key("sk").begins_with(f"g#{kind}#"),
                ProjectionExpression="sk, centroid, asked, expires_at",
            )
            if self._live(i)
        ]
        match = nearest(groups, vector, self.similarity)
        group_id = self._join(creator_id, kind, match, vector, now) if match else None
        if group_id is None:
            group_id = random_id("qg_")
            self._write(
                "put_item",
                Item={
                    "creator_id": creator_id,
                    "sk": f"g#{kind}#{group_id}",
                    "centroid": pack_vector(vector),
                    "asked": 1,
                    "fans": 0,
                    "last_asked_at": now,
                    "expires_at": now + INSIGHTS_RETENTION_S,
                },
                ConditionExpression="attribute_not_exists(sk)",
            )
        if self._mark_asker(creator_id, f"{kind}#{group_id}#{week}#{asker}", asker_expires_at):
            self._count_fan(creator_id, kind, group_id, week, question, asker_expires_at)
        return group_id

    def _join(
        self,
        creator_id: str,
        kind: str,
        match: tuple[str, Sequence[float], int],
        vector: Sequence[float],
        now: int,
    ) -> str | None:
        group_id, centroid, asked = match
        try:
            # the centroid is last-writer-wins: two askings at once move it toward one of
            # them, never to a blend of another group's
            self._table.update_item(
                Key={"creator_id": creator_id, "sk": f"g#{kind}#{group_id}"},
                UpdateExpression="SET centroid = :c, last_asked_at = :now, expires_at = :exp"
                " ADD asked :one",
                ConditionExpression="attribute_exists(sk) AND expires_at > :now",
                ExpressionAttributeValues={
                    ":c": pack_vector(joined_centroid(centroid, asked, vector)),
                    ":now": now,
                    ":exp": now + INSIGHTS_RETENTION_S,
                    ":one": 1,
                },
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                return None  # it expired meanwhile: start a new group
            _raise_for(err)
            raise
        return group_id

    def _mark_asker(self, creator_id: str, key: str, expires_at: int) -> bool:
        """``True`` when this fan is new to the group this week."""
        try:
            self._table.put_item(
                Item={"creator_id": creator_id, "sk": f"a#{key}", "expires_at": expires_at},
                ConditionExpression="attribute_not_exists(sk) OR expires_at <= :now",
                ExpressionAttributeValues={":now": self._now()},
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                return False
            _raise_for(err)
            raise
        return True

    def _count_fan(
        self, creator_id: str, kind: str, group_id: str, week: str, question: str, until: int
    ) -> None:
        out = self._write(
            "update_item",
            Key={"creator_id": creator_id, "sk": f"w#{kind}#{group_id}#{week}"},
            UpdateExpression="ADD fans :one SET expires_at = :exp",
            ExpressionAttributeValues={":one": 1, ":exp": until},
            ReturnValues="UPDATED_NEW",
        )
        week_fans = int(out.get("Attributes", {}).get("fans", 1))
        update = "SET fans = :wf"
        values: dict[str, object] = {":wf": week_fans}
        if week_fans >= self.min_fans:
            # whoever stores a count that allows the words stores them (if none are yet): the
            # words can never be missing from a group whose count shows it
            update += ", question = if_not_exists(question, :q)"
            values[":q"] = question[:QUESTION_CHARS]
        try:
            self._table.update_item(
                Key={"creator_id": creator_id, "sk": f"g#{kind}#{group_id}"},
                UpdateExpression=update,
                ConditionExpression="attribute_exists(sk) AND fans < :wf",
                ExpressionAttributeValues=values,
            )
        except ClientError as err:
            if not _is_conditional_failure(err):  # a week with more fans is stored already
                _raise_for(err)
                raise

    def _write(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self._table, operation)(**kwargs)
        except ClientError as err:
            _raise_for(err)
            raise
        return result

    def list_groups(self, creator_id: str, kind: str, *, limit: int) -> list[QuestionGroup]:
        items = self._query_all(
            KeyConditionExpression=Key("creator_id").eq(creator_id)
            & Key("sk").begins_with(f"g#{kind}#"),
            ProjectionExpression="sk, #q, fans, asked, last_asked_at, expires_at",
            ExpressionAttributeNames={"#q": "question"},
        )
        groups = [
            QuestionGroup(
                group_id=i["sk"].split("#", 2)[2],
                question=str(i["question"]),
                fans=int(i["fans"]),
                asked=int(i["asked"]),
                last_asked_at=int(i["last_asked_at"]),
            )
            for i in items
            if self._live(i) and "question" in i and int(i.get("fans", 0)) >= self.min_fans
        ]
        groups.sort(key=lambda g: (-g.last_asked_at, g.group_id))
        return groups[: max(0, limit)]

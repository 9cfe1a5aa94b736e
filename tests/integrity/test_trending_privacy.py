"""Defect 5: trending shows a question only once enough different *fans* asked it. The
creator, its team and admins never count toward that threshold (else a creator could confirm
a guessed question of a single real fan), and the per-fan markers become unlinkable after
the week."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from creator_chat.usecases.chat import normalise_question

from tests.integrity.conftest import Rig, new_creator, uid

QUESTION = "Is the blue grinder worth it for a beginner?"
WEEK_S = 7 * 24 * 3600


def ask(rig: Rig, creator_id: str, token: str) -> None:
    reply = rig.call("POST", f"/v1/creators/{creator_id}/chat", token, {"message": QUESTION})
    assert reply.status == 200, reply


def trending(rig: Rig, creator_id: str, token: str) -> list[str]:
    reply = rig.call("GET", f"/v1/creators/{creator_id}/trending", token)
    assert reply.status == 200, reply
    return [q["question"] for q in reply.body["questions"]]


def test_only_fans_count_toward_the_threshold(rig: Rig):
    creator_id, owner = new_creator(rig)
    teammate = rig.token(uid("editor-"), "creator", creator=creator_id)
    admin = rig.token(uid("admin-"), "admin")
    one_real_fan = rig.token(uid("fan-"))

    for token in (one_real_fan, owner, teammate, admin):
        ask(rig, creator_id, token)

    assert trending(rig, creator_id, owner) == []  # one fan, three insiders: not shown

    for _ in range(2):
        ask(rig, creator_id, rig.token(uid("fan-")))
    assert trending(rig, creator_id, owner) == [normalise_question(QUESTION)]


def test_a_fans_marker_cannot_be_recomputed_from_the_fans_id(rig: Rig):
    """Markers are keyed by a per-week secret, not by a hash anyone can recompute from a user
    id (the old scheme: sha256(creator|week|user))."""
    creator_id, _owner = new_creator(rig)
    fan = uid("fan-")
    ask(rig, creator_id, rig.token(fan))

    week = datetime.fromtimestamp(rig.clock.now(), UTC).strftime("%G-W%V")
    guess = hashlib.sha256(f"{creator_id}|{week}|{fan}".encode()).hexdigest()[:32]
    stored = stored_markers(rig)
    assert stored and guess not in stored

    # within the week the store's key does link them (to count each fan once) ...
    secret = rig.container.trending.week_secret(week, expires_at=0)
    mine = hmac.new(secret, f"{creator_id}|{fan}".encode(), "sha256").hexdigest()[:32]
    assert mine in stored
    # ... and once the week is over that key is gone: no one can link the marker again
    rig.clock.advance(WEEK_S + 2 * 24 * 3600)
    later = rig.container.trending.week_secret(week, expires_at=int(rig.clock.now()) + 60)
    assert later != secret


def stored_markers(rig: Rig) -> str:
    if rig.family == "embedded":
        rows = rig.container.database.query("SELECT asker FROM trending_askers")
        return " ".join(str(r["asker"]) for r in rows)
    client = rig.container.aws.client("dynamodb")
    table = rig.settings.physical_name("table", "trending")
    return repr(client.scan(TableName=table)["Items"])

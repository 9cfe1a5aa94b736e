"""ConnectionStore contract: open WebSocket connections by id and by user, owned by the user
who opened them, gone once expired or deleted."""

from __future__ import annotations

from dataclasses import replace

import pytest
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.models import Connection
from creator_chat.errors import Conflict

from tests.contracts.conftest import uid

TWO_HOURS = 2 * 3600


def new_connection(
    c: Container, user_id: str, *, ttl_s: int = TWO_HOURS, creator_id: str | None = None
) -> Connection:
    now = int(c.clock.now())
    connection = Connection(
        connection_id=uid("conn"),
        user_id=user_id,
        session_id=uid("ses_"),
        role="fan",
        tier="free",
        connected_at=now,
        expires_at=now + ttl_s,
        creator_id=creator_id,
    )
    c.connections.put_connection(connection)
    return connection


def test_a_new_connection_reads_back_with_every_field(stores: Container):
    connection = new_connection(stores, uid("fan-"), creator_id=uid("cr-"))

    assert stores.connections.get_connection(connection.connection_id) == connection
    assert stores.connections.get_connection(uid("conn")) is None


def test_a_connection_without_a_creator_reads_back_without_one(stores: Container):
    connection = new_connection(stores, uid("fan-"))

    stored = stores.connections.get_connection(connection.connection_id)
    assert stored == connection and stored.creator_id is None


def test_its_user_may_put_the_connection_again_and_replaces_it(stores: Container):
    connection = new_connection(stores, uid("fan-"))
    updated = replace(connection, creator_id=uid("cr-"), tier="pro")

    stores.connections.put_connection(updated)

    assert stores.connections.get_connection(connection.connection_id) == updated
    assert stores.connections.list_user_connections(connection.user_id) == [updated]


def test_another_user_cannot_take_over_a_live_connection(stores: Container):
    connection = new_connection(stores, uid("fan-"))

    with pytest.raises(Conflict):
        stores.connections.put_connection(replace(connection, user_id=uid("intruder-")))

    assert stores.connections.get_connection(connection.connection_id) == connection


def test_an_expired_connection_reads_as_absent_and_its_id_can_be_reused(
    stores: Container, clock: FixedClock
):
    user = uid("fan-")
    connection = new_connection(stores, user, ttl_s=60)

    clock.advance(59)
    assert stores.connections.get_connection(connection.connection_id) == connection
    clock.advance(1)  # expires_at is the first second it is gone
    assert stores.connections.get_connection(connection.connection_id) is None
    assert stores.connections.list_user_connections(user) == []

    now = int(clock.now())
    reused = replace(connection, user_id=uid("other-"), connected_at=now, expires_at=now + 60)
    stores.connections.put_connection(reused)
    assert stores.connections.get_connection(connection.connection_id) == reused


def test_a_deleted_connection_is_gone_and_deleting_again_is_harmless(stores: Container):
    user = uid("fan-")
    connection = new_connection(stores, user)
    other = new_connection(stores, user)

    stores.connections.delete_connection(connection.connection_id)
    stores.connections.delete_connection(connection.connection_id)
    stores.connections.delete_connection(uid("conn"))  # never recorded: $disconnect races

    assert stores.connections.get_connection(connection.connection_id) is None
    assert stores.connections.list_user_connections(user) == [other]


def test_a_users_connections_are_listed_oldest_first_and_no_one_elses(
    stores: Container, clock: FixedClock
):
    user = uid("fan-")
    first = new_connection(stores, user)
    clock.advance(5)
    second = new_connection(stores, user, ttl_s=30)
    new_connection(stores, uid("other-"))

    assert stores.connections.list_user_connections(user) == [first, second]
    clock.advance(30)
    assert stores.connections.list_user_connections(user) == [first]
    assert stores.connections.list_user_connections(uid("nobody-")) == []

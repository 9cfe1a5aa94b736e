"""Stream Lambda: the WebSocket API's routes ($connect, $disconnect, chat, $default).

The routes' logic is ``creator_chat.api.stream_handler``; this wires it to the container and
to the connection's sender: the local gateway's sockets when the local runtime put one in
the container, else API Gateway's management API at the stage's callback URL.
"""

from __future__ import annotations

from typing import Any

from creator_chat import snapstart
from creator_chat.api.stream_handler import handle
from creator_chat.container import container_from_env
from creator_chat.observability import lambda_entry
from creator_chat.ports import ConnectionSender
from creator_chat.resources import DECLARATION

container = container_from_env()
container.build_clients_for(DECLARATION.function("stream"))
snapstart.register(container, DECLARATION.function("stream"))


def senders(event: dict[str, Any]) -> ConnectionSender:
    local = container.overrides.get("connection_sender")
    if local is not None:
        return local  # type: ignore[no-any-return]
    from creator_chat.adapters.aws.websocket_sender import callback_url, connection_sender

    return connection_sender(callback_url(event))


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(container, senders, event)

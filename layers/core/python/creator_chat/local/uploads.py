"""The local gateway's upload URLs: ``PUT /_local/uploads/<key>?…`` into the embedded blob store.

The local counterpart of an S3 presigned PUT: the URL carries its own authorisation (an HMAC
signature with an expiry), so the client sends no token, exactly as with S3.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, unquote

from creator_chat.adapters.embedded.blobs import UPLOAD_PATH_PREFIX, FileBlobStore
from creator_chat.errors import DomainError, Forbidden, InvalidInput
from creator_chat.local.gateway import GatewayResponse, LocalRequest, LocalRoute


def _error(status: int, code: str, message: str) -> GatewayResponse:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return GatewayResponse(status, [("content-type", "application/json")], body)


def upload_route(blobs: FileBlobStore, *, max_bytes: int) -> LocalRoute:
    def handle(request: LocalRequest) -> GatewayResponse:
        key = unquote(request.path[len(UPLOAD_PATH_PREFIX) :])
        params = {k: v[0] for k, v in parse_qs(request.query).items()}
        if len(request.body) > max_bytes:
            return _error(413, "payload_too_large", f"the file is over {max_bytes} bytes")
        try:
            blobs.accept_upload(
                key,
                request.body,
                expires=params.get("expires", ""),
                content_type=params.get("content_type", ""),
                signature=params.get("signature", ""),
                sent_content_type=request.headers.get("content-type", ""),
            )
        except Forbidden as err:
            return _error(403, "forbidden", err.message)
        except InvalidInput as err:
            return _error(400, "invalid_input", err.message)
        except DomainError as err:
            return _error(400, "invalid_input", str(err))
        return GatewayResponse(200, [("content-length", "0")], b"")

    return handle


UPLOAD_ROUTE_KEY = ("PUT", f"{UPLOAD_PATH_PREFIX}*")

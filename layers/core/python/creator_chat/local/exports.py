"""The local gateway's export downloads and the local expiry of export files.

``GET /_local/exports/<key>?expires=…&signature=…`` is the local counterpart of the S3
presigned GET an export's ``download_url`` is in AWS: the URL carries its own authorisation
(an HMAC over the key and the expiry), so the client sends no token, exactly as with S3.

In AWS the ``exports`` table's TTL and the bucket's one-day lifecycle rule expire an export;
locally ``purge_expired_exports`` does both, from the runtime's purge loop.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from creator_chat.adapters.embedded.blobs import FileBlobStore
from creator_chat.container import EXPORT_DOWNLOAD_PREFIX
from creator_chat.errors import Forbidden, InvalidInput, NotFound
from creator_chat.local.gateway import GatewayResponse, LocalRequest, LocalRoute
from creator_chat.usecases.exports import blob_key

EXPORT_DOWNLOAD_ROUTE_KEY = ("GET", f"{EXPORT_DOWNLOAD_PREFIX}*")


def _error(status: int, code: str, message: str) -> GatewayResponse:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return GatewayResponse(status, [("content-type", "application/json")], body)


def export_download_route(blobs: FileBlobStore) -> LocalRoute:
    def handle(request: LocalRequest) -> GatewayResponse:
        key = unquote(request.path[len(blobs.download_prefix) :])
        params = {k: v[0] for k, v in parse_qs(request.query).items()}
        try:
            data = blobs.open_download(
                key, expires=params.get("expires", ""), signature=params.get("signature", "")
            )
        except Forbidden as err:
            return _error(403, "forbidden", err.message)
        except InvalidInput as err:
            return _error(400, "invalid_input", err.message)
        except NotFound:
            return _error(404, "not_found", "this export is gone (expired or erased)")
        headers = [
            ("content-type", "application/json"),
            ("content-disposition", 'attachment; filename="creator-chat-export.json"'),
            ("cache-control", "private, no-store"),
        ]
        return GatewayResponse(200, headers, data)

    return handle


def purge_expired_exports(container: Any, *, files_dir: Path | None = None) -> int:
    """Delete expired exports, each file before its record (the record is how the file is
    found), then any export file older than the export TTL whatever its record says — as the
    bucket's lifecycle rule does by object age: that also catches a file whose record an
    erasure cut short took first. Returns how many export records went."""
    store = container.exports
    blobs = container.export_blobs
    now = container.clock.now()
    removed = 0
    for job in store.expired(now):
        blobs.delete(job.blob_key or blob_key(job.export_id))
        store.delete_export(job.user_id, job.export_id)
        removed += 1
    root = files_dir or container.settings.data_dir / "exports"
    cutoff = time.time() - container.settings.export_ttl_s
    if root.is_dir():
        for path in root.iterdir():
            with contextlib.suppress(OSError):
                if path.is_file() and os.stat(path).st_mtime < cutoff:
                    path.unlink()
    return removed

"""The local gateway's upload forms: ``POST /_local/uploads/<key>?…`` into the embedded blob store.

The local counterpart of an S3 presigned POST, with the same client flow: a
``multipart/form-data`` POST of the ticket's ``upload_fields`` and then the file, as the last
field, named ``file``. The URL carries its own authorisation (an HMAC signature over the key,
expiry, content type and the declared size), so the client sends no token, exactly as with S3.

The declared size is enforced before anything is stored: a request whose ``Content-Length``
is already over it is refused from its headers (``precheck``: the gateway drops the body as
it arrives instead of keeping it), and the file part itself is measured again after parsing.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, unquote

from creator_chat.adapters.embedded.blobs import UPLOAD_PATH_PREFIX, FileBlobStore
from creator_chat.errors import DomainError, Forbidden, InvalidInput, PayloadTooLarge
from creator_chat.local.gateway import GatewayResponse, LocalRequest, LocalRoute

# What a form adds around the file: boundaries, part headers and the small fields (S3 counts
# only the file against content-length-range; so do we, after parsing).
FORM_OVERHEAD_BYTES = 16 * 1024
FILE_FIELD = "file"


def _error(status: int, code: str, message: str) -> GatewayResponse:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return GatewayResponse(status, [("content-type", "application/json")], body)


def parse_form(content_type: str, body: bytes) -> list[tuple[str, dict[str, str], bytes]]:
    """The parts of a ``multipart/form-data`` body as ``(name, headers, content)``, in order.
    Exact for binary content (the boundary delimits, nothing is decoded)."""
    media, _, params = content_type.partition(";")
    if media.strip().lower() != "multipart/form-data":
        raise InvalidInput("send the file as a multipart/form-data POST (the upload form)")
    boundary = ""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary":
            boundary = value.strip().strip('"')
    if not boundary:
        raise InvalidInput("the multipart body has no boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    pieces = body.split(b"\r\n" + delimiter)
    if not pieces[0].startswith(delimiter):
        raise InvalidInput("malformed multipart body")
    pieces[0] = pieces[0][len(delimiter) :]
    parts: list[tuple[str, dict[str, str], bytes]] = []
    for piece in pieces:
        if piece.startswith(b"--"):
            return parts  # the closing delimiter
        head, sep, content = piece.partition(b"\r\n\r\n")
        if not sep or not head.startswith(b"\r\n"):
            raise InvalidInput("malformed multipart body")
        headers: dict[str, str] = {}
        for line in head[2:].split(b"\r\n"):
            key, _, value = line.decode("utf-8", "replace").partition(":")
            headers[key.strip().lower()] = value.strip()
        name = ""
        for param in headers.get("content-disposition", "").split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.lower() == "name":
                name = value.strip().strip('"')
        parts.append((name, headers, content))
    raise InvalidInput("the multipart body is incomplete")


class UploadRoute:
    """``POST /_local/uploads/<key>?…``: the upload form's target (a local route)."""

    def __init__(self, blobs: FileBlobStore, *, max_bytes: int) -> None:
        self._blobs = blobs
        self._max_bytes = max_bytes

    @staticmethod
    def _key_and_params(request: LocalRequest) -> tuple[str, dict[str, str]]:
        key = unquote(request.path[len(UPLOAD_PATH_PREFIX) :])
        return key, {k: v[0] for k, v in parse_qs(request.query).items()}

    def _limit(self, key: str, params: dict[str, str]) -> int:
        return self._blobs.check_upload_url(
            key,
            expires=params.get("expires", ""),
            content_type=params.get("content_type", ""),
            max_bytes=params.get("max_bytes", ""),
            signature=params.get("signature", ""),
        )

    def precheck(self, request: LocalRequest) -> GatewayResponse | None:
        """Refuse from the request line and headers alone, before the body is read."""
        if request.method != "POST":
            return None
        key, params = self._key_and_params(request)
        try:
            limit = self._limit(key, params)
        except Forbidden as err:
            return _error(403, "forbidden", err.message)
        except DomainError as err:
            return _error(400, "invalid_input", str(err))
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > min(limit, self._max_bytes) + FORM_OVERHEAD_BYTES:
            return _error(
                413,
                "payload_too_large",
                f"the request is {declared} bytes; this upload URL accepts a file of at most "
                f"{limit} bytes (the size declared when it was issued)",
            )
        return None

    def __call__(self, request: LocalRequest) -> GatewayResponse:
        if request.method != "POST":
            return _error(
                405,
                "method_not_allowed",
                "upload with a multipart/form-data POST: the ticket's upload_fields, then the "
                "file as the field 'file'",
            )
        refused = self.precheck(request)
        if refused is not None:
            return refused
        key, params = self._key_and_params(request)
        try:
            parts = parse_form(request.headers.get("content-type", ""), request.body)
            fields = {name: content for name, _, content in parts}
            if not parts or parts[-1][0] != FILE_FIELD:
                raise InvalidInput("the form's last field must be the file, named 'file'")
            data = parts[-1][2]
            if len(data) > self._max_bytes:
                raise PayloadTooLarge(f"the file is over {self._max_bytes} bytes")
            self._blobs.accept_upload(
                key,
                data,
                expires=params.get("expires", ""),
                content_type=params.get("content_type", ""),
                max_bytes=params.get("max_bytes", ""),
                signature=params.get("signature", ""),
                sent_content_type=fields.get("Content-Type", b"").decode("utf-8", "replace"),
            )
        except Forbidden as err:
            return _error(403, "forbidden", err.message)
        except PayloadTooLarge as err:
            return _error(413, "payload_too_large", err.message)
        except InvalidInput as err:
            return _error(400, "invalid_input", err.message)
        except DomainError as err:
            return _error(400, "invalid_input", str(err))
        # S3 answers a presigned POST 204 (no success_action_status)
        return GatewayResponse(204, [], b"")


def upload_route(blobs: FileBlobStore, *, max_bytes: int) -> LocalRoute:
    return UploadRoute(blobs, max_bytes=max_bytes)


UPLOAD_ROUTE_KEY = ("POST", f"{UPLOAD_PATH_PREFIX}*")
# an upload URL of an older release was PUT to: answered 405 with the way forward
LEGACY_UPLOAD_ROUTE_KEY = ("PUT", f"{UPLOAD_PATH_PREFIX}*")

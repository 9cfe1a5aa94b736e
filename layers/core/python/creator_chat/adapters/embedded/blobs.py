"""The embedded ``BlobStore``: uploaded content as files in the data dir.

Upload URLs work like S3's presigned PUT URLs, served by the local gateway
(``PUT /_local/uploads/<key>?expires=…&content_type=…&signature=…``): an HMAC over the key,
the expiry and the content type, with a key kept in the database so URLs survive a restart.
A file is written to a temporary name and renamed into place, so a reader (or a crash) never
sees half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import quote, urlencode

from creator_chat.adapters.embedded.database import Database
from creator_chat.errors import Forbidden, InvalidInput, NotFound
from creator_chat.ports import Clock

UPLOAD_PATH_PREFIX = "/_local/uploads/"
_SIGNING_KEY = "upload_signing_key"


def signing_key(db: Database) -> bytes:
    """The database's upload-signing key, created on first use."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
            (_SIGNING_KEY, secrets.token_hex(32)),
        )
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (_SIGNING_KEY,)).fetchone()
    return bytes.fromhex(str(row[0]))


class FileBlobStore:
    """Blobs under ``root``, one file per key; keys never name a path outside ``root``."""

    def __init__(self, root: Path, *, signing_key: bytes, public_url: str, clock: Clock) -> None:
        self._root = Path(root)
        self._key = signing_key
        self._public_url = public_url.rstrip("/")
        self._clock = clock

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in parts):
            raise InvalidInput("invalid blob key")
        path = self._root.joinpath(*parts)
        if not path.resolve().is_relative_to(self._root.resolve()):
            raise InvalidInput("invalid blob key")
        return path

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as err:
            raise NotFound(f"blob {key} not found") from err

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # drop the document's now-empty folders (never the root itself)
        parent = path.parent
        while parent != self._root and parent.is_relative_to(self._root):
            with contextlib.suppress(OSError):
                parent.rmdir()
            parent = parent.parent

    def ping(self) -> bool:
        self._root.mkdir(parents=True, exist_ok=True)
        if not os.access(self._root, os.W_OK):
            raise OSError(f"{self._root} is not writable")
        return True

    # -- upload URLs ---------------------------------------------------------------------
    def _signature(self, key: str, expires: int, content_type: str) -> str:
        message = f"{key}\n{expires}\n{content_type}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def presigned_put_url(self, key: str, *, expires_s: int, content_type: str) -> str:
        self._path(key)  # refuse a bad key now, not at upload time
        expires = int(self._clock.now()) + expires_s
        query = urlencode(
            {
                "expires": expires,
                "content_type": content_type,
                "signature": self._signature(key, expires, content_type),
            }
        )
        return f"{self._public_url}{UPLOAD_PATH_PREFIX}{quote(key)}?{query}"

    def accept_upload(
        self,
        key: str,
        data: bytes,
        *,
        expires: str,
        content_type: str,
        signature: str,
        sent_content_type: str,
    ) -> None:
        """Store a PUT to an upload URL if its signature, expiry and content type hold."""
        try:
            expires_at = int(expires)
        except ValueError as err:
            raise Forbidden("the upload URL is malformed") from err
        expected = self._signature(key, expires_at, content_type)
        if not hmac.compare_digest(expected, signature):
            raise Forbidden("the upload URL's signature does not match")
        if expires_at < int(self._clock.now()):
            raise Forbidden("the upload URL has expired; ask for a new one")
        if sent_content_type.split(";")[0].strip() != content_type.split(";")[0].strip():
            raise Forbidden(f"the upload URL was signed for content type {content_type}")
        self.put(key, data, content_type=content_type)

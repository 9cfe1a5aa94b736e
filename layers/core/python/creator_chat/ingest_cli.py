"""``creator-chat ingest``: post files and folders to a running server, wait, summarise.

Goes through the public API (the same path as any client): text formats inline, anything
larger or binary (PDF) through a presigned upload. Exits non-zero when any file failed.

A document is identified by its title (these files have no source URL), so each file of one
run gets its own: its name without the extension, with the extension added when two files
share a name (``bad.json`` and ``bad.vtt`` → ``bad (json)``, ``bad (vtt)``), else its path.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from creator_chat.content.parsers import detect_kind
from creator_chat.domain.models import DocumentKind
from creator_chat.errors import InvalidInput

INLINE_KINDS = {
    DocumentKind.VTT,
    DocumentKind.SRT,
    DocumentKind.YOUTUBE_JSON,
    DocumentKind.MARKDOWN,
    DocumentKind.TEXT,
}
INLINE_MAX_BYTES = 900 * 1024
SUFFIXES = {".vtt", ".srt", ".json", ".md", ".markdown", ".txt", ".pdf"}


KIND_NAMES = {
    DocumentKind.VTT: "WebVTT",
    DocumentKind.SRT: "SRT",
    DocumentKind.YOUTUBE_JSON: "YouTube JSON",
    DocumentKind.MARKDOWN: "Markdown",
    DocumentKind.TEXT: "text",
    DocumentKind.PDF: "PDF",
}


@dataclass
class Outcome:
    path: Path
    title: str = ""
    kind: DocumentKind | None = None
    document_id: str = ""
    status: str = "queued"
    chunks: int = 0
    reason: str = ""


def collect(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(
                sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
            )
        else:
            files.append(p)
    return files


def _humane(name: str) -> str:
    return name.replace("-", " ").replace("_", " ")


def titles(files: list[Path]) -> dict[Path, str]:
    """A distinct title for each file (the document's identity)."""

    def distinct(names: dict[Path, str], fallback: dict[Path, str]) -> dict[Path, str]:
        seen: dict[str, int] = {}
        for name in names.values():
            seen[name] = seen.get(name, 0) + 1
        return {f: fallback[f] if seen[n] > 1 else n for f, n in names.items()}

    by_stem = {f: _humane(f.stem) for f in files}
    with_suffix = {f: f"{_humane(f.stem)} ({f.suffix.lstrip('.').lower()})" for f in files}
    by_path = {f: str(f) for f in files}
    return distinct(by_stem, distinct(with_suffix, by_path))


def _progress(done: int, total: int, label: str) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label:<40.40}")
    sys.stderr.flush()


def _submit(
    api: httpx.Client, creator: str, path: Path, title: str, tags: list[str] | None = None
) -> Outcome:
    data = path.read_bytes()
    out = Outcome(path, title)
    try:
        kind = out.kind = detect_kind(path.name, data)
    except InvalidInput as err:
        out.status, out.reason = "failed", err.message
        return out
    base = f"/v1/creators/{creator}/documents"
    body: dict[str, object] = {
        "title": title,
        "kind": kind.value,
        "source_url": "",
    }
    if tags is not None:  # none given: a file posted before keeps its tags
        body["tags"] = tags
    if kind in INLINE_KINDS and len(data) <= INLINE_MAX_BYTES:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            out.status, out.reason = "failed", "not UTF-8 text"
            return out
        r = api.post(base, json={**body, "content": text})
    else:
        r = api.post(base, json={**body, "upload": True, "size_bytes": len(data)})
        if r.status_code == 201:
            ticket = r.json()
            # the upload form (S3's presigned POST, or the local server's): its fields, then
            # the file as the last field
            sent = httpx.post(
                ticket["upload_url"],
                data=ticket.get("upload_fields") or {},
                files={"file": (path.name, data, "application/octet-stream")},
                timeout=120,
            )
            if sent.status_code >= 300:
                out.status, out.reason = "failed", f"upload failed ({sent.status_code})"
                return out
            r = api.post(f"{base}/{ticket['document']['document_id']}/complete")
    if r.status_code >= 400:
        out.status = "failed"
        out.reason = (
            r.json().get("error", {}).get("message", r.text) if r.content else str(r.status_code)
        )
        return out
    doc = r.json()["document"]
    out.document_id, out.status = doc["document_id"], doc["status"]
    out.chunks = doc.get("chunk_count", 0)
    return out


def run(
    url: str,
    token: str,
    creator: str,
    paths: list[Path],
    *,
    timeout_s: float = 600,
    tags: list[str] | None = None,
) -> int:
    files = collect(paths)
    if not files:
        print("nothing to ingest", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as api:
        outcomes = []
        named = titles(files)
        for i, f in enumerate(files):
            _progress(i, len(files), f"posting {f.name}")
            outcomes.append(_submit(api, creator, f, named[f], tags))
        pending = [o for o in outcomes if o.status in ("queued", "processing")]
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            _progress(len(files) - len(pending), len(files), "indexing…")
            for o in pending:
                doc = api.get(f"/v1/creators/{creator}/documents/{o.document_id}").json()
                o.status, o.chunks, o.reason = (
                    doc["status"],
                    doc["chunk_count"],
                    doc.get("failure_reason") or "",
                )
            pending = [o for o in pending if o.status in ("queued", "processing")]
            if pending:
                time.sleep(0.3)
        _progress(len(files), len(files), "done")
        sys.stderr.write("\n")
    seconds = time.perf_counter() - started
    for o in outcomes:
        if o.status != "done":
            read_as = f" (read as {KIND_NAMES[o.kind]})" if o.kind is not None else ""
            print(f"FAILED  {o.path}{read_as}: {o.reason or o.status}")
    done = [o for o in outcomes if o.status == "done"]
    chunks = sum(o.chunks for o in done)
    print(f"{len(done)}/{len(outcomes)} documents, {chunks} chunks, {seconds:.1f} s")
    return 0 if len(done) == len(outcomes) else 1

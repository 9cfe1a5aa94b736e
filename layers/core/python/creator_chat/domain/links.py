"""Citation links: deep links to the second of a video, or the page of a manual."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def deep_link(url: str, *, start_s: float | None = None, page: int | None = None) -> str:
    """``url`` pointing at ``start_s`` (``t=`` as the host expects) or ``page`` (``#page=``).

    A URL that cannot be parsed (stored before ingest validated URLs) is returned as it is:
    a citation without the deep link, never an error in the answer that cites it.
    """
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if start_s is not None:
        seconds = max(0, int(start_s))
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "t"]
        host = parts.netloc.lower()
        # youtube.com/watch?v=ID&t=123s ; youtu.be/ID?t=123 ; anything else ?t=123
        value = f"{seconds}s" if "youtube.com" in host else str(seconds)
        query.append(("t", value))
        return urlunsplit(parts._replace(query=urlencode(query)))
    if page is not None:
        return urlunsplit(parts._replace(fragment=f"page={page}"))
    return url

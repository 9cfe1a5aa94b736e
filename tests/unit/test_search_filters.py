"""Search filters and document tags in the domain: what a filter matches, its canonical form
(cache keys and queued jobs), and what a tag may be."""

from __future__ import annotations

import hashlib

import pytest
from creator_chat.domain.models import (
    MAX_TAG_BYTES,
    Chunk,
    Creator,
    SearchFilters,
    clean_tags,
)
from creator_chat.usecases.chat import _context_key, _response_key


def chunk(**kw: object) -> Chunk:
    return Chunk("d1:0000", "cr_a", "d1", "text", "Title", **kw)  # type: ignore[arg-type]


def test_a_chunk_matches_when_every_given_facet_matches_and_any_tag_does():
    c = chunk(kind="vtt", video_id="v1", tags=("module-1", "basics"))
    assert SearchFilters().matches(c)
    assert SearchFilters(tags=("basics", "other")).matches(c)  # any of the tags
    assert SearchFilters(video_ids=("v1", "v2"), kinds=("vtt",), tags=("module-1",)).matches(c)
    assert not SearchFilters(video_ids=("v2",)).matches(c)
    assert not SearchFilters(kinds=("pdf",), tags=("basics",)).matches(c)  # AND-ed
    assert not SearchFilters(tags=("Basics",)).matches(c)  # tags match exactly
    assert not SearchFilters(video_ids=("v1",)).matches(chunk(kind="vtt"))  # no video


def test_equal_filters_are_equal_values_in_one_canonical_form():
    a = SearchFilters(tags=("b", "a", "a"), kinds=("vtt", "pdf"))
    b = SearchFilters(kinds=["pdf", "vtt"], tags=["a", "b"])  # type: ignore[arg-type]
    assert a == b and hash(a) == hash(b)
    assert a.to_json() == {"kinds": ["pdf", "vtt"], "tags": ["a", "b"]}  # facets set only
    assert SearchFilters.from_json(a.to_json()) == a
    assert SearchFilters.from_json(None) is None
    assert SearchFilters.from_json({}) is None
    assert SearchFilters.from_json({"tags": []}) is None  # empty: no filter at all
    assert not SearchFilters() and bool(a)


def test_an_unknown_kind_or_a_bare_string_is_refused():
    with pytest.raises(ValueError, match="unknown document kind: video"):
        SearchFilters(kinds=("video",))
    with pytest.raises(TypeError):
        SearchFilters(tags="module-1")  # type: ignore[arg-type]


def test_chunk_tags_read_back_from_json_as_a_tuple():
    c = chunk(tags=["x", "y"])
    assert c.tags == ("x", "y") and hash(c)
    assert chunk().tags == ()


def test_tags_are_trimmed_and_deduplicated_in_their_order():
    assert clean_tags([" module 1 ", "basics", "module 1", "Basics"]) == [
        "module 1",
        "basics",
        "Basics",
    ]
    assert clean_tags([]) == []
    assert clean_tags(["x" * 64] * 30) == ["x" * 64]  # duplicates do not count


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (["   "], "1 to 64 characters"),
        (["x" * 65], "1 to 64 characters"),
        (["tab\there"], "control characters"),
        (["nul\x00"], "control characters"),
        ([f"t{i}" for i in range(21)], "at most 20 tags"),
        ([f"{i:02d}" + "é" * 62 for i in range(20)], f"more than {MAX_TAG_BYTES} bytes"),
        ([3], "a tag is a string"),
    ],
)
def test_bad_tags_say_what_is_wrong(tags: list[str], message: str):
    with pytest.raises(ValueError, match=message):
        clean_tags(tags)


def test_twenty_ascii_tags_of_64_characters_are_the_most_that_fits():
    tags = [f"{i:02d}" + "t" * 62 for i in range(20)]
    assert clean_tags(tags) == tags
    assert sum(len(t) for t in tags) == MAX_TAG_BYTES


def test_chat_cache_keys_follow_the_filters_and_are_unchanged_without_them():
    creator = Creator("cr_a", "a", "A", content_version=3)
    q = "How firmly do I tamp?"
    module_2 = SearchFilters(tags=("module-2",))
    for key in (
        lambda f: _context_key(creator, q, None, f),
        lambda f: _response_key(creator, q, None, None, "model", f),
    ):
        assert key(module_2) != key(None)  # never the unfiltered entry
        assert key(module_2) != key(SearchFilters(tags=("module-1",)))
        assert key(module_2) != key(SearchFilters(kinds=("vtt",), tags=("module-2",)))
        assert key(SearchFilters(tags=("b", "a"))) == key(SearchFilters(tags=("a", "b", "a")))
    # without filters, the keys cached before filters existed still name the same entries
    old = hashlib.sha256(b"how firmly do i tamp\0").hexdigest()[:32]
    assert _context_key(creator, q, None) == f"ctx2:cr_a:v3:{old}"

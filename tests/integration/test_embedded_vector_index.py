"""The embedded vector index: the database is its only state, the memory mirrors commits."""

from __future__ import annotations

from pathlib import Path

import pytest
from creator_chat.adapters.embedded.database import DATABASE_FILE, Database
from creator_chat.adapters.embedded.vector_index import EmbeddedVectorIndex
from creator_chat.domain.models import Chunk, SearchFilters
from creator_chat.errors import InvalidInput


def chunk(creator: str, doc: str, n: int, text: str, video: str | None = None) -> Chunk:
    return Chunk(
        chunk_id=f"{doc}-{n}",
        creator_id=creator,
        document_id=doc,
        text=text,
        title=doc,
        ordinal=n,
        video_id=video,
        start_s=float(n * 10) if video else None,
    )


def vec(*hot: int, dim: int = 8) -> list[float]:
    return [1.0 if i in hot else 0.0 for i in range(dim)]


@pytest.fixture
def db(tmp_path: Path):
    database = Database(tmp_path / DATABASE_FILE)
    yield database
    database.close()


def test_chunks_are_found_after_reopening_the_database(tmp_path: Path, db: Database):
    index = EmbeddedVectorIndex(db)
    index.replace_document("cr_a", "d1", [chunk("cr_a", "d1", 0, "bowline loop")], [vec(0)])
    db.close()
    reopened = EmbeddedVectorIndex(Database(tmp_path / DATABASE_FILE))
    hits = reopened.search("cr_a", vec(0), "bowline", top_k=3)
    assert [h.chunk.chunk_id for h in hits] == ["d1-0"]
    assert hits[0].similarity == pytest.approx(1.0)


def test_a_rolled_back_unit_of_work_leaves_neither_rows_nor_search_hits(db: Database):
    index = EmbeddedVectorIndex(db)
    index.search("cr_a", vec(0), "warm the creator's shard", top_k=1)  # loaded (empty)
    with pytest.raises(RuntimeError), db.transaction():
        index.replace_document("cr_a", "d1", [chunk("cr_a", "d1", 0, "bowline")], [vec(0)])
        raise RuntimeError("the status update failed")
    assert index.count("cr_a") == 0
    assert index.search("cr_a", vec(0), "bowline", top_k=3) == []


def test_search_sees_a_commit_made_inside_a_unit_of_work_only_after_it(db: Database):
    index = EmbeddedVectorIndex(db)
    index.search("cr_a", vec(0), "x", top_k=1)
    with db.transaction():
        index.replace_document("cr_a", "d1", [chunk("cr_a", "d1", 0, "bowline")], [vec(0)])
        db.execute("INSERT INTO meta (key, value) VALUES ('marker', '1')")
    assert [h.chunk.document_id for h in index.search("cr_a", vec(0), "x", top_k=3)] == ["d1"]


def test_replacing_and_deleting_a_document_changes_only_its_chunks(db: Database):
    index = EmbeddedVectorIndex(db)
    index.replace_document(
        "cr_a", "d1", [chunk("cr_a", "d1", i, f"old {i}") for i in range(3)], [vec(0)] * 3
    )
    index.replace_document("cr_a", "d2", [chunk("cr_a", "d2", 0, "other")], [vec(1)])
    index.replace_document("cr_a", "d1", [chunk("cr_a", "d1", 9, "new")], [vec(0)])
    assert index.count("cr_a", "d1") == 1 and index.count("cr_a", "d2") == 1
    texts = {h.chunk.text for h in index.search("cr_a", vec(0), "", top_k=10)}
    assert texts == {"new", "other"}
    assert index.delete_document("cr_a", "d1") == 1
    assert {h.chunk.document_id for h in index.search("cr_a", vec(0), "", top_k=10)} == {"d2"}


def test_one_creators_query_never_returns_another_creators_chunks(db: Database):
    index = EmbeddedVectorIndex(db)
    index.replace_document("cr_a", "d1", [chunk("cr_a", "d1", 0, "secret recipe")], [vec(0)])
    index.replace_document("cr_b", "d1", [chunk("cr_b", "d1", 0, "public notes")], [vec(1)])
    hits = index.search("cr_b", vec(0), "secret recipe", top_k=10)
    assert [h.chunk.creator_id for h in hits] == ["cr_b"]
    with pytest.raises(InvalidInput):
        index.replace_document("cr_a", "d9", [chunk("cr_b", "d9", 0, "x")], [vec(0)])


def test_a_vector_of_another_dimension_is_refused(db: Database):
    index = EmbeddedVectorIndex(db)
    index.replace_document("cr_a", "d1", [chunk("cr_a", "d1", 0, "a")], [vec(0)])
    with pytest.raises(InvalidInput, match="dimension"):
        index.replace_document("cr_a", "d2", [chunk("cr_a", "d2", 0, "b")], [vec(0, dim=4)])


def test_video_chunks_come_in_playback_order(db: Database):
    index = EmbeddedVectorIndex(db)
    chunks = [chunk("cr_a", "v", n, f"part {n}", video="vid1") for n in (2, 0, 1)]
    index.replace_document("cr_a", "v", chunks, [vec(0)] * 3)
    assert [c.ordinal for c in index.chunks_for_video("cr_a", "vid1", limit=5)] == [0, 1, 2]


def test_verify_removes_chunks_whose_document_is_gone(db: Database):
    index = EmbeddedVectorIndex(db)
    index.replace_document("cr_a", "ghost", [chunk("cr_a", "ghost", 0, "x")], [vec(0)])
    assert index.verify() == {"chunks": 0, "orphans_removed": 1}


def test_tags_and_kind_survive_a_reopen_and_filters_narrow_the_search(tmp_path: Path, db: Database):
    index = EmbeddedVectorIndex(db)
    tagged = Chunk("d1-0", "cr_a", "d1", "bowline loop", "d1", kind="vtt", tags=("knots", "m1"))
    plain = Chunk("d2-0", "cr_a", "d2", "bowline loop", "d2", kind="pdf")
    index.replace_document("cr_a", "d1", [tagged], [vec(0)])
    index.replace_document("cr_a", "d2", [plain], [vec(0)])
    db.close()
    reopened = EmbeddedVectorIndex(Database(tmp_path / DATABASE_FILE))

    def found(filters: SearchFilters) -> list[str]:
        hits = reopened.search("cr_a", vec(0), "bowline", top_k=5, filters=filters)
        return sorted(h.chunk.chunk_id for h in hits)

    assert found(SearchFilters(tags=("m1",))) == ["d1-0"]
    assert found(SearchFilters(kinds=("pdf",))) == ["d2-0"]
    assert found(SearchFilters()) == ["d1-0", "d2-0"]
    [hit] = reopened.search("cr_a", vec(0), "x", top_k=5, filters=SearchFilters(tags=("knots",)))
    assert hit.chunk == tagged  # tags read back as the tuple they were written as

"""What both vector index adapters share: ``search`` is ``search_with_similarity`` without
the cosines, so the two entry points cannot disagree."""

from __future__ import annotations

from collections.abc import Sequence

from creator_chat.domain.models import SearchHit


class SearchFromSimilarity:
    def search_with_similarity(
        self,
        creator_id: str,
        vector: Sequence[float],
        query_text: str,
        *,
        top_k: int,
        video_id: str | None = None,
    ) -> list[tuple[SearchHit, float]]:
        raise NotImplementedError

    def search(
        self,
        creator_id: str,
        vector: Sequence[float],
        query_text: str,
        *,
        top_k: int,
        video_id: str | None = None,
    ) -> list[SearchHit]:
        """Hybrid search within one creator; ``score`` in [0, 1], best first."""
        hits = self.search_with_similarity(
            creator_id, vector, query_text, top_k=top_k, video_id=video_id
        )
        return [hit for hit, _ in hits]

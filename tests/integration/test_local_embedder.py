"""The real local model: all-MiniLM-L6-v2 int8 ONNX from installed packages, no network."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from creator_chat.adapters.embedded.local_embedder import (
    DIMENSION,
    MODEL_ID,
    EmbeddingModelMissing,
    LocalEmbedder,
)
from creator_chat.ports import Embedder

TEXTS = [
    "How do I set up my microphone for a live stream?",
    "What is the best mic configuration for streaming?",
    "My grandmother's banana bread recipe uses three ripe bananas.",
    "",
    "Lighting: put two softboxes at 45 degrees to your face. " * 40,  # > 256 tokens
    "ok",
]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def max_diff(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> float:
    assert len(a) == len(b)
    return max(abs(x - y) for u, v in zip(a, b, strict=True) for x, y in zip(u, v, strict=True))


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder(threads=2)


def test_implements_the_embedder_port(embedder: LocalEmbedder) -> None:
    port: Embedder = embedder
    assert port.model_id == MODEL_ID == "all-MiniLM-L6-v2-onnx-int8"
    assert port.dimension == DIMENSION == 384


def test_vectors_have_the_dimension_and_unit_length(embedder: LocalEmbedder) -> None:
    vectors = embedder.embed(TEXTS)
    assert len(vectors) == len(TEXTS)
    for vector in vectors:
        assert len(vector) == 384
        assert all(isinstance(x, float) and math.isfinite(x) for x in vector)
        assert math.sqrt(sum(x * x for x in vector)) == pytest.approx(1.0, abs=1e-5)


def test_related_sentences_are_closer_than_unrelated_ones(embedder: LocalEmbedder) -> None:
    mic_a, mic_b, bread = embedder.embed(TEXTS[:3])
    related = cosine(mic_a, mic_b)
    assert related > 0.5
    assert related > cosine(mic_a, bread) + 0.3
    assert related > cosine(mic_b, bread) + 0.3


def test_query_retrieves_the_matching_passage(embedder: LocalEmbedder) -> None:
    passages = [
        "Record your voice at 48 kHz and keep peaks around -6 dB.",
        "Upload a custom thumbnail with a face and three words of text.",
        "Use two softboxes at 45 degrees for soft, even light on your face.",
    ]
    query, *vectors = embedder.embed(["how should I light my face on camera", *passages])
    scores = [cosine(query, v) for v in vectors]
    assert max(range(3), key=scores.__getitem__) == 2


def test_deterministic_across_calls_and_instances(embedder: LocalEmbedder) -> None:
    first = embedder.embed(TEXTS)
    assert embedder.embed(TEXTS) == first
    assert max_diff(LocalEmbedder(threads=1).embed(TEXTS), first) < 1e-5


def test_batch_equals_singles(embedder: LocalEmbedder) -> None:
    batch = embedder.embed(TEXTS)
    singles = [embedder.embed([text])[0] for text in TEXTS]
    assert max_diff(batch, singles) < 1e-5


def test_small_batches_equal_one_big_batch() -> None:
    # batch_size 2 splits the texts across several padded runs of different widths.
    small = LocalEmbedder(batch_size=2, max_batch_tokens=256)
    big = LocalEmbedder(batch_size=64)
    assert max_diff(small.embed(TEXTS), big.embed(TEXTS)) < 1e-5


def test_truncates_at_256_tokens(embedder: LocalEmbedder) -> None:
    head = "alpha " * 150  # 152 tokens with [CLS] and [SEP]
    up_to_200 = head + "banana bread " * 24
    up_to_300 = up_to_200 + "thumbnail design " * 50
    a, b, c = embedder.embed([head, up_to_200, up_to_300])
    # Tokens 152-256 count (the shipped tokenizer.json alone would cut at 128)...
    assert max_diff([a], [b]) > 1e-3
    assert max_diff([b], [c]) > 1e-3
    # ...while everything past 256 is dropped rather than rejected.
    [d] = embedder.embed([up_to_300 + " unrelated ending" * 100])
    assert d == c
    [short] = LocalEmbedder(max_length=16).embed([up_to_300])
    assert max_diff([short], [c]) > 1e-3


def test_empty_list_returns_empty_without_loading() -> None:
    lazy = LocalEmbedder()
    assert lazy.embed([]) == []
    assert lazy._loaded is None


def test_concurrent_first_use_loads_once() -> None:
    lazy = LocalEmbedder()
    results: list[list[list[float]]] = []
    sessions: set[int] = set()

    def work() -> None:
        results.append(lazy.embed(["same question"]))
        assert lazy._loaded is not None
        sessions.add(id(lazy._loaded.session))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    assert len(sessions) == 1
    assert all(r == results[0] for r in results)


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = LocalEmbedder(model_path=tmp_path / "nope.onnx")
    with pytest.raises(EmbeddingModelMissing, match=r"nope\.onnx"):
        missing.embed(["x"])


def test_rejects_a_max_length_beyond_the_models_positions() -> None:
    with pytest.raises(ValueError):
        LocalEmbedder(max_length=1024)

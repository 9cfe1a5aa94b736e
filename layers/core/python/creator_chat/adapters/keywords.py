"""The keyword half of hybrid search, without numpy: the analyser and BM25 every index shares.

``tokenize`` is the local index's keyword analyser (moved here so that adapters running in
Lambda, where numpy is not installed, use the very same one); ``bm25_scores`` scores a small
set of texts (the candidates an S3 Vectors query returned) with the local index's Okapi
parameters; ``hybrid_score`` is the one fusion of a cosine and a BM25 score every
``VectorIndex`` applies (see ``local_index`` for the formula and the measurements behind it).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

BM25_K1 = 1.2
BM25_B = 0.75

# A word with its apostrophe suffixes ("isn't", also with U+2019) and a trailing "++" or "#".
_TOKEN_RE = re.compile(r"\w+(?:['\u2019]\w+)*(?:\+\+|#(?!\w))?", re.UNICODE)
_APOSTROPHE = re.compile(r"['\u2019]")
_NEGATED = re.compile(r"n['\u2019]t$")  # "isn't", "don't", "can't": function words only
_CLITICS = frozenset({"s", "ll", "re", "ve", "d", "m"})  # "what's" → what, "you'll" → you
# A short list: BM25's idf already damps frequent words; this only keeps "how do I ..." from
# giving every chunk a small keyword score that the max-normalisation would then inflate.
# fmt: off
STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "do", "does", "for", "from", "how",
        "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "so", "than",
        "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "we", "what",
        "when", "where", "which", "who", "why", "will", "with", "you", "your",
    }
)
# fmt: on


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens without stop words (the keyword analyser of the local index).

    Contractions (with ' or U+2019): a negated auxiliary ("isn't", "don't") is dropped whole,
    where splitting at the apostrophe used to leave "isn" or "don" as rare, meaningless
    keywords; a clitic ("'s", "'ll") is cut off ("creator's" → creator); other apostrophes
    split ("o'clock" → o, clock). Single letters are dropped ("o"), but "c++" and "c#" are
    kept as words of their own. A bare "c" stays dropped: on the FAQ eval, where half the C API
    answers say "C", keeping it
    cost R@5 0.950 → 0.944 and gained nothing.
    """
    tokens = _TOKEN_RE.findall(text.lower())
    if "'" in text or "\u2019" in text:
        tokens = _without_contractions(tokens)
    return [t for t in tokens if t not in STOPWORDS and (len(t) > 1 or t.isdigit())]


def _without_contractions(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        if "'" not in token and "\u2019" not in token:
            out.append(token)
        elif not _NEGATED.search(token):
            parts = _APOSTROPHE.split(token)
            out.extend(parts[:-1] if parts[-1] in _CLITICS else parts)
    return out


def bm25_scores(query: str, documents: Sequence[Sequence[str]]) -> list[float]:
    """Okapi BM25 (k1 1.2, b 0.75) of each tokenised document for ``query``, with document
    frequencies and the average length taken from ``documents`` themselves."""
    n = len(documents)
    terms = set(tokenize(query))
    if n == 0 or not terms:
        return [0.0] * n
    counts = [Counter(doc) for doc in documents]
    lengths = [len(doc) for doc in documents]
    avg_len = (sum(lengths) / n) or 1.0
    scores = [0.0] * n
    for term in terms:
        df = sum(1 for c in counts if term in c)
        if df == 0:
            continue
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        for i, c in enumerate(counts):
            tf = c.get(term, 0)
            if tf:
                norm = BM25_K1 * (1.0 - BM25_B + BM25_B * lengths[i] / avg_len)
                scores[i] += idf * tf * (BM25_K1 + 1.0) / (tf + norm)
    return scores


def hybrid_score(cosine: float, keyword: float, max_keyword: float, dense_weight: float) -> float:
    """One hit's score in [0, 1] (``local_index.hybrid_scores``, per hit): the absolute cosine,
    lifted by ``1 - dense_weight`` of the gap to the max-normalised BM25 score when that is
    higher: ``max(dense, w * dense + (1 - w) * keyword)``, never below the cosine."""
    dense = min(max(cosine, 0.0), 1.0)
    if max_keyword <= 0.0:
        return dense
    kw = keyword / max_keyword
    return max(dense, dense_weight * dense + (1.0 - dense_weight) * kw)

"""An in-memory FAKE of the S3 Vectors data plane (not the service, not an emulator).

It honours what the adapter relies on — keys unique per index (a put overwrites), ``topK``,
exact cosine ``distance`` (1 - cosine), ``returnMetadata``/``returnDistance``, metadata
filters with ``$and``/``$or``/``$eq``/``$ne``/``$lt``/``$in`` (and implicit equality; ``$eq``
on a list metadata value matches any of its elements, as the service documents), keys-only
ListVectors pages with ``nextToken`` — and behaves like an ENHANCED index (filter first, then
exact nearest neighbours). The request/response truth is the Stubber tests in
``test_s3vectors_index.py``; this fake only lets the behaviour contract the other indexes
pass run against the S3 Vectors adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def _matches(metadata: Mapping[str, Any], flt: Mapping[str, Any]) -> bool:
    for key, cond in flt.items():
        if key == "$and":
            if not all(_matches(metadata, c) for c in cond):
                return False
            continue
        if key == "$or":
            assert cond, "$or takes a non-empty array"
            if not any(_matches(metadata, c) for c in cond):
                return False
            continue
        value = metadata.get(key)
        if not isinstance(cond, dict):
            cond = {"$eq": cond}
        for op, arg in cond.items():
            if op == "$eq" and not (arg in value if isinstance(value, list) else value == arg):
                return False
            if op == "$ne" and value == arg:
                return False
            if op == "$lt" and not (value is not None and value < arg):
                return False
            if op == "$in":
                assert isinstance(arg, list) and arg, "$in takes a non-empty array"
                assert not isinstance(value, list), "$in is not documented for list values"
                if value not in arg:
                    return False
            if op not in ("$eq", "$ne", "$lt", "$in"):
                raise NotImplementedError(op)
    return True


class FakeS3Vectors:
    def __init__(self, *, page_size: int = 1000) -> None:
        self.vectors: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
        self.calls: list[str] = []
        self.page_size = page_size

    def put_vectors(self, *, vectorBucketName, indexName, vectors) -> dict[str, Any]:
        self.calls.append("PutVectors")
        assert 1 <= len(vectors) <= 500
        for v in vectors:
            data = np.asarray(v["data"]["float32"], dtype=np.float32)
            self.vectors[v["key"]] = (data, dict(v.get("metadata") or {}))
        return {}

    def delete_vectors(self, *, vectorBucketName, indexName, keys) -> dict[str, Any]:
        self.calls.append("DeleteVectors")
        assert 1 <= len(keys) <= 500
        for key in keys:
            self.vectors.pop(key, None)
        return {}

    def query_vectors(
        self,
        *,
        vectorBucketName,
        indexName,
        topK,
        queryVector,
        filter=None,
        returnMetadata=False,
        returnDistance=False,
    ) -> dict[str, Any]:
        self.calls.append("QueryVectors")
        assert 1 <= topK <= 100
        query = np.asarray(queryVector["float32"], dtype=np.float32)
        query /= np.linalg.norm(query)
        found = []
        for key, (data, metadata) in self.vectors.items():
            if filter is None or _matches(metadata, filter):
                cosine = float(data @ query / (np.linalg.norm(data) or 1.0))
                found.append((1.0 - cosine, key, metadata))
        found.sort(key=lambda f: (f[0], f[1]))
        out = []
        for distance, key, metadata in found[:topK]:
            entry: dict[str, Any] = {"key": key}
            if returnDistance:
                entry["distance"] = distance
            if returnMetadata:
                entry["metadata"] = dict(metadata)
            out.append(entry)
        return {"vectors": out, "distanceMetric": "cosine"}

    def list_vectors(
        self, *, vectorBucketName, indexName, maxResults=500, nextToken=None, returnMetadata=False
    ) -> dict[str, Any]:
        self.calls.append("ListVectors")
        keys = sorted(self.vectors)
        start = int(nextToken or 0)
        size = min(maxResults, self.page_size)
        page = keys[start : start + size]
        out: dict[str, Any] = {
            "vectors": [
                {"key": k, **({"metadata": dict(self.vectors[k][1])} if returnMetadata else {})}
                for k in page
            ]
        }
        if start + size < len(keys):
            out["nextToken"] = str(start + size)
        return out

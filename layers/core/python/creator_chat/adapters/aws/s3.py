"""S3 adapter for the ``BlobStore`` port."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from creator_chat.errors import NotFound
from creator_chat.ports import UploadForm


class S3BlobStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        self._client.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=content_type)

    def ping(self) -> bool:
        self._client.head_bucket(Bucket=self._bucket)
        return True

    def get(self, key: str) -> bytes:
        try:
            out = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotFound(f"blob {key} not found") from err
            raise
        return bytes(out["Body"].read())

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self._bucket, Key=key)

    def presigned_get_url(self, key: str, *, expires_s: int) -> str:
        """S3's presigned GET (signed here, no request to S3). It ends at ``expires_s`` or
        when the signing credentials (a Lambda role's temporary ones) expire, whichever comes
        first: a client then asks again for a fresh URL."""
        return str(
            self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": key},
                ExpiresIn=expires_s,
            )
        )

    def presigned_post(
        self, key: str, *, expires_s: int, content_type: str, max_bytes: int
    ) -> UploadForm:
        """S3's presigned POST: the signed policy names the key, the content type and a
        ``content-length-range`` of 1 to ``max_bytes``, so S3 itself refuses a larger file
        (``EntityTooLarge``) before storing anything — a presigned PUT cannot bound it."""
        out = self._client.generate_presigned_post(
            self._bucket,
            key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", 1, max_bytes],
            ],
            ExpiresIn=expires_s,
        )
        return UploadForm(url=str(out["url"]), fields={k: str(v) for k, v in out["fields"].items()})

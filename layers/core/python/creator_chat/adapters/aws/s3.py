"""S3 adapter for the ``BlobStore`` port."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from creator_chat.errors import NotFound


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

    def presigned_put_url(self, key: str, *, expires_s: int, content_type: str) -> str:
        return str(
            self._client.generate_presigned_url(
                "put_object",
                Params={"Bucket": self._bucket, "Key": key, "ContentType": content_type},
                ExpiresIn=expires_s,
            )
        )

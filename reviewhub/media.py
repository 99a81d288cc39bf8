"""Where media (evidence, references, rebuttal files, heat-maps) is stored, from the environment."""

from __future__ import annotations

from typing import Any

from reviewhub.env import env_int, env_str


def s3_storage(
    *,
    bucket: str,
    endpoint_url: str | None = None,
    region: str | None = None,
    prefix: str = "",
    connect_timeout: int = 3,
    read_timeout: int = 20,
) -> dict[str, Any]:
    """Return the STORAGES entry for content-addressed media in a private S3-compatible bucket.

    Credentials are not part of it: boto3 finds them in the standard AWS variables
    (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or the host's role.
    """
    from botocore.config import Config

    return {
        "BACKEND": "refunds.storage.ContentAddressedS3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "location": prefix,
            # The bucket stays private: objects get no ACL of their own and are read only
            # through the application, which checks who asks (refunds/views.py).
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": True,
            # Bounded waits and few retries: a request or /readyz must answer while the
            # bucket is unreachable instead of hanging on botocore's defaults (60 s, 5 tries).
            "client_config": Config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"max_attempts": 2, "mode": "standard"},
                signature_version="s3v4",
            ),
        },
    }


def s3_storage_from_env() -> dict[str, Any]:
    """Return the STORAGES entry described by the MEDIA_S3_* variables; MEDIA_S3_BUCKET is required."""
    return s3_storage(
        bucket=env_str("MEDIA_S3_BUCKET"),
        endpoint_url=env_str("MEDIA_S3_ENDPOINT_URL", ""),
        region=env_str("MEDIA_S3_REGION", ""),
        prefix=env_str("MEDIA_S3_PREFIX", ""),
        connect_timeout=env_int("MEDIA_S3_CONNECT_TIMEOUT", 3, minimum=1),
        read_timeout=env_int("MEDIA_S3_READ_TIMEOUT", 20, minimum=1),
    )

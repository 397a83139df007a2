"""Create the e2e buckets and upload a folder into the store (used by hack/e2e-kind.sh).

    python hack/e2e/seed_store.py --endpoint http://127.0.0.1:19000 --folder DIR --to s3://bucket/prefix BUCKET...

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def seed(endpoint: str, buckets: list[str], folder: Path | None, to: str | None) -> list[str]:
    """Create `buckets` (existing ones are fine) and upload `folder` under `to`; the keys written."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}))
    for bucket in buckets:
        try:
            s3.create_bucket(Bucket=bucket)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
    written = []
    if folder is not None and to is not None:
        target = urlparse(to)
        prefix = target.path.strip("/")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = "/".join(filter(None, [prefix, path.relative_to(folder).as_posix()]))
            s3.upload_file(str(path), target.netloc, key)
            written.append(f"s3://{target.netloc}/{key}")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--to", help="s3://bucket/prefix the folder goes under")
    parser.add_argument("buckets", nargs="+")
    args = parser.parse_args()
    for uri in seed(args.endpoint, args.buckets, args.folder, args.to):
        print(f"uploaded {uri}")


if __name__ == "__main__":
    main()

"""MS-COCO 2017 image zips: download (resumable, verified) and list their images in place.
The subset is read straight from the zip; nothing is extracted."""

from __future__ import annotations

from pathlib import Path

from kolorize.data.sources import Candidate, zip_candidates
from kolorize.download import download
from kolorize.errors import KolorizeError
from kolorize.user_cache import cache_dir

# Official archives and the MD5 sums published with them.
COCO_ZIPS: dict[str, tuple[str, str]] = {
    "train2017": (
        "http://images.cocodataset.org/zips/train2017.zip",
        "cced6f7f71b7629ddf16f17bbcfab6b2",
    ),
    "val2017": (
        "http://images.cocodataset.org/zips/val2017.zip",
        "442b8da7639aecaf257c1dceb8ba8c80",
    ),
}


def default_download_dir() -> Path:
    return cache_dir() / "coco"


def fetch_coco_zip(
    split: str,
    download_dir: str | Path | None = None,
    url: str | None = None,
    md5: str | None = None,
) -> Path:
    """The local path of the split's zip, downloading (or resuming) it first if needed.

    A mirror can be given with `url`; the official checksum is then only applied when `md5`
    is not given and the file name matches the official one.
    """
    if split not in COCO_ZIPS:
        raise KolorizeError(f"unknown COCO split {split!r}; choose one of {', '.join(COCO_ZIPS)}")
    official_url, official_md5 = COCO_ZIPS[split]
    url = url or official_url
    checksum = md5 or (official_md5 if url == official_url else None)
    target = Path(download_dir or default_download_dir()) / f"{split}.zip"
    return download(url, target, md5=checksum, desc=f"COCO {split}")


def coco_candidates(zip_path: str | Path, split: str) -> list[Candidate]:
    return zip_candidates(zip_path, f"coco/{split}")

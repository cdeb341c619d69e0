"""The built-in demo: the whole study end to end at small scale, with no internet and no data
of the user's. Photos come from scikit-image's bundled samples: random crops of seven photos
for training, and of two other photos for validation, so the scores are on unseen scenes;
three photos that only exist in black and white are colorized for the report, and also by the
colorizer that ships with kolorize (MODEL_CARD.md), next to what the demo's small models make."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

TRAIN_PHOTOS = (
    "astronaut", "rocket", "motorcycle_left", "motorcycle_right",
    "hubble_deep_field", "immunohistochemistry", "retina",
)  # fmt: skip
VAL_PHOTOS = ("chelsea", "coffee")
# Photos that only exist in black and white: the report shows what each model makes of them.
BW_PHOTOS = ("camera", "coins", "clock")
CROP_SIDE = 96  # px on disk; the cache resizes to the demo's 64


def sample_photo(name: str) -> np.ndarray:
    """An (H, W, 3) uint8 photo shipped with scikit-image."""
    from skimage import data

    if name.startswith("motorcycle_"):
        left, right, _disparity = data.stereo_motorcycle()
        return left if name.endswith("left") else right
    return getattr(data, name)()


def write_crops(names: tuple[str, ...], folder: Path, count: int, seed: int) -> None:
    """`count` random square crops (25-70 % of the short side) spread over the photos."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = [sample_photo(n) for n in names]
    for i in range(count):
        k = i % len(photos)
        photo = photos[k]
        h, w = photo.shape[:2]
        side = int(min(h, w) * rng.uniform(0.25, 0.7))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = Image.fromarray(photo[y : y + side, x : x + side])
        crop.resize((CROP_SIDE, CROP_SIDE), Image.Resampling.BICUBIC).save(
            folder / f"{names[k]}_{i:04d}.png"
        )


def write_bw_photos(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in BW_PHOTOS:
        Image.fromarray(sample_photo(name)).save(folder / f"{name}.png")
    return folder


def demo_study_file() -> Path:
    return Path(str(resources.files("kolorize") / "configs" / "study_demo.yaml"))


def run_demo(
    out: Path,
    *,
    train_crops: int = 1500,
    val_crops: int = 200,
    seed: int = 0,
    bw_dir: Path | None = None,
    study_file: Path | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Crops -> dataset -> the five models -> metrics -> report; returns the report path."""
    # here: the demo's photos (`sample_photo`, `write_bw_photos`) are read without torch
    from kolorize.data.prepare import PrepareRequest, prepare
    from kolorize.data.sources import folder_candidates
    from kolorize.study import run_full_study

    photos = out / "photos"
    if not (photos / "done").is_file():
        log(f"cutting {train_crops} + {val_crops} crops from scikit-image's sample photos")
        write_crops(TRAIN_PHOTOS, photos / "train", train_crops, seed)
        write_crops(VAL_PHOTOS, photos / "val", val_crops, seed + 1)
        write_bw_photos(photos / "bw")
        (photos / "done").write_text("ok\n")
    data = out / "data"
    request = PrepareRequest(size=64, n=train_crops + val_crops, val=val_crops, seed=seed)
    prepare(
        folder_candidates([photos / "train"]), data, request,
        val_candidates=folder_candidates([photos / "val"]), log=log,
    )  # fmt: skip
    html = run_full_study(
        study_file or demo_study_file(), data, out, bw_dir=bw_dir or photos / "bw", log=log
    )
    assert html is not None
    shipped = colorize_with_shipped_model(bw_dir or photos / "bw", out / "shipped_colorizer", log)
    log(f"the shipped colorizer's take on the black-and-white photos: {shipped}")
    return html


def colorize_with_shipped_model(
    photos: Path, out: Path, log: Callable[[str], None] = print
) -> Path:
    """Every photo of `photos` colorized by the packaged model, as `kolorize colorize
    --compare` writes them (gray | colour); a photo that cannot be read is skipped, said."""
    # here, as in run_demo: torch only when the demo colorizes
    from kolorize.inference.colorizer import Colorizer
    from kolorize.photo_files import colorize_photos, find_inputs, format_name, plan

    jobs = plan(find_inputs([str(photos)]), out, format_name("jpg"))
    colorize_photos(Colorizer.load(), jobs, compare=True, quality=90, log=log)
    return out

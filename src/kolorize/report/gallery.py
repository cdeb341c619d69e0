"""The pictures of the report: gray | the mean-colour tint | each model | real for a fixed,
seeded choice of validation images, and colorizations of real black-and-white photos from a folder.

Models are re-run here on the CPU (a handful of images), so the report needs no saved images:
validation images in the inference mode the evaluation used, black-and-white photos at their
own resolution the way `kolorize colorize` does it (`kolorize.Colorizer`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from kolorize.data.cache import ImageCache
from kolorize.data.images import ImageRejected, is_image_path, load_rgb
from kolorize.errors import KolorizeError
from kolorize.evaluate.results import BASELINES, Results
from kolorize.evaluate.yardsticks import tint_images
from kolorize.inference.colorizer import Colorizer
from kolorize.inference.tensors import colorize_tensors, grayscale_tensors, ready_generator, to_nchw
from kolorize.models.files import load_generator
from kolorize.report.plots import image_grid
from kolorize.rundir import GENERATOR

GRID_IMAGES = 6
BW_PHOTOS = 4
BW_LONG_SIDE = 320


@dataclass
class Picture:
    png: bytes
    caption: str


def grid_indices(n: int, k: int, seed: int) -> list[int]:
    """A fixed choice of k of n images: the same for the same seed, spread by chance."""
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(n, size=min(k, n), replace=False))


def _nchw_to_images(batch: torch.Tensor) -> list[np.ndarray]:
    return list(batch.permute(0, 2, 3, 1).cpu().numpy())


def generator_files(
    results: Results, study_dir: Path, log: Callable[[str], None]
) -> dict[str, Path]:
    """Each evaluated model's generator file, in table order; models whose file is gone are
    left out with a note."""
    files: dict[str, Path] = {}
    for row in results.models:
        candidates = [Path(row.generator)] if row.generator else []
        candidates.append(study_dir / row.name / GENERATOR)
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            log(f"report: no generator for {row.name} (looked at {candidates[0]}); left out")
            continue
        files[row.name] = path
    return files


def validation_grid(results: Results, files: dict[str, Path], *, seed: int) -> Picture:
    """gray | the tint (when the results have one) | each model | real, for a seeded choice
    of validation images."""
    try:
        val = ImageCache(results.data).split("val")
    except KolorizeError as e:
        raise KolorizeError(f"validation images unavailable: {e}") from None
    picks = grid_indices(len(val), GRID_IMAGES, seed)
    real = to_nchw(val[picks], torch.device("cpu"))
    columns: list[list[np.ndarray]] = [_nchw_to_images(grayscale_tensors(real))]
    titles = ["Input (L only)"]
    if results.tint_ab is not None:
        a, b = results.tint_ab
        columns.append(_nchw_to_images(tint_images(real, (a, b))))
        titles.append(BASELINES["tint"])
    train_mode = results.inference_mode == "train"
    for path in files.values():
        net = ready_generator(load_generator(path)[0], torch.device("cpu"), train_mode=train_mode)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # train-mode dropout, if any, draws the same noise each time
            columns.append(_nchw_to_images(colorize_tensors(net, real)))
    columns.append(_nchw_to_images(real))
    titles += [*files, "Real photo"]
    rows = [list(row) for row in zip(*columns, strict=True)]
    side = real.shape[-1]
    png = image_grid(titles, rows, cell_inches=max(1.35, min(side / 100, 2.2)))
    caption = (
        f"Validation images #{', #'.join(map(str, picks))} (chosen with seed {seed}), "
        f"{side}x{side} px: the generator sees only the first column."
    )
    return Picture(png, caption)


def bw_photos(bw_dir: Path, k: int = BW_PHOTOS) -> list[Path]:
    """k photos spread over the folder's sorted image files."""
    if not bw_dir.is_dir():
        raise KolorizeError(f"--bw: no such folder: {bw_dir}")
    found = sorted(p for p in bw_dir.rglob("*") if p.is_file() and is_image_path(p))
    if not found:
        raise KolorizeError(f"--bw: no images in {bw_dir}")
    step = max(1, len(found) // k)
    return found[::step][:k]


def bw_grid(
    paths: list[Path], files: dict[str, Path], log: Callable[[str], None]
) -> Picture | None:
    """Real black-and-white photos colorized by every model, at display size."""
    photos: list[Image.Image] = []
    names: list[str] = []
    for path in paths:
        try:
            photo = load_rgb(path).image
        except ImageRejected as e:
            log(f"report: skipping {path}: {e}")
            continue
        photo.thumbnail((BW_LONG_SIDE, BW_LONG_SIDE))
        photos.append(photo)
        names.append(path.name)
    if not photos:
        return None
    columns = [[np.asarray(p) for p in photos]]
    for path in files.values():
        colorizer = Colorizer.load(path, "cpu", batch_size=len(photos))
        columns.append([np.asarray(img) for img in colorizer.colorize_batch(photos)])
    rows = [list(row) for row in zip(*columns, strict=True)]
    png = image_grid(["Black-and-white photo", *files], rows, cell_inches=1.9)
    where = paths[0].parent
    return Picture(png, f"Real black-and-white photos from {where}: {', '.join(names)}.")

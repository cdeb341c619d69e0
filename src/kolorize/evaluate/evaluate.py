"""Evaluate trained generators on the validation split of a prepared dataset, as the study
does: every model's colorizations against the real photos, plus the ground-truth row (the
real photos scored against themselves and on their own) and two baselines a colorizer has to
beat (the gray image, and the mean-colour tint: the training photos' mean ab on every pixel),
written to metrics.json/.csv.

The real photos go through the networks once: their Inception features are the reference
for every model's FID and KID. Each colorized set (and each baseline) gets one Inception pass
for FID, KID and IS.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from kolorize.atomic import atomic_folder
from kolorize.data.cache import ImageCache
from kolorize.device import resolve_device, resolve_precision
from kolorize.errors import KolorizeError
from kolorize.evaluate import metrics
from kolorize.evaluate.backbones import Backbones, load_backbones
from kolorize.evaluate.results import BASELINES, GROUND_TRUTH, Results, Row, write_results
from kolorize.evaluate.yardsticks import (
    HUE_TOLERANCE,
    PREDICTED_CHROMA,
    SECTORS,
    TRUE_CHROMA,
    tint_images,
)
from kolorize.inference.tensors import check_size, colorize_tensors, ready_generator, to_nchw
from kolorize.models.files import load_generator, resolve_generator_file
from kolorize.progress import progress
from kolorize.rundir import COLORIZED, GENERATOR, is_run_dir

SETTINGS = {
    "images": "uint8 RGB at the dataset's size, as saved losslessly (PNG); no JPEG anywhere",
    "psnr": "the study's: per image 10 log10(255^2 / MSE) (torchmetrics, data_range=255), "
    "mean over the images; identical images give infinity (not capped). psnr_pooled (csv and "
    "json only) pools the squared error over all pixels of the set instead",
    "ssim": "torchmetrics, data_range=255, Gaussian window sigma 1.5 (11 taps), K1 0.01, "
    "K2 0.03, RGB, whole image with reflect-padded borders; float32 (within 3e-5 of float64: "
    "identical images score 0.99999..., not exactly 1)",
    "lpips": "torchmetrics LPIPS, AlexNet backbone, inputs in [0, 1]",
    "fid": "torchmetrics FID on InceptionV3 2048-d pool features (torch-fidelity "
    "'inception-v3-compat' weights) computed by torch-fidelity's own forward: its "
    "TensorFlow-1.x-compatible bilinear resize to 299x299, as torch-fidelity reports",
    "kid": f"torchmetrics KID on the same features, {metrics.KID_SUBSETS} subsets of "
    f"min({metrics.KID_SUBSET_SIZE}, n) images, polynomial kernel of degree 3; an unbiased "
    "estimate, so values near 0 can be negative (the ground-truth row, which compares the set with "
    "itself rather than with independent samples, is below 0)",
    "is": f"torchmetrics Inception Score on the unbiased logits, {metrics.IS_SPLITS} seeded splits "
    "(fewer under 20 images: at least 2 images per split)",
    "colorfulness": "Hasler & Suesstrunk, RGB in 0..255, population std, mean over images",
    "beats_gray": "share of the validation images whose per-image PSNR is strictly higher than "
    "the gray image's on the same image (a tie is no win); none for the gray image itself",
    "beats_tint": "share of the validation images whose per-image PSNR is strictly higher than "
    "the mean-colour tint's on the same image (a tie is no win); none for the tint itself",
    "hue": f"the real photos' clearly coloured pixels (C*ab > {TRUE_CHROMA:g}) fall into 6 "
    f"sectors of 60 degrees of Lab hue ({', '.join(SECTORS)}, from 0 degrees); in each, the "
    f"share whose colorization is coloured (C*ab > {PREDICTED_CHROMA:g}) and within "
    f"{HUE_TOLERANCE:g} degrees of the true hue, pooled over the set's pixels; then the mean "
    "over the sectors present (balanced, so painting everything the commonest colour does not "
    "pay). Each sector's share is in metrics.json/.csv (hue_reds ... hue_magentas)",
    "per_image": f"mean, median and 95% percentile-bootstrap interval of the mean "
    f"({metrics.BOOTSTRAP_RESAMPLES} seeded resamples)",
}


@dataclass
class ModelToScore:
    name: str
    path: Path  # the run directory, or the generator file itself
    run_dir: Path | None


def select_runs(paths: Sequence[str | Path], log: Callable[[str], None]) -> list[ModelToScore]:
    """Run directories and generator files among `paths`. Other entries are skipped with a
    note, so `kolorize evaluate S/*` works on a study folder that already holds results."""
    chosen: list[ModelToScore] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and (path / GENERATOR).is_file():
            chosen.append(ModelToScore(path.name, path, path))
        elif path.is_file() and path.suffix == ".safetensors":
            run_dir = path.parent if is_run_dir(path.parent) else None
            name = path.parent.name if run_dir is not None else path.stem
            chosen.append(ModelToScore(name, path, run_dir))
        elif is_run_dir(path):
            resolve_generator_file(path)  # says that the run has no generator yet
        elif not path.exists():
            raise KolorizeError(f"no such run directory or generator file: {path}")
        else:
            log(f"skipping {path}: not a run directory")
    if not chosen:
        raise KolorizeError("no run directories or generator files to evaluate")
    names = [m.name for m in chosen]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise KolorizeError(f"two models are named {', '.join(duplicates)}; rename one")
    taken = sorted(set(names) & {GROUND_TRUTH, *BASELINES.values()})
    if taken:  # the report finds rows by name
        raise KolorizeError(f"{', '.join(taken)} names a row of the results table; rename it")
    return chosen


def _batches(images: np.ndarray, batch_size: int) -> Iterator[tuple[int, np.ndarray]]:
    for start in range(0, len(images), batch_size):
        yield start, images[start : start + batch_size]


def _missing_by_metric(backbones: Backbones) -> dict[str, str]:
    return {
        m.key: backbones.missing[m.backbone]
        for m in metrics.METRICS
        if m.backbone is not None and m.backbone in backbones.missing
    }


def _save_pngs(folder: Path, start: int, images: torch.Tensor) -> None:
    for i, img in enumerate(images.permute(0, 2, 3, 1).cpu().numpy()):
        Image.fromarray(img).save(folder / f"{start + i:05d}.png")


def _score_images(
    make: Callable[[torch.Tensor], torch.Tensor],
    val: np.ndarray,
    backbones: Backbones,
    device: torch.device,
    *,
    batch_size: int,
    desc: str,
    images_to: Path | None = None,
) -> metrics.SetScores:
    """The scores of the set `make` turns the validation photos into, batch by batch."""
    scorer = metrics.SetScorer(backbones, device)
    for start, rows in progress(_batches(val, batch_size), desc=desc, unit="batch"):
        real = to_nchw(rows, device)
        fake = make(real)
        scorer.update(fake, real)
        if images_to is not None:
            _save_pngs(images_to, start, fake)
    return scorer.result()


def _score_model(
    net: nn.Module,
    val: np.ndarray,
    backbones: Backbones,
    device: torch.device,
    *,
    batch_size: int,
    train_mode: bool,
    precision: str,
    seed: int,
    images_to: Path | None,
    desc: str,
) -> metrics.SetScores:
    net = ready_generator(net, device, train_mode=train_mode)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # train-mode dropout draws the same noise on every run
        return _score_images(
            lambda real: colorize_tensors(net, real, precision=precision),
            val,
            backbones,
            device,
            batch_size=batch_size,
            desc=desc,
            images_to=images_to,
        )


def _score_baselines(
    val: np.ndarray,
    tint_ab: tuple[float, float],
    backbones: Backbones,
    device: torch.device,
    *,
    batch_size: int,
) -> dict[str, metrics.SetScores]:
    """The gray image (a = b = 0) and the mean-colour tint, each on the photo's own L: made
    by the same conversion, so the two differ only in their colour."""
    colours = {"gray": (0.0, 0.0), "tint": tint_ab}
    scores = {}
    for name, ab in colours.items():
        scores[name] = _score_images(
            lambda real, ab=ab: tint_images(real, ab),
            val,
            backbones,
            device,
            batch_size=batch_size,
            desc=BASELINES[name],
        )
    return scores


def _tint_source(cache: ImageCache) -> str:
    if "mean_ab" in cache.info:
        return "recorded in the dataset's info.json by 'kolorize data prepare'"
    if cache.n_train == 0:
        return "the dataset has no training images, so the tint is the gray image"
    return (
        "computed from a seeded sample of the training split: the dataset was prepared before "
        "'kolorize data prepare' recorded it"
    )


def _settings(tint_ab: tuple[float, float], source: str) -> dict[str, str]:
    a, b = tint_ab
    baselines = (
        f"{BASELINES['gray']}: each photo's own L with a = b = 0. {BASELINES['tint']}: its own "
        f"L with every pixel at the training split's mean colour, a = {a:.2f}, b = {b:.2f} "
        f"({source}). Both are scored like models (FID, KID and IS against the same real "
        "photos) but are yardsticks, not contenders: never marked best"
    )
    return {**SETTINGS, "baselines": baselines}


def _load_generators(
    models: list[ModelToScore], side: int
) -> tuple[list[tuple[ModelToScore, nn.Module, dict[str, Any]]], list[str]]:
    """Every generator, loaded (and checked) before any time is spent on scoring."""
    generators, warnings = [], []
    for model in models:
        net, _cfg, meta = load_generator(model.path)
        check_size(net, model.name, side)
        trained_at = meta.get("image_size")
        if trained_at is not None and trained_at != side:
            warnings.append(
                f"{model.name} was trained at {trained_at} px and is evaluated at {side} px"
            )
        generators.append((model, net, meta))
    return generators, warnings


def _usable(backbones: Backbones, side: int) -> Backbones:
    """The networks that can score images of this size, each absent one with its reason."""
    missing = dict(backbones.missing)
    lpips = backbones.lpips
    if lpips is not None and side < 32:
        lpips = None
        missing["lpips"] = f"LPIPS' AlexNet needs images of at least 32x32 px; these are {side} px"
    for slot, net in (("lpips", lpips), ("inception", backbones.inception)):
        if net is None and slot not in missing:
            missing[slot] = f"no {slot} network was given"
    return replace(backbones, lpips=lpips, missing=missing)


def _baseline_rows(
    baselines: dict[str, metrics.SetScores],
    real: metrics.SetScores,
    *,
    seed: int,
    device: torch.device,
    log: Callable[[str], None],
) -> list[Row]:
    rows = []
    for name, scores in baselines.items():
        scored = metrics.score_row(scores, real, seed=seed, baselines=baselines, device=device)
        rows.append(
            Row(
                name=BASELINES[name],
                reference=False,
                baseline=True,
                run_dir=None,
                epoch=None,
                images=None,
                n_images=scores.n,
                **scored,
            )
        )
        log(_summary_line(BASELINES[name], scored["values"], scores.n))
    return rows


def _model_row(
    model: ModelToScore, meta: dict[str, Any], scored: dict[str, Any], n: int, images: str | None
) -> Row:
    return Row(
        name=model.name,
        reference=False,
        run_dir=str(model.run_dir.resolve()) if model.run_dir else None,
        generator=str(resolve_generator_file(model.path).resolve()),
        epoch=meta.get("epoch"),
        images=images,
        n_images=n,
        **scored,
    )


def evaluate_runs(
    run_dirs: Sequence[str | Path],
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    weights_dir: str | Path | None = None,
    require_all: bool = False,
    save_images: bool = False,
    train_mode: bool = False,
    precision: str = "fp32",
    batch_size: int = 32,
    seed: int = 0,
    device: str | torch.device | None = None,
    backbones: Backbones | None = None,
    provenance: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> Results:
    """Score every model (and the ground truth, the gray image and the mean-colour tint of the
    training split's mean ab, `ImageCache.mean_ab`) on the validation split of `data_dir`;
    write OUT/metrics.json and OUT/metrics.csv (and OUT/colorized/NAME/*.png with
    `save_images`).

    The generators run in float32 unless `precision` says "bf16" or "auto" (bf16 on CUDA,
    fp32 on a CPU): faster, but the metrics move. `backbones` replaces the pretrained networks
    (tests, benchmarks); by default they are located with `weights_dir` / the torch hub cache /
    a download, and a missing one makes its metrics n/a with the reason, or raises
    MissingWeightsError with `require_all`. `provenance` is stored as is in metrics.json (the
    study pipeline records what the scores were computed from, to know when they are stale).
    Returns the results, as metrics.json holds them.
    """
    if batch_size < 1:
        raise KolorizeError(f"--batch-size must be at least 1, got {batch_size}")
    started = time.perf_counter()
    models = select_runs(run_dirs, log)
    cache, val = _validation_split(data_dir)
    generators, warnings = _load_generators(models, cache.size)
    tint_ab, tint_source = cache.mean_ab(), _tint_source(cache)
    if cache.n_train == 0:
        warnings.append(f"{data_dir} has no training images: the mean-colour tint is gray")
    backbones = _backbones(backbones, weights_dir, require_all, cache.size, log)
    device = resolve_device(device)
    precision = resolve_precision(precision, device, workload="evaluate")  # auto: no measuring
    backbones.to(device)
    log(f"evaluating {len(models)} model(s) on {len(val)} validation images on {device}")
    log(f"mean-colour tint: a = {tint_ab[0]:.2f}, b = {tint_ab[1]:.2f} ({tint_source})")

    # the real photos go through every network once; their features serve every model
    real_scores = _score_images(
        lambda real: real, val, backbones, device, batch_size=batch_size, desc="real photos"
    )
    baselines = _score_baselines(val, tint_ab, backbones, device, batch_size=batch_size)
    rows_out = _reference_rows(real_scores, baselines, seed=seed, device=device, log=log)
    rows_out += _model_rows(
        generators, val, backbones, device, real_scores, baselines, out_dir=Path(out_dir),
        save_images=save_images, train_mode=train_mode, precision=precision,
        batch_size=batch_size, seed=seed, warnings=warnings, log=log,
    )  # fmt: skip

    if backbones.inception is not None and (warning := metrics.fid_warning(len(val))):
        warnings.append(warning)
    for warning in warnings:
        log(f"warning: {warning}")
    results = Results(
        data=str(Path(data_dir).resolve()), split="val", n_images=len(val),
        image_size=cache.size, device=str(device),
        autocast="bf16 (generator only)" if precision == "bf16" else "none (fp32)",
        inference_mode="train" if train_mode else "eval", batch_size=batch_size, seed=seed,
        seconds=round(time.perf_counter() - started, 1),
        metrics=[vars(m) for m in metrics.METRICS], missing=_missing_by_metric(backbones),
        backbones=backbones.sources, settings=_settings(tint_ab, tint_source),
        warnings=warnings, rows=rows_out, provenance=provenance, tint_ab=list(tint_ab),
    )  # fmt: skip
    json_path, csv_path = write_results(out_dir, results)
    log(f"metrics: {json_path} and {csv_path}")
    if save_images:
        log(f"colorized images: {Path(out_dir) / COLORIZED}")
    return results


def _model_rows(
    generators: list[tuple[ModelToScore, nn.Module, dict[str, Any]]],
    val: np.ndarray,
    backbones: Backbones,
    device: torch.device,
    real_scores: metrics.SetScores,
    baselines: dict[str, metrics.SetScores],
    *,
    out_dir: Path,
    save_images: bool,
    train_mode: bool,
    precision: str,
    batch_size: int,
    seed: int,
    warnings: list[str],
    log: Callable[[str], None],
) -> list[Row]:
    """One row per model, its images written to OUT/colorized/NAME with `save_images`."""
    rows_out = []
    for model, net, meta in generators:
        # the model's images replace the old ones only once all are written
        folder = out_dir / COLORIZED / model.name
        with atomic_folder(folder) if save_images else nullcontext() as images_to:
            scores = _score_model(
                net,
                val,
                backbones,
                device,
                batch_size=batch_size,
                train_mode=train_mode,
                precision=precision,
                seed=seed,
                images_to=images_to,
                desc=model.name,
            )
        net.cpu()
        scored = metrics.score_row(
            scores, real_scores, seed=seed, baselines=baselines, device=device
        )
        if scored["identical"]:
            warnings.append(
                f"{model.name}: {scored['identical']} colorized image(s) equal the real ones "
                "exactly (infinite per-image PSNR)"
            )
        images = f"{COLORIZED}/{model.name}" if save_images else None
        rows_out.append(_model_row(model, meta, scored, scores.n, images))
        log(_summary_line(model.name, scored["values"], scores.n))
    return rows_out


def _validation_split(data_dir: str | Path) -> tuple[ImageCache, np.ndarray]:
    cache = ImageCache(data_dir)
    val = cache.split("val")
    if len(val) < 2:
        raise KolorizeError(f"{data_dir} has {len(val)} validation image(s); FID needs at least 2")
    return cache, val


def _reference_rows(
    real_scores: metrics.SetScores,
    baselines: dict[str, metrics.SetScores],
    *,
    seed: int,
    device: torch.device,
    log: Callable[[str], None],
) -> list[Row]:
    """The ground truth's row, then the baselines'."""
    truth = metrics.score_row(
        real_scores, real_scores, seed=seed, baselines=baselines, device=device
    )
    log(_summary_line(GROUND_TRUTH, truth["values"], real_scores.n))
    rows = [
        Row(
            name=GROUND_TRUTH,
            reference=True,
            run_dir=None,
            epoch=None,
            images=None,
            n_images=real_scores.n,
            **truth,
        )
    ]
    return rows + _baseline_rows(baselines, real_scores, seed=seed, device=device, log=log)


def _backbones(
    backbones: Backbones | None,
    weights_dir: str | Path | None,
    require_all: bool,
    size: int,
    log: Callable[[str], None],
) -> Backbones:
    """The scoring networks (given, or located), those that cannot score `size` px left out,
    each missing one said once."""
    if backbones is None:
        backbones = load_backbones(weights_dir, require_all=require_all)
    backbones = _usable(backbones, size)
    for reason in dict.fromkeys(backbones.missing.values()):
        log(f"n/a: {reason}")
    return backbones


def _summary_line(name: str, values: dict[str, float | None], n: int) -> str:
    shown = ", ".join(
        f"{m.label} {m.format(values[m.key])}"
        + (f" (n={n})" if m.key == "fid" and values["fid"] is not None else "")
        for m in metrics.METRICS
    )
    return f"{name}: {shown}"

"""From candidate photos to a training cache: a seeded, reproducible choice of N usable images,
a train/val split, decoded and resized once, streamed to disk with flat memory.

Candidates are visited in a seeded random order and checked one by one until N usable images
are found, so the same sources, N and seed always give the same images and the same split,
whatever the number of worker processes.
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing as mp
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kolorize.data.cache import FORMAT, INFO, CacheWriter, ManifestRow, cache_writer, read_info
from kolorize.data.images import (
    DEFAULT_MIN_SIDE,
    Fit,
    ImageRejected,
    is_grayscale,
    load_rgb,
    resize_photo,
)
from kolorize.data.sources import Candidate, describe_sources
from kolorize.errors import KolorizeError
from kolorize.locks import folder_lock
from kolorize.progress import progress

MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class PrepareRequest:
    size: int = 256
    n: int = 10_000
    val: int = 2_000
    seed: int = 123
    fit: Fit = "stretch"
    min_side: int = DEFAULT_MIN_SIDE

    def validate(self) -> None:
        if self.size < 16:
            raise KolorizeError(f"--size must be at least 16, got {self.size}")
        if self.n < 2:
            raise KolorizeError(f"--n must be at least 2, got {self.n}")
        if not 0 <= self.val < self.n:
            raise KolorizeError(f"--val must be between 0 and n-1 ({self.n - 1}), got {self.val}")
        if not 0 <= self.seed <= MAX_SEED:
            raise KolorizeError(
                f"--seed must be in [0, {MAX_SEED}] (numpy's seeds), got {self.seed}"
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "n": self.n,
            "val": self.val,
            "seed": self.seed,
            "fit": self.fit,
            "min_side": self.min_side,
        }


@dataclass
class Outcome:
    """What one worker made of one candidate."""

    candidate: Candidate
    rgb: np.ndarray | None = None
    sha256: str = ""
    width: int = 0
    height: int = 0
    conversions: tuple[str, ...] = ()
    reason: str = ""
    detail: str = ""


def _process(args: tuple[Candidate, PrepareRequest]) -> Outcome:
    candidate, req = args
    try:
        data = candidate.read_bytes()
    except (OSError, zipfile.BadZipFile) as e:
        return Outcome(candidate, reason="unreadable", detail=str(e))
    digest = hashlib.sha256(data).hexdigest()
    try:
        loaded = load_rgb(data, min_side=req.min_side, draft_size=req.size)
    except ImageRejected as e:
        return Outcome(candidate, sha256=digest, reason=e.reason, detail=e.detail)
    width, height = loaded.original_size
    if loaded.source_is_gray:
        return Outcome(candidate, sha256=digest, reason="grayscale", detail=loaded.source_mode)
    rgb = np.asarray(resize_photo(loaded.image, req.size, req.fit), dtype=np.uint8)
    if is_grayscale(rgb):
        return Outcome(candidate, sha256=digest, reason="grayscale", detail="no colour")
    return Outcome(candidate, rgb, digest, width, height, tuple(loaded.conversions))


def _outcomes(ordered: Sequence[Candidate], req: PrepareRequest, workers: int) -> Iterator[Outcome]:
    jobs = ((c, req) for c in ordered)
    if workers <= 1:
        yield from map(_process, jobs)
        return
    # fork keeps start-up cheap; imap keeps the seeded order, so results never depend on timing.
    ctx = mp.get_context("fork")
    with ctx.Pool(workers) as pool:
        yield from pool.imap(_process, jobs, chunksize=8)


def _split_counts(accepted: int, req: PrepareRequest) -> tuple[int, int]:
    """(train, val): --val as given when --n usable images were found; with fewer, the same
    share of them. A share that rounds to no validation images at all is refused: training
    and evaluation would silently score nothing."""
    if accepted >= req.n:
        return req.n - req.val, req.val
    val = min(round(accepted * req.val / req.n), accepted - 1)
    if val == 0 and req.val > 0:
        raise KolorizeError(
            f"only {accepted} usable images: --val {req.val} of --n {req.n} is a share that "
            f"leaves none of them for validation; ask for --n {accepted} to keep --val as given"
        )
    return accepted - val, val


@dataclass
class _Tally:
    examined: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    converted: Counter[str] = field(default_factory=Counter)


def _collect(
    candidates: Sequence[Candidate],
    limit: int,
    req: PrepareRequest,
    writer: CacheWriter,
    tally: _Tally,
    workers: int,
    bar: Any,
) -> int:
    """Visit candidates in seeded order, writing usable ones until `limit` are written."""
    if limit <= 0 or not candidates:
        return 0
    order = np.random.default_rng(req.seed).permutation(len(candidates))
    ordered = [candidates[i] for i in order]
    written = 0
    with closing(_outcomes(ordered, req, workers)) as outcomes:
        for outcome in outcomes:
            tally.examined += 1
            c = outcome.candidate
            if outcome.rgb is None:
                tally.skipped[outcome.reason] += 1
                writer.skip(c.source, c.relpath, outcome.reason, outcome.detail)
                continue
            row = ManifestRow(
                index=len(writer.rows),
                split="",
                source=c.source,
                path=c.relpath,
                sha256=outcome.sha256,
                width=outcome.width,
                height=outcome.height,
                conversions="+".join(outcome.conversions),
            )
            tally.converted.update(outcome.conversions)
            writer.add(outcome.rgb, row)
            written += 1
            bar.update(1)
            if written == limit:
                break
    return written


def _train_mean_ab(writer: CacheWriter, n_val: int) -> tuple[float, float]:
    """The training photos' mean ab (the evaluation's mean-colour tint), from what was
    written: validation rows come first."""
    # imported here: torch is loaded only once the worker processes are done
    from kolorize.data.colours import train_mean_ab

    return train_mean_ab(writer.written()[n_val:])


def prepare(
    candidates: Sequence[Candidate],
    out: str | Path,
    req: PrepareRequest,
    *,
    val_candidates: Sequence[Candidate] | None = None,
    workers: int | None = None,
    force: bool = False,
    log: Any = print,
) -> dict[str, Any]:
    """Build the cache in `out`; returns its info. Idempotent: an identical finished cache is
    left alone (and reported), a different one needs `force`. One process at a time per `out`:
    a second one is refused with the first one's PID.

    With `val_candidates` the validation images come only from those (e.g. photos kept apart
    from training), the training images only from `candidates`; otherwise one seeded subset of
    `candidates` is split.
    """
    req.validate()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise KolorizeError(f"--out {out} is a file; name a folder for the dataset")
    with folder_lock(out, "preparing"):
        return _prepare_locked(
            candidates,
            out,
            req,
            val_candidates=val_candidates,
            workers=workers,
            force=force,
            log=log,
        )


def _prepare_locked(
    candidates: Sequence[Candidate],
    out: Path,
    req: PrepareRequest,
    *,
    val_candidates: Sequence[Candidate] | None,
    workers: int | None,
    force: bool,
    log: Any,
) -> dict[str, Any]:
    sources = describe_sources(candidates)
    if val_candidates is not None:
        sources += [{**s, "split": "val"} for s in describe_sources(val_candidates)]
    if not candidates:
        raise KolorizeError("no image files found in the given sources")
    if val_candidates is not None and not val_candidates:
        raise KolorizeError("no image files found in the validation sources")
    existing = _existing_dataset(out, req, sources, force)
    if existing is not None:
        log(f"{out} already holds this dataset (same sources and settings): nothing to do")
        return existing

    workers = workers if workers is not None else min(4, mp.cpu_count())
    tally = _Tally()
    started = time.perf_counter()
    total = min(req.n, len(candidates) + len(val_candidates or []))
    with (
        cache_writer(out, req.size) as writer,
        progress(total=total, desc="preparing", unit="img") as bar,
    ):
        collect = functools.partial(
            _collect, req=req, writer=writer, tally=tally, workers=workers, bar=bar
        )
        n_train, n_val = _collect_splits(collect, candidates, val_candidates, req, tally)
        for row in writer.rows:
            row.split = "val" if row.index < n_val else "train"
        mean_ab = _train_mean_ab(writer, n_val)
        elapsed = time.perf_counter() - started
        info = {
            "train": n_train,
            "val": n_val,
            "count": n_train + n_val,
            "seed": req.seed,
            "request": req.as_dict(),
            "sources": sources,
            "candidates": len(candidates) + len(val_candidates or []),
            "examined": tally.examined,
            "skipped": dict(sorted(tally.skipped.items())),
            "converted": dict(sorted(tally.converted.items())),
            "seconds": round(elapsed, 2),
            "mean_ab": list(mean_ab),
        }
        writer.write_index(info)
    _log_prepared(out, req, (n_train, n_val), tally, elapsed, mean_ab, log)
    return read_info(out)


def _existing_dataset(
    out: Path, req: PrepareRequest, sources: list[dict[str, Any]], force: bool
) -> dict[str, Any] | None:
    """The dataset already in `out` when it is this one (and not --force); raises when `out`
    holds something else that may not be overwritten."""
    if (out / INFO).is_file():
        existing = read_info(out)
        same = existing.get("request") == req.as_dict() and existing.get("sources") == sources
        if same and not force:
            return existing
        if not force:
            raise KolorizeError(
                f"{out} already holds a dataset prepared with other sources or settings; "
                "pass --force to rebuild it"
            )
    elif out.exists() and any(out.iterdir()):
        raise KolorizeError(f"{out} exists and is not a kolorize dataset; choose an empty folder")
    return None


def _collect_splits(
    collect: Callable[..., int],
    candidates: Sequence[Candidate],
    val_candidates: Sequence[Candidate] | None,
    req: PrepareRequest,
    tally: _Tally,
) -> tuple[int, int]:
    """(train, val) counts written: one subset split, or validation from its own sources
    (written first, so its rows come first either way)."""
    if val_candidates is None:
        accepted = collect(candidates, req.n)
        if accepted < 2:
            raise KolorizeError(
                f"only {accepted} usable image(s) among {tally.examined} files; need at least 2"
            )
        return _split_counts(accepted, req)
    n_val = collect(val_candidates, req.val)
    if n_val < 1 <= req.val:
        raise KolorizeError("no usable validation images in the validation sources")
    n_train = collect(candidates, req.n - req.val)
    if n_train < 1:
        raise KolorizeError("no usable training images in the given sources")
    return n_train, n_val


def _log_prepared(
    out: Path,
    req: PrepareRequest,
    counts: tuple[int, int],
    tally: _Tally,
    elapsed: float,
    mean_ab: Sequence[float],
    log: Any,
) -> None:
    """Said once the bar is closed, not into it."""
    n_train, n_val = counts
    if n_train + n_val < req.n:
        log(
            f"asked for {req.n} images but only {n_train + n_val} usable ones exist: "
            f"using {n_train} train / {n_val} val"
        )
    log(
        f"prepared {out}: {n_train} train / {n_val} val at {req.size}x{req.size}, "
        f"{sum(tally.skipped.values())} skipped "
        f"({elapsed:.1f} s, {tally.examined / max(elapsed, 1e-9):.0f} files/s); "
        f"training photos' mean colour a = {mean_ab[0]:.2f}, b = {mean_ab[1]:.2f}"
    )


__all__ = ["FORMAT", "PrepareRequest", "prepare"]

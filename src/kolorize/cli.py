"""The `kolorize` command line. Thin on purpose: it parses, then calls the modules that do the
work. Heavy imports (torch) happen inside the commands so `--help` stays instant.

Errors a user can cause end as one line on stderr and exit code 2, never a traceback; a failed
file operation (disk full, no permission, a path through a file) or a missing extra
(`kolorize.extras`) as one line and exit code 1; Ctrl+C as "interrupted" and exit code 130.

Help names each value by what it is (DIR, N, the choices) rather than by Typer's type labels,
and every command takes -q and -h where it is, not only before the command.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from typer.core import TyperArgument, TyperCommand

from kolorize import __version__
from kolorize.errors import KolorizeError, describe_os_error
from kolorize.extras import require_extra
from kolorize.interrupts import watch_interrupts
from kolorize.progress import notice, set_quiet

_HELP = {"help_option_names": ["-h", "--help"]}


class _Argument(TyperArgument):
    """An argument shown by its metavar alone (`INPUT...`), without Typer's type label
    (`<list[str]>`) or its braces in the usage line (`{INPUT...}...`)."""

    def display_type_rich(self, ctx: Any) -> None:
        return None

    def _usage_display_name(self) -> str:
        return self.display_name_raw if self.required else f"[{self.display_name_raw}]"


class _Command(TyperCommand):
    """A command whose arguments are shown as `_Argument`s (Typer builds them itself)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = _Argument


app = typer.Typer(
    name="kolorize",
    help="Colorize black-and-white photos with pix2pix GANs, and reproduce the colorization study.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=_HELP,
)
data_app = typer.Typer(
    help="Prepare training data: photo folders or MS-COCO -> a fast, audited cache.",
    no_args_is_help=True,
    context_settings=_HELP,
)
app.add_typer(data_app, name="data", short_help="Prepare training data (photo folders or COCO).")


def _echo(message: str) -> None:
    typer.echo(message, err=True)


def _quiet(value: bool) -> None:
    if value:
        set_quiet(True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kolorize {__version__}")
        raise typer.Exit()


QuietOpt = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="No progress bars.", callback=_quiet, expose_value=False),
]


@app.callback()
def _root(
    quiet: QuietOpt = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_version,
            is_eager=True,
            expose_value=False,
        ),
    ] = False,
) -> None:
    pass


# -- data ---------------------------------------------------------------------------------

SizeOpt = Annotated[
    int, typer.Option("--size", help="Side of the square cached images, px.", metavar="PX")
]
NOpt = Annotated[int, typer.Option("--n", help="How many usable images to take.", metavar="N")]
ValOpt = Annotated[
    int, typer.Option("--val", help="How many of them go to validation.", metavar="N")
]
SeedOpt = Annotated[
    int, typer.Option("--seed", help="Seed for the subset and the split.", metavar="N")
]
FitOpt = Annotated[
    Literal["stretch", "crop"],
    typer.Option("--fit", help="Stretch to the square (as the study) or centre-crop."),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Rebuild even if OUT holds a different dataset.")
]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", help="Decoding processes (default: CPU count, max 4).", metavar="N"),
]


def _request(size: int, n: int, val: int, seed: int, fit: Literal["stretch", "crop"]):
    from kolorize.data.prepare import PrepareRequest

    return PrepareRequest(size=size, n=n, val=val, seed=seed, fit=fit)


@data_app.command("prepare", cls=_Command)
def data_prepare(
    src: Annotated[
        list[Path],
        typer.Argument(help="Photo folders (searched recursively) or files.", metavar="SRC..."),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the dataset cache.", metavar="DIR")
    ],
    size: SizeOpt = 256,
    n: NOpt = 10_000,
    val: ValOpt = 2_000,
    seed: SeedOpt = 123,
    fit: FitOpt = "stretch",
    val_src: Annotated[
        list[Path] | None,
        typer.Option(
            "--val-src",
            help="Take the validation images only from here (repeatable).",
            metavar="DIR",
        ),
    ] = None,
    force: ForceOpt = False,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Check, subset, split, resize and cache photos from folders."""
    from kolorize.data.prepare import prepare
    from kolorize.data.sources import folder_candidates

    request = _request(size, n, val, seed, fit)
    val_candidates = folder_candidates(val_src) if val_src else None
    prepare(
        folder_candidates(src), out, request,
        val_candidates=val_candidates, workers=workers, force=force, log=_echo,
    )  # fmt: skip


@data_app.command("coco", cls=_Command)
def data_coco(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the dataset cache.", metavar="DIR")
    ],
    split: Annotated[
        Literal["train2017", "val2017"], typer.Option("--split", help="Which COCO zip.")
    ] = "train2017",
    size: SizeOpt = 256,
    n: NOpt = 10_000,
    val: ValOpt = 2_000,
    seed: SeedOpt = 123,
    fit: FitOpt = "stretch",
    download_dir: Annotated[
        Path | None,
        typer.Option(
            "--download-dir",
            help="Where the zip is kept (default: kolorize's cache folder, coco/).",
            metavar="DIR",
        ),
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Download from a mirror.", metavar="URL")
    ] = None,
    md5: Annotated[
        str | None, typer.Option("--md5", help="Expected MD5 of the zip.", metavar="HEX")
    ] = None,
    force: ForceOpt = False,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Download an MS-COCO 2017 image zip (resumable, verified) and build the subset from it."""
    from kolorize.data.coco import coco_candidates, fetch_coco_zip
    from kolorize.data.prepare import prepare

    request = _request(size, n, val, seed, fit)
    zip_path = fetch_coco_zip(split, download_dir, url=url, md5=md5)
    prepare(coco_candidates(zip_path, split), out, request, workers=workers, force=force, log=_echo)


@data_app.command("info", cls=_Command)
def data_info(
    directory: Annotated[Path, typer.Argument(help="A prepared dataset folder.", metavar="DIR")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts.")] = False,
) -> None:
    """Counts, image size and skipped files (by reason) of a prepared dataset."""
    from kolorize.data.cache import read_info

    info = read_info(directory)
    summary = {
        "train": info["train"],
        "val": info["val"],
        "size": info["size"],
        "skipped": info["skipped"],
        "converted": info["converted"],
        "seed": info["seed"],
        "sources": info["sources"],
        "examined": info["examined"],
        "candidates": info["candidates"],
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(
        f"{directory}: {info['train']} train / {info['val']} val at {info['size']}x{info['size']}"
    )
    typer.echo(f"sources: {', '.join(s['name'] + ' (' + s['path'] + ')' for s in info['sources'])}")
    typer.echo(
        f"examined {info['examined']} of {info['candidates']} candidate files, seed {info['seed']}"
    )
    skipped = info["skipped"]
    typer.echo(
        f"skipped: {sum(skipped.values())}" + "".join(f"\n  {k}: {v}" for k, v in skipped.items())
    )
    converted = info["converted"]
    if converted:
        typer.echo("converted:" + "".join(f"\n  {k}: {v}" for k, v in converted.items()))


# -- options shared by the study, evaluation, report and demo commands -------------------

WeightsDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--weights-dir",
        help="Folder with pretrained weight files (AlexNet, InceptionV3) for offline machines.",
        metavar="DIR",
    ),
]
RequireAllOpt = Annotated[
    bool,
    typer.Option(
        "--require-all-metrics",
        help="Fail when a metric's backbone weights are missing, instead of reporting n/a.",
    ),
]
BwOpt = Annotated[
    Path | None,
    typer.Option(
        "--bw", help="A folder of black-and-white photos to colorize in the report.", metavar="DIR"
    ),
]


# -- training ------------------------------------------------------------------------------

SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a config value, e.g. --set train.epochs=2 (repeatable).",
        metavar="KEY=VALUE",
    ),
]
DeterministicOpt = Annotated[
    bool,
    typer.Option(
        "--deterministic", help="Bit-reproducible (same machine and settings); slower on GPUs."
    ),
]
DataOpt = Annotated[Path, typer.Option("--data", help="A prepared dataset folder.", metavar="DIR")]


def _overrides(items: list[str] | None, deterministic: bool) -> dict:
    from kolorize.config import parse_set_options

    parsed = parse_set_options(items or [])
    if deterministic:
        parsed["train.deterministic"] = True
    return parsed


@app.command("train", cls=_Command, short_help="Train one model, resumable at any point.")
def train_command(
    config: Annotated[
        Path,
        typer.Argument(
            help="A run config: a YAML file, or a bundled one by name, e.g. unet_30 "
            "('kolorize configs' lists them).",
            metavar="CONFIG",
        ),
    ],
    data: DataOpt,
    run_dir: Annotated[
        Path | None,
        typer.Option("--run-dir", help="Where the run lives (default runs/NAME).", metavar="DIR"),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --run-dir where it stopped.")
    ] = False,
    allow_data_change: Annotated[
        bool,
        typer.Option("--allow-data-change", help="Let --resume continue on a different dataset."),
    ] = False,
    deterministic: DeterministicOpt = False,
    overrides: SetOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Train one model (L1 pretraining or pix2pix GAN), resumable at any point.

    Multi-GPU: torchrun --nproc-per-node N -m kolorize train ...
    """
    from kolorize.config import load_config
    from kolorize.config_files import find_config

    require_extra("train", "kolorize train")
    from kolorize.train.trainer import train

    config = find_config(config)
    cfg = load_config(config, _overrides(overrides, deterministic))
    target = run_dir or Path("runs") / config.stem
    train(cfg, data, target, resume=resume, allow_data_change=allow_data_change, log=_echo)
    if os.environ.get("RANK", "0") == "0":  # once, not per torchrun process
        _echo(f"run directory: {target}")


@app.command("study", cls=_Command, short_help="Train, evaluate and report a whole study.")
def study_command(
    config: Annotated[
        Path,
        typer.Argument(
            help="A study file, or a bundled one by name, e.g. study_quick ('kolorize configs' "
            "lists them).",
            metavar="STUDY",
        ),
    ],
    data: DataOpt,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the study's runs.", metavar="DIR")
    ],
    deterministic: DeterministicOpt = False,
    overrides: SetOpt = None,
    weights_dir: WeightsDirOpt = None,
    require_all_metrics: RequireAllOpt = False,
    bw: BwOpt = None,
    evaluate: Annotated[
        bool,
        typer.Option("--evaluate/--no-evaluate", help="Score the models and write the report."),
    ] = True,
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            min=1,
            metavar="N",
            help="Runs trained at once, each in its own process, when what they start from is "
            "finished (default: 1 on the CPU; on CUDA as many as its memory allows, up to 4).",
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Train every model of a study in order, then evaluate them and write the report
    (STUDY_DIR/REPORT.md, report.html, metrics.csv). Finished work is skipped, interrupted
    runs resumed, so running it again after a crash finishes the study."""
    from kolorize.config_files import find_config

    require_extra("train", "kolorize study")
    from kolorize.study import run_full_study

    sets = _overrides(overrides, deterministic)
    run_full_study(  # it says where the report is
        find_config(config), data, out, sets,
        weights_dir=weights_dir, require_all=require_all_metrics, bw_dir=bw, evaluate=evaluate,
        parallel=parallel, log=_echo,
    )  # fmt: skip


@app.command("configs", short_help="List the bundled configs, one line each.")
def configs_command() -> None:
    """The study files and run configs that ship with kolorize: 'kolorize study NAME' and
    'kolorize train NAME' take them by name from any folder."""
    from kolorize.config_files import bundled_configs

    found = bundled_configs()
    width = max(len(c.name) for c in found)
    for c in found:
        typer.echo(f"{c.name:<{width}}  {c.kind:<5}  {c.summary}")


# -- evaluation and report ------------------------------------------------------------------


@app.command("evaluate", cls=_Command, short_help="Score models on the validation split.")
def evaluate_command(
    runs: Annotated[
        list[Path],
        typer.Argument(help="Run directories (or generator.safetensors files).", metavar="RUN..."),
    ],
    data: DataOpt,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for metrics.json/.csv.", metavar="DIR")
    ],
    weights_dir: WeightsDirOpt = None,
    require_all: RequireAllOpt = False,
    save_images: Annotated[
        bool, typer.Option("--save-images", help="Also save the colorized images (PNG).")
    ] = False,
    train_mode: Annotated[
        bool,
        typer.Option(
            "--train-mode",
            help="Colorize with pix2pix's train-mode dropout/BatchNorm (default: model.eval()).",
        ),
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Images per model call.", metavar="N")
    ] = 32,
    precision: Annotated[
        Literal["fp32", "bf16", "auto"],
        typer.Option(
            "--precision",
            help="The generators' forward pass: fp32 (the study's numbers), bf16, or auto "
            "(bf16 on CUDA): bf16 is faster but moves the metrics.",
        ),
    ] = "fp32",
    quiet: QuietOpt = False,
) -> None:
    """Score models on the validation split: PSNR, SSIM, LPIPS, FID, IS, Colorfulness (+ KID),
    with the ground truth as the reference row."""
    require_extra("train", "kolorize evaluate")
    from kolorize.evaluate import evaluate_runs

    evaluate_runs(
        runs, data, out, weights_dir=weights_dir, require_all=require_all,
        save_images=save_images, train_mode=train_mode, batch_size=batch_size,
        precision=precision, log=_echo,
    )  # fmt: skip


@app.command("report", cls=_Command, short_help="Write REPORT.md and report.html.")
def report_command(
    study_dir: Annotated[
        Path, typer.Argument(help="The folder 'kolorize evaluate' wrote to.", metavar="DIR")
    ],
    bw: BwOpt = None,
) -> None:
    """Write REPORT.md and a self-contained report.html: table, charts, curves, image grids."""
    require_extra("train", "kolorize report")
    from kolorize.report import write_report

    write_report(study_dir, bw_dir=bw, log=_echo)


# -- colorizing for people ------------------------------------------------------------------

ModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--model", "-m",
        help="A run directory, generator.safetensors or .onnx file "
        "(default: the colorizer that ships with kolorize).",
        metavar="PATH",
    ),
]  # fmt: skip
DeviceOpt = Annotated[
    str | None,
    typer.Option(
        "--device", help="Where the model runs (default: cuda if present).",
        metavar="cpu|cuda|cuda:N",
    ),
]  # fmt: skip
PrecisionOpt = Annotated[
    Literal["auto", "fp32", "bf16"],
    typer.Option(
        "--precision",
        help="auto: bf16 on CUDA and on CPUs with AMX (bf16 matrix units), else fp32.",
    ),
]
RenderSizeOpt = Annotated[
    int | None,
    typer.Option(
        "--render-size",
        min=1,
        metavar="PX",
        help="Side (px) at which colour is predicted, rounded to what the network accepts "
        "(default: the model's training size). Larger: finer colour, slower.",
    ),
]
DEFAULT_TEMPORAL = 0.7  # kolorize.video.temporal.DEFAULT_STRENGTH, without importing numpy here


def _sleeping_thread_waits() -> None:
    """Before torch loads: OpenMP threads that wait by sleeping, not spinning. Where other work
    holds the cores (a training run), spinning threads burn the little CPU time the colorizer
    gets: one photo took ten times as long (benchmarks/README.md, start-up). A setting of the
    user's own is kept."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@app.command(
    "colorize", cls=_Command, short_help="Colorize photos and videos at their full resolution."
)
def colorize_command(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Photos, videos, folders (searched recursively) or glob patterns.",
            metavar="INPUT...",
        ),
    ],
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="Output folder (a trailing / says so), or a file name for one photo.",
            metavar="PATH",
        ),
    ],
    model: ModelOpt = None,
    fmt: Annotated[
        Literal["auto", "png", "jpg", "webp", "tiff"],
        typer.Option("--format", help="The output format; auto keeps the input's (else png)."),
    ] = "auto",
    side_by_side: Annotated[
        bool,
        typer.Option(
            "--side-by-side",
            help="Write gray | colorized (original | colorized for colour photos).",
        ),
    ] = False,
    skip_existing: Annotated[
        bool,
        typer.Option(
            "--skip-existing",
            help="Leave out inputs whose output already exists (a big folder run again).",
        ),
    ] = False,
    quality: Annotated[
        int, typer.Option("--quality", min=1, max=100, help="JPEG/WebP quality.", metavar="1-100")
    ] = 95,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size", min=1, help="Photos (video frames) per model call.", metavar="N"
        ),
    ] = 4,
    device: DeviceOpt = None,
    precision: PrecisionOpt = "auto",
    render_size: RenderSizeOpt = None,
    temporal: Annotated[
        float,
        typer.Option(
            "--temporal",
            min=0,
            max=0.95,
            help="Videos: how strongly colour is carried across the frames of a shot "
            "(0 = each frame alone).",
            metavar="0-0.95",
        ),
    ] = DEFAULT_TEMPORAL,
    hint: Annotated[
        list[str] | None,
        typer.Option(
            "--hint",
            help="A colour you know, at a point of the photo in its own upright pixels, e.g. "
            "412,230=#2f5aa8 or 90,40=red (any colour Pillow reads; repeatable). One photo "
            "only, and a model trained with hints.",
            metavar="X,Y=COLOUR",
        ),
    ] = None,
    hints_file: Annotated[
        Path | None,
        typer.Option(
            "--hints",
            help="Hints from a JSON file: a list of objects with x, y, color and an optional "
            "radius (what the web page's hints download holds); adds to --hint.",
            metavar="FILE",
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Colorize photos and videos at their full resolution. Videos (with
    'pip install kolorize[video]') keep their sound, frame rate, size and rotation.
    Hints (--hint, --hints) tell the model colours you know, for a single photo.

    Exit codes: 0 all photos and videos written; 1 some could not be read or written (each
    is named on stderr, the others are done); 2 a usage error (bad model, path or option,
    an output that would overwrite an input); 130 interrupted.
    """
    _sleeping_thread_waits()
    from kolorize.photo_files import colorize_photos, find_inputs, format_name
    from kolorize.video.files import colorize_videos, is_photo_or_video, plan_media

    hints = _user_hints(hint or [], hints_file)  # a bad hint is said before any other work
    folder = out.endswith(("/", os.sep))  # Path() drops the slash: 'out/a.png/' is a folder
    found = find_inputs(inputs, skip_under=Path(out), accept=is_photo_or_video)
    jobs, video_jobs = plan_media(found, Path(out), format_name(fmt), folder=folder)
    if hints and (len(jobs) != 1 or video_jobs):
        given = f"{len(jobs)} photos" + (f" and {len(video_jobs)} videos" if video_jobs else "")
        raise KolorizeError(
            f"--hint and --hints are for one photo (x,y are its pixels), but {given} were given"
        )
    if skip_existing:
        jobs, video_jobs = _not_written_yet(jobs), _not_written_yet(video_jobs)
        if not jobs and not video_jobs:
            raise typer.Exit(0)
    notice("loading the colorizer...")  # the import and the model take seconds: say so first
    from kolorize.inference.colorizer import Colorizer  # torch: once the plan is known good

    colorizer = Colorizer.load(
        model, device, batch_size=batch_size, precision=precision, render_size=render_size
    )
    colorizer.check_hints(hints)  # a model without hint inputs: before the photo is read
    report = colorize_photos(
        colorizer, jobs, compare=side_by_side, quality=quality, hints=hints, log=_echo
    )
    if jobs:
        where = jobs[0].target if len(jobs) == 1 and not video_jobs else out
        stopped = " before it was interrupted" if report.interrupted else ""
        _echo(_summary(len(report.done), len(jobs), "photos", where) + stopped)
    if report.interrupted:
        raise typer.Exit(report.exit_code)
    videos = colorize_videos(colorizer, video_jobs, temporal=temporal, log=_echo)
    if video_jobs:
        where = video_jobs[0].target if len(video_jobs) == 1 else out
        _echo(_summary(len(videos.done), len(video_jobs), "videos", where))
    failed = report.failed + videos.failed
    if failed:
        _echo(f"{len(failed)} failed: " + ", ".join(str(p) for p, _ in failed))
    raise typer.Exit(max(report.exit_code, videos.exit_code))


def _user_hints(texts: list[str], path: Path | None) -> list:
    """--hint X,Y=COLOUR options and a --hints file -> kolorize Hints (torch is loaded only
    when there are some)."""
    if not texts and path is None:
        return []
    from kolorize.inference.user_hints import load_hints, parse_hint

    return [parse_hint(t) for t in texts] + (load_hints(path) if path is not None else [])


def _not_written_yet(jobs: list) -> list:
    """The jobs whose output does not exist yet, having said how many were left out."""
    todo = [job for job in jobs if not job.target.exists()]
    skipped = len(jobs) - len(todo)
    if skipped:
        kind = "video" if type(jobs[0]).__name__ == "VideoJob" else "photo"
        _echo(f"skipping {skipped} {kind}{'s' * (skipped > 1)} whose output exists")
    return todo


def _summary(done: int, total: int, noun: str, where: str | Path) -> str:
    """'colorized 2 of 3 photos into out'; where nothing was written, no file is named."""
    return f"colorized {done} of {total} {noun}" + (f" into {where}" if done else "")


@app.command("export", cls=_Command, short_help="Export a generator as ONNX.")
def export_command(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="The file to write, e.g. model.onnx.", metavar="FILE"),
    ],
    model: Annotated[
        Path | None,
        typer.Argument(
            help="A run directory or generator.safetensors (default: the shipped colorizer).",
            metavar="MODEL",
        ),
    ] = None,
    fmt: Annotated[Literal["onnx"], typer.Option("--format", help="The file format.")] = "onnx",
) -> None:
    """Export a generator for other runtimes (ONNX: dynamic batch and image size)."""
    require_extra("export", "kolorize export")
    from kolorize.export import export_onnx
    from kolorize.models.files import DEFAULT_MODEL

    _echo(f"wrote {export_onnx(model or DEFAULT_MODEL, out)}")


@app.command("serve", cls=_Command, short_help="A web page to colorize photos.")
def serve_command(
    model: ModelOpt = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on.", metavar="ADDRESS")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port.", metavar="N")
    ] = 8000,
    max_mb: Annotated[
        float, typer.Option("--max-mb", min=0.1, help="Largest upload accepted.", metavar="MB")
    ] = 20,
    device: DeviceOpt = None,
    precision: PrecisionOpt = "auto",
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="Another host name the page answers to, e.g. behind a proxy (repeatable).",
            metavar="NAME",
        ),
    ] = None,
    max_active: Annotated[
        int,
        typer.Option(
            "--max-active", min=1, help="Photos in progress before 'busy' (503).", metavar="N"
        ),
    ] = 8,
    request_timeout: Annotated[
        float,
        typer.Option(
            "--request-timeout", min=1, help="Seconds a client has to upload.", metavar="S"
        ),
    ] = 60,
) -> None:
    """A web page to colorize photos: upload (or drop) a photo, compare, download.

    Listens on 127.0.0.1 only unless --host says otherwise; see 'Exposing the web page' in
    the README before using --host 0.0.0.0."""
    require_extra("serve", "kolorize serve")
    _sleeping_thread_waits()
    from kolorize.inference.colorizer import Colorizer
    from kolorize.serve import serve

    serve(
        functools.partial(Colorizer.load, model, device, precision=precision),
        host=host,
        port=port,
        max_bytes=int(max_mb * 2**20),
        allow_hosts=allow_host or (),
        max_active=max_active,
        request_timeout=request_timeout,
        log=_echo,
    )


# -- demo -----------------------------------------------------------------------------------


@app.command("demo", cls=_Command, short_help="The whole study at small scale, offline.")
def demo_command(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder for everything the demo makes.", metavar="DIR"),
    ] = Path("demo"),
    bw: BwOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """The whole study end to end at small scale, offline: crops of scikit-image's sample
    photos, the five models at 64x64 on the CPU, metrics and the report (a few minutes)."""
    require_extra("train", "kolorize demo")
    from kolorize.demo import run_demo

    html = run_demo(out, bw_dir=bw, log=_echo)
    _echo(f"demo finished: open {html} (or read {html.with_name('REPORT.md')})")


# -- entry point --------------------------------------------------------------------------


def _is_usage_error(e: Exception) -> bool:
    # Click's errors (Typer may vendor its own copy of click) all carry these two attributes.
    return hasattr(e, "format_message") and hasattr(e, "exit_code")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning user errors into one line and exit code 2."""
    interrupt = watch_interrupts()
    try:
        code = app(args=argv, prog_name="kolorize", standalone_mode=False)
        if code == 130 and interrupt.seen:
            _echo("interrupted")
    except typer.Exit as e:
        code = e.exit_code
    except typer.Abort:
        _echo("aborted")
        code = 130
    except KolorizeError as e:
        _echo(f"error: {e}")
        code = e.exit_code
    except KeyboardInterrupt:
        _echo("interrupted")
        code = 130
    except OSError as e:
        _echo(f"error: {describe_os_error(e)}")
        code = 1
    except Exception as e:
        if not _is_usage_error(e):
            raise
        if type(e).__name__ == "NoArgsIsHelpError":  # bare `kolorize` or `kolorize data`
            typer.echo(e.format_message())  # type: ignore[attr-defined]
            sys.exit(0)
        ctx = getattr(e, "ctx", None)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        _echo(f"error: {e.format_message()}{where}")  # type: ignore[attr-defined]
        code = 2
    finally:
        interrupt.restore()
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

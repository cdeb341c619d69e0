import csv
import json
from pathlib import Path

import pytest

from helpers.cli import run_cli
from helpers.evaluation import as_written_before_the_yardsticks
from kolorize.data.cache import ImageCache

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "configs" / "study_quick.yaml"
SIX = ("psnr", "ssim", "lpips", "fid", "is", "colorfulness")


def test_study_trains_scores_reports_and_a_rerun_does_nothing(tiny_dataset, tmp_path):
    out = tmp_path / "S"
    first = run_cli("study", str(QUICK), "--data", str(tiny_dataset), "--out", str(out))
    assert first.code == 0, first.err
    for name in ("U-Net_30", "Vanilla_GAN_20", "LS_GAN_20", "LS_GAN_30", "VANILLA_LOW_LAMBDA_20"):
        assert (out / name / "generator.safetensors").is_file()
    assert json.loads((out / "LS_GAN_30" / "run.json").read_text())["epoch"] == 2
    assert (out / "REPORT.md").is_file() and (out / "report.html").is_file()
    assert first.err.count("report: ") == 1 and str(out / "report.html") in first.err

    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8  # the ground truth, the gray image, the tint, five models
    header = " ".join(rows[0]).lower()
    assert all(metric in header for metric in SIX)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["missing"]) >= {"lpips", "fid", "is"}  # no weights on this machine
    assert all("weights" in reason or ".pth" in reason for reason in metrics["missing"].values())

    again = run_cli("study", str(QUICK), "--data", str(tiny_dataset), "--out", str(out))
    assert again.code == 0, again.err
    assert "nothing to train" in again.err and "nothing to evaluate" in again.err
    assert "report is up to date" in again.err

    # scores from before the baselines and hue metrics existed are scored again
    old = as_written_before_the_yardsticks(metrics)
    (out / "metrics.json").write_text(json.dumps(old))
    rescored = run_cli("study", str(QUICK), "--data", str(tiny_dataset), "--out", str(out))
    assert rescored.code == 0, rescored.err
    assert "nothing to evaluate" not in rescored.err and "Mean-colour tint: " in rescored.err
    assert "beats_tint" in json.loads((out / "metrics.json").read_text())["rows"][-1]["values"]


def test_a_bundled_study_runs_by_name_from_an_empty_folder_and_no_evaluate_only_trains(
    tiny_dataset, tmp_path
):
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    out = tmp_path / "S"
    args = ["study", "study_quick", "--data", str(tiny_dataset), "--out", str(out),
            "--no-evaluate", "--set", "train.epochs=1"]  # fmt: skip
    result = run_cli(*args, cwd=empty)
    assert result.code == 0, result.err
    assert not (out / "metrics.json").exists() and (out / "U-Net_30" / "run.json").is_file()
    assert list(empty.iterdir()) == []


@pytest.mark.slow
def test_demo_end_to_end_on_held_out_scenes(tmp_path):
    from kolorize.demo import VAL_PHOTOS, run_demo

    html = run_demo(tmp_path / "demo", train_crops=48, val_crops=16, study_file=QUICK, log=print)
    assert html == tmp_path / "demo" / "report.html" and html.is_file()
    assert (tmp_path / "demo" / "REPORT.md").is_file()
    manifest = ImageCache(tmp_path / "demo" / "data").manifest()
    val = [r["path"] for r in manifest if r["split"] == "val"]
    assert len(val) == 16 and all(p.startswith(VAL_PHOTOS) for p in val)
    assert not any(r["path"].startswith(VAL_PHOTOS) for r in manifest if r["split"] == "train")
    report = (tmp_path / "demo" / "REPORT.md").read_text()
    assert "camera" in report
    # the packaged colorizer's gray | colour sheets, one per black-and-white photo
    sheets = sorted(p.name for p in (tmp_path / "demo" / "shipped_colorizer").iterdir())
    assert sheets == ["camera.jpg", "clock.jpg", "coins.jpg"]

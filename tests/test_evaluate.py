"""Evaluating runs: the ground-truth row, one Inception pass per image set, metrics.json/.csv,
n/a with the reason when weights are missing, and the command line."""

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from evalhelp import SmallInception, train_tiny_runs
from kolorize.cli import main
from kolorize.data.cache import ImageCache
from kolorize.errors import KolorizeError
from kolorize.evaluate import evaluate_runs
from kolorize.evaluate import metrics as M
from kolorize.evaluate.backbones import Backbones, write_random_weights
from kolorize.evaluate.results import read_results
from kolorize.inference.tensors import colorize_tensors, to_nchw
from kolorize.models.files import load_generator
from kolorize.weights import WEIGHTS

SIX = ("psnr", "ssim", "lpips", "fid", "is", "colorfulness")


def _quiet(_msg):
    pass


@pytest.fixture(scope="module")
def runs(tiny_dataset, tmp_path_factory):
    return train_tiny_runs(tiny_dataset, tmp_path_factory.mktemp("study"))


def _val(data) -> torch.Tensor:
    return to_nchw(ImageCache(data).split("val"), torch.device("cpu"))


def test_ground_truth_row_and_one_inception_pass_per_image_set(runs, tiny_dataset, tmp_path):
    inception = SmallInception()
    results = evaluate_runs(
        runs, tiny_dataset, tmp_path, backbones=Backbones(inception=inception), log=_quiet
    )
    real = _val(tiny_dataset)
    n = len(real)
    # the real photos once (their features serve every model), then each colorized set once
    assert inception.images_seen == n * (1 + len(runs))

    truth, *models = results.rows
    assert truth.name == "Ground truth" and truth.reference and truth == results.reference
    v = truth.values
    assert v["psnr"] == float("inf")
    assert v["ssim"] == pytest.approx(1.0, abs=5e-5)
    assert v["fid"] == pytest.approx(0.0, abs=1e-6)
    r, g, b = real.double().unbind(1)
    rg, yb = (r - g).flatten(1).numpy(), (0.5 * (r + g) - b).flatten(1).numpy()
    expected = np.hypot(rg.std(1), yb.std(1)) + 0.3 * np.hypot(rg.mean(1), yb.mean(1))
    assert v["colorfulness"] == pytest.approx(expected.mean(), rel=1e-9)
    with torch.no_grad():
        real_pool, real_logits = SmallInception()(real)
    assert v["is"] == pytest.approx(M.inception_score(real_logits.double(), seed=0)[0])

    assert [m.name for m in models] == ["U-Net_1", "GAN_1"] and models == results.models
    for row in models:
        assert np.isfinite(row.values["psnr"]) and row.values["ssim"] < 1
        assert row.values["fid"] > 0 and row.values["lpips"] is None
        assert set(row.per_image) == {"psnr", "ssim", "colorfulness"}
        assert row.per_image["psnr"]["ci95_low"] <= row.per_image["psnr"]["mean"]
    # FID of a model equals FID computed from scratch on its colorizations
    net = load_generator(runs[1])[0]
    with torch.no_grad():
        fake_pool, _ = SmallInception()(colorize_tensors(net, real))
    assert models[1].values["fid"] == pytest.approx(
        M.frechet_distance(real_pool.double(), fake_pool.double()), rel=1e-6
    )
    assert "lpips" in results.missing and "fid" not in results.missing
    assert any("FID on 8 images" in w for w in results.warnings)


def test_generators_run_in_fp32_unless_bf16_is_asked(runs, tiny_dataset, monkeypatch):
    import kolorize.inference.tensors as colorize_module

    asked: list[str] = []
    original = colorize_module.autocast

    def recording_autocast(device, precision="fp32", **kwargs):
        asked.append(precision)
        return original(device, precision, **kwargs)

    monkeypatch.setattr(colorize_module, "autocast", recording_autocast)
    net, real = load_generator(runs[0])[0].eval(), _val(tiny_dataset)[:2]
    colorize_tensors(net, real)
    colorize_tensors(net, real, precision="bf16")
    assert asked == ["fp32", "bf16"]


def test_metrics_files_hold_every_metric_with_na_and_reason(runs, tiny_dataset, tmp_path):
    reason = "alexnet-owt-7be5be79.pth (LPIPS) not found; put it in /somewhere"
    backbones = Backbones(inception=SmallInception(), missing={"lpips": reason})
    results = evaluate_runs(runs, tiny_dataset, tmp_path, backbones=backbones, log=_quiet)
    assert read_results(tmp_path) == results  # infinite PSNR and n/a included
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["model"] for r in rows] == ["Ground truth", "U-Net_1", "GAN_1"]
    for row in rows:
        assert all(row[k] for k in SIX) and row["lpips"] == "n/a"
        assert f"LPIPS n/a: {reason}" in row["notes"]
        assert float(row["fid"]) > -1e-6 and row["n_images"] == "8"
    assert rows[0]["psnr"] == rows[0]["psnr_pooled"] == "inf"
    for row in rows[1:]:  # the mean of per-image PSNR, and the pooled one beside it
        assert float(row["psnr"]) > float(row["psnr_pooled"]) > 0
    data = json.loads((tmp_path / "metrics.json").read_text())  # strict JSON: no Infinity
    assert data["autocast"] == "none (fp32)"
    assert data["rows"][0]["values"]["psnr"] == "inf"
    assert data["missing"] == {"lpips": reason}
    assert data["inference_mode"] == "eval" and data["n_images"] == 8


def test_saved_images_are_the_colorizations(runs, tiny_dataset, tmp_path):
    evaluate_runs(runs[:1], tiny_dataset, tmp_path, backbones=Backbones(), save_images=True,
                  batch_size=3, log=_quiet)  # fmt: skip
    files = sorted((tmp_path / "colorized" / "U-Net_1").glob("*.png"))
    assert [f.name for f in files] == [f"{i:05d}.png" for i in range(8)]
    expected = colorize_tensors(load_generator(runs[0])[0], _val(tiny_dataset))
    saved = torch.from_numpy(np.stack([np.asarray(Image.open(f)) for f in files]))
    assert torch.equal(saved.permute(0, 3, 1, 2), expected)
    assert not list((tmp_path / "colorized").glob(".*"))


def test_train_mode_is_recorded_and_repeatable(runs, tiny_dataset, tmp_path):
    first = evaluate_runs(runs[:1], tiny_dataset, tmp_path / "a", backbones=Backbones(),
                          train_mode=True, log=_quiet)  # fmt: skip
    again = evaluate_runs(runs[:1], tiny_dataset, tmp_path / "b", backbones=Backbones(),
                          train_mode=True, log=_quiet)  # fmt: skip
    evaluated = evaluate_runs(runs[:1], tiny_dataset, tmp_path / "c", backbones=Backbones(),
                              log=_quiet)  # fmt: skip
    assert first.inference_mode == "train" and evaluated.inference_mode == "eval"
    assert first.rows[1].values == again.rows[1].values
    assert first.rows[1].values["psnr"] != evaluated.rows[1].values["psnr"]


def test_study_folder_glob_skips_results_and_rejects_bad_runs(runs, tiny_dataset, tmp_path):
    # what `kolorize evaluate S/*` sees once S holds results: files and folders that are no runs
    (tmp_path / "metrics.json").write_text("{}")
    (tmp_path / "colorized").mkdir()
    messages = []
    paths = [*runs, tmp_path / "metrics.json", tmp_path / "colorized"]
    results = evaluate_runs(paths, tiny_dataset, tmp_path / "out", backbones=Backbones(),
                            log=messages.append)  # fmt: skip
    assert [r.name for r in results.rows] == ["Ground truth", "U-Net_1", "GAN_1"]
    assert sum("skipping" in m for m in messages) == 2
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "run.json").write_text("{}")
    bad = tmp_path / "bad"
    with pytest.raises(KolorizeError, match=r"holds no generator\.safetensors"):
        evaluate_runs([unfinished], tiny_dataset, bad, backbones=Backbones(), log=_quiet)
    with pytest.raises(KolorizeError, match="no such run directory"):
        evaluate_runs([tmp_path / "nope"], tiny_dataset, bad, log=_quiet)
    with pytest.raises(KolorizeError, match="no run directories"):
        evaluate_runs([tmp_path / "colorized"], tiny_dataset, bad, log=_quiet)
    with pytest.raises(KolorizeError, match="not a prepared dataset"):
        evaluate_runs(runs, tmp_path, bad, backbones=Backbones(), log=_quiet)
    assert not bad.exists()


def test_cli_offline_reports_na_with_the_reason(runs, tiny_dataset, tmp_path, offline, capsys):
    with pytest.raises(SystemExit) as e:
        main(["-q", "evaluate", *map(str, runs), "--data", str(tiny_dataset), "--out",
              str(tmp_path)])  # fmt: skip
    assert e.value.code == 0
    err = capsys.readouterr().err
    assert f"{tmp_path / 'metrics.csv'}" in err
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    for row in rows:
        assert row["lpips"] == row["fid"] == row["is"] == row["kid"] == "n/a"
        assert row["psnr"] and row["ssim"] and row["colorfulness"] not in ("", "n/a")
        assert WEIGHTS["alexnet"].filename in row["notes"]
        assert WEIGHTS["inception"].filename in row["notes"]


def test_cli_require_all_metrics_is_one_line_exit_2(runs, tiny_dataset, tmp_path, offline, capsys):
    with pytest.raises(SystemExit) as e:
        main(["evaluate", str(runs[0]), "--data", str(tiny_dataset), "--out", str(tmp_path),
              "--require-all-metrics"])  # fmt: skip
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert WEIGHTS["alexnet"].filename in err[0]
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.slow
def test_cli_with_a_weights_dir_gives_every_metric(runs, tiny_dataset, tmp_path, offline, capsys):
    weights = tmp_path / "weights"
    write_random_weights("alexnet", weights)
    write_random_weights("inception", weights)
    with pytest.raises(SystemExit) as e:
        main(["-q", "evaluate", str(runs[0]), "--data", str(tiny_dataset), "--out",
              str(tmp_path), "--weights-dir", str(weights), "--require-all-metrics"])  # fmt: skip
    assert e.value.code == 0
    err = capsys.readouterr().err
    assert "FID on 8 images (< 2048)" in err and "(n=8)" in err
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        assert all(row[k] != "n/a" for k in (*SIX, "kid")) and row["notes"] == ""
    assert float(rows[0]["lpips"]) == pytest.approx(0.0, abs=1e-6)
    assert float(rows[0]["fid"]) == pytest.approx(0.0, abs=1e-3)
    assert float(rows[1]["lpips"]) > 0 and float(rows[1]["fid"]) > 0

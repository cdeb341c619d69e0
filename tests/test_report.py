"""The report: REPORT.md with its pictures, a self-contained report.html, and how a browser
shows it."""

import base64
import io
import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from helpers.cli import run_cli
from helpers.evaluation import SmallInception, as_written_before_the_yardsticks, train_tiny_runs
from kolorize.errors import KolorizeError
from kolorize.evaluate import evaluate_runs
from kolorize.evaluate.backbones import Backbones, build_lpips, write_random_weights
from kolorize.evaluate.results import NOT_MEASURED, read_results
from kolorize.report import write_report

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def _quiet(_msg):
    pass


@pytest.fixture(scope="module")
def study(tiny_dataset, tmp_path_factory):
    """Two tiny trained runs, evaluated with every metric (small random backbones)."""
    root = tmp_path_factory.mktemp("study")
    runs = train_tiny_runs(tiny_dataset, root)
    alexnet = write_random_weights("alexnet", tmp_path_factory.mktemp("weights"))
    backbones = Backbones(inception=SmallInception(), lpips=build_lpips(alexnet))
    evaluate_runs(runs, tiny_dataset, root, backbones=backbones, log=_quiet)
    return root


@pytest.fixture(scope="module")
def offline_study(study, tmp_path_factory):
    """The same runs evaluated where no backbone weights exist: LPIPS/FID/IS/KID n/a."""
    root = tmp_path_factory.mktemp("offline")
    runs = [study / "U-Net_1", study / "GAN_1"]
    reasons = {
        "lpips": "alexnet-owt-7be5be79.pth (LPIPS) not found; put it in W",
        "inception": "weights-inception-2015-12-05-6726825d.pth (FID) not found; put it in W",
    }
    data = read_results(study).data
    evaluate_runs(runs, data, root, backbones=Backbones(missing=reasons), log=_quiet)
    return root


def _images(page_html: str) -> list[bytes]:
    sources = re.findall(r"<img [^>]*src='([^']+)'", page_html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    return [base64.b64decode(s.split(",", 1)[1]) for s in sources]


def test_report_files_table_marks_and_pictures(study):
    md_path, html_path = write_report(study, log=_quiet)
    assert md_path == study / "REPORT.md" and html_path == study / "report.html"
    md = md_path.read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Model |"))
    for label in ("PSNR (dB) ↑", "SSIM ↑", "LPIPS ↓", "FID (n=8) ⚠ ↓", "IS ↑", "Colorfulness ≈",
                  "Beats gray (%) ↑", "Beats tint (%) ↑", "Hue accuracy (%) ↑"):  # fmt: skip
        assert label in header
    rows = [line for line in md.splitlines() if line.startswith("| ")][1:6]
    assert rows[0].startswith("| *Ground truth (reference)* | ∞ | 100.0 | 100.0 | 1.0000 |")
    assert rows[1].startswith("| *Gray image (baseline)* |")
    assert rows[2].startswith("| *Mean-colour tint (baseline)* |")
    assert rows[1].split(" | ")[2] == "–" and rows[2].split(" | ")[3] == "–"  # not vs itself
    assert sum(row.count("★") for row in rows) == 10  # one best model per metric column
    assert "★" not in rows[0] + rows[1] + rows[2]  # yardsticks, not contenders
    assert "### Hue accuracy by sector" in md
    assert "| Model | Reds | Yellows | Greens | Cyans | Blues | Magentas |" in md
    assert "by definition" in md and "not a measurement" in md  # the ground truth's figures
    assert "Mean-colour tint: its own L with every pixel at the training split's mean" in md
    for name in re.findall(r"\]\((report_assets/[^)]+)\)", md):
        Image.open(study / name).verify()
    assert "FID on 8 images" in md

    page = html_path.read_text()
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    assert "<script" not in page and "<link" not in page
    pictures = _images(page)
    for png in pictures:
        Image.open(io.BytesIO(png)).verify()
    # 10 bar charts, the training curves and the validation grid
    assert len(pictures) == 12
    assert page.count('<td class="best">') == 10
    assert "Ground truth (reference)" in page and "U-Net_1" in page and "GAN_1" in page
    assert page.count('<tr class="baseline">') == 2 * 2  # the results and the sector tables
    assert 'id="hue-sectors"' in page


def test_na_metrics_show_their_reason(offline_study):
    _, html_path = write_report(offline_study, log=_quiet)
    md = (offline_study / "REPORT.md").read_text()
    assert "n/a [1]" in md and "n/a [2]" in md
    assert "- [1] n/a (LPIPS): alexnet-owt-7be5be79.pth (LPIPS) not found; put it in W" in md
    assert "- [2] n/a (FID, IS, KID): weights-inception-2015-12-05-6726825d.pth" in md
    page = html_path.read_text()
    assert "alexnet-owt-7be5be79.pth (LPIPS) not found" in page
    assert "No charts for LPIPS, FID, IS, KID" in page
    # PSNR, beats gray, beats tint, SSIM, Colorfulness, hue accuracy charts; curves; grid
    assert len(_images(page)) == 6 + 2


def test_an_older_metrics_json_still_renders(study, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(study, old)
    data = json.loads((study / "metrics.json").read_text())
    (old / "metrics.json").write_text(json.dumps(as_written_before_the_yardsticks(data)))
    results = read_results(old)
    assert results.baselines == [] and results.tint_ab is None
    assert results.not_measured == ["beats_gray", "beats_tint", "hue"]
    md_path, html_path = write_report(old, log=_quiet)
    md = md_path.read_text()
    rows = [line for line in md.splitlines() if line.startswith("| ")][1:4]
    assert [r.split(" | ")[0] for r in rows] == ["| *Ground truth (reference)*", "| U-Net_1",
                                                 "| GAN_1"]  # fmt: skip
    assert sum(row.count("★") for row in rows) == 7  # the metrics it has
    mark = next(i for i, (reason, _) in enumerate(results.missing_by_reason())
                if reason == NOT_MEASURED) + 1  # fmt: skip
    assert rows[1].split(" | ")[2] == f"n/a [{mark}]"
    assert f"n/a (Beats gray (%), Beats tint (%), Hue accuracy (%)): {NOT_MEASURED}" in md
    assert "Hue accuracy by sector" not in md and "by definition" not in md
    page = html_path.read_text()
    assert len(_images(page)) == 7 + 2  # the old metrics' charts; curves; grid
    assert 'class="baseline"' not in page and "No charts for Beats gray (%)" in page


def test_every_chart_draws_the_baselines_beside_the_models(study, monkeypatch):
    from kolorize.evaluate.metrics import METRICS
    from kolorize.report import _bar_figures, plots

    results = read_results(study)
    drawn: dict[str, dict] = {}
    real = plots.metric_bars

    def recording(metric, values, reference, best, colors, baselines=None):
        drawn[metric.key] = baselines
        assert best not in baselines and set(values) == {"U-Net_1", "GAN_1"}
        return real(metric, values, reference, best, colors, baselines)

    monkeypatch.setattr(plots, "metric_bars", recording)
    colors = {**plots.baseline_colors(["Gray image", "Mean-colour tint"]),
              **plots.model_colors(["U-Net_1", "GAN_1"])}  # fmt: skip
    figures = _bar_figures(results, colors)
    assert [f.name for f in figures] == [f"metric_{m.key}.png" for m in METRICS]
    for key, baselines in drawn.items():
        assert set(baselines) == {"Gray image", "Mean-colour tint"}, key
    assert drawn["beats_gray"]["Gray image"] is None  # no bar: not compared with itself
    assert drawn["beats_gray"]["Mean-colour tint"] is not None


def test_validation_grid_is_seeded_and_fixed(study, tmp_path):
    copy = tmp_path / "again"
    shutil.copytree(study, copy)
    write_report(study, log=_quiet)
    write_report(copy, log=_quiet)
    first = np.asarray(Image.open(study / "report_assets" / "validation_grid.png"))
    second = np.asarray(Image.open(copy / "report_assets" / "validation_grid.png"))
    assert np.array_equal(first, second)
    assert "chosen with seed 0" in (study / "REPORT.md").read_text()


def test_black_and_white_photos_section(study, tmp_path):
    from kolorize.demo import write_bw_photos

    bw = write_bw_photos(tmp_path / "bw")  # scikit-image's black-and-white photos
    (bw / "broken.jpg").write_bytes(b"not a photo")
    messages = []
    _, html_path = write_report(study, bw_dir=bw, log=messages.append)
    assert (study / "report_assets" / "bw_photos.png").is_file()
    assert "Real black-and-white photos" in html_path.read_text()
    assert any("broken.jpg" in m for m in messages)
    write_report(study, log=_quiet)  # without --bw the old picture goes away
    assert not (study / "report_assets" / "bw_photos.png").exists()


def test_report_errors_are_one_clear_line(study, tmp_path):
    with pytest.raises(KolorizeError, match=r"has no metrics\.json"):
        write_report(tmp_path, log=_quiet)
    with pytest.raises(KolorizeError, match="--bw: no such folder"):
        write_report(study, bw_dir=tmp_path / "nowhere", log=_quiet)
    for broken in ("{not json", '{"format": "kolorize-metrics/2", "rows": []}', "[]"):
        (tmp_path / "metrics.json").write_text(broken)
        result = run_cli("report", str(tmp_path))
        err = result.err.strip()
        assert result.code == 2 and err.startswith("error: ") and len(err.splitlines()) == 1


def test_cli_report_prints_where_it_wrote(study):
    result = run_cli("-q", "report", str(study))
    assert result.code == 0, result.err
    assert str(study / "REPORT.md") in result.err and str(study / "report.html") in result.err


@pytest.mark.browser
def test_html_shows_the_table_and_images_in_chromium(study, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    _, html_path = write_report(study, log=_quiet)
    shot = tmp_path / "report.png"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(html_path.as_uri())
        table = page.locator("table#results")
        assert table.is_visible()
        assert table.locator("tbody tr").count() == 5
        assert "∞" in table.locator("tbody tr").first.inner_text()
        images = page.locator("img")
        assert images.count() == 12
        for i in range(images.count()):
            img = images.nth(i)
            img.scroll_into_view_if_needed()
            assert img.is_visible()
            assert img.evaluate("el => el.complete && el.naturalWidth > 0")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[0] > 2000 and pixels.shape[1] == 1280
    assert pixels.std() > 20  # a rendered page, not a blank one

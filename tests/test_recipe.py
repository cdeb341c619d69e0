"""The shipped colorizer's recipe pieces in training: warm starts that keep the output,
classes, hints, crops, the weight average, the time budget and the training record."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from helpers.training import named_losses
from kolorize.config import GeneratorConfig, load_config
from kolorize.errors import KolorizeError
from kolorize.models import build_generator
from kolorize.models.files import (
    DEFAULT_MODEL,
    read_generator,
    read_generator_metadata,
    save_generator,
)
from kolorize.models.warm_start import warm_start
from kolorize.train.trainer import Trainer, train

SMALL = GeneratorConfig(arch="resnet18_unet", width=8, depth=2)


def _quiet(_msg):
    pass


def _saved(tmp_path, cfg=SMALL):
    net = build_generator(cfg).eval()
    return net, save_generator(tmp_path / "g.safetensors", net, cfg, image_size=32)


def test_warm_start_with_hint_inputs_gives_the_same_colour(tmp_path):
    net, path = _saved(tmp_path)
    tensors, saved, _ = read_generator(path)
    cfg = dataclasses.replace(SMALL, hints=True)
    grown = build_generator(cfg).eval()
    warm_start(grown, tensors, saved, cfg, path, _quiet)
    L = torch.rand(2, 1, 32, 32) * 2 - 1
    hints = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(grown(L), net(L))
        assert torch.equal(grown(torch.cat([L, hints], 1)), net(L))  # zero weights: unused yet


def test_warm_start_of_the_shipped_file_gives_the_shipped_output():
    tensors, saved, _ = read_generator(DEFAULT_MODEL)
    shipped = build_generator(saved).eval()
    shipped.load_state_dict(tensors)
    cfg = dataclasses.replace(saved, hints=True)
    grown = build_generator(cfg).eval()
    warm_start(grown, tensors, saved, cfg, DEFAULT_MODEL, _quiet)
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(grown(L), shipped(L))


def test_a_classes_head_starts_fresh_on_the_shared_body(tmp_path):
    _, path = _saved(tmp_path)
    tensors, saved, _ = read_generator(path)
    cfg = dataclasses.replace(SMALL, output="classes", hints=True)
    net = build_generator(cfg)
    notes = []
    warm_start(net, tensors, saved, cfg, path, notes.append)
    fresh = notes[0].split("new layers ")[1].split(";")[0].split(", ")
    assert "classes" in fresh and "encoder.conv1" not in fresh
    assert "unused: head, out" in notes[0]
    key = "encoder.layer1.0.conv1.weight"
    assert torch.equal(net.state_dict()[key], tensors[key])


def test_warm_start_refuses_another_network(tmp_path):
    _, path = _saved(tmp_path)
    tensors, saved, _ = read_generator(path)
    cfg = dataclasses.replace(SMALL, width=16)
    with pytest.raises(KolorizeError, match=r"generator\.width"):
        warm_start(build_generator(cfg), tensors, saved, cfg, path, _quiet)


RECIPE = {
    "generator.arch": "resnet18_unet", "generator.width": 8, "generator.depth": 2,
    "generator.output": "classes", "generator.hints": True, "train.phase": "pretrain",
    "train.batch_size": 8, "train.image_size": 24, "train.crop_min": 0.5, "train.ema": 0.9,
    "train.epochs": 3, "train.samples": 2, "train.val_images": 8, "train.log_every": 1,
}  # fmt: skip


def test_the_recipe_trains_and_records_its_training(tiny_dataset, tmp_path):
    cfg = load_config(None, RECIPE)
    trainer = Trainer(cfg, tiny_dataset, tmp_path / "r", log=_quiet)
    batch = next(iter(trainer.batches))
    assert batch.boxes is not None and batch.hints is not None and batch.recolours is None
    x, _, ab = trainer.phase_step.inputs(batch)
    assert x.shape == (8, 4, 24, 24) and ab.shape == (8, 2, 24, 24)
    first = named_losses(trainer, batch)["loss_ce"].item()
    for _ in range(30):
        last = named_losses(trainer, batch)["loss_ce"].item()
    assert last < first
    ema = trainer.exported_net.state_dict()["classes.weight"]
    assert not torch.equal(ema, trainer.G.state_dict()["classes.weight"])  # an average, lagging

    train(cfg, tiny_dataset, tmp_path / "run", log=_quiet)
    meta = read_generator_metadata(tmp_path / "run")
    assert meta["image_size"] == 24 and meta["epoch"] == 3
    record = meta["training"]
    assert record["images_seen"] == 3 * 32 and len(record["stages"]) == 1
    assert record["stages"][0]["output"] == "classes" and record["hours"] >= 0
    assert len(meta["mean_ab"]) == 2


def test_recoloured_objects_are_the_target_and_the_hints(tiny_dataset, tmp_path):
    cfg = load_config(
        None, {**RECIPE, "train.hint_recolour_share": 1.0, "train.hint_free_share": 0}
    )
    trainer = Trainer(cfg, tiny_dataset, tmp_path / "r", log=_quiet)
    batch = next(iter(trainer.batches))
    assert batch.recolours is not None and (batch.recolours[:, 0] == 1).all()
    x, L, ab = trainer.phase_step.inputs(batch)
    plain, plain_L, true_ab = trainer.phase_step.inputs(dataclasses.replace(batch, recolours=None))
    assert torch.equal(L, plain_L) and not torch.allclose(ab, true_ab)
    for i in range(len(batch)):  # the hint and the target at it both move to the new colour
        top, left, _side = batch.hints[i, 0].tolist()
        new = batch.recolours[i, 1:]
        for shown in (x[i, 1:3, top, left], ab[i, :, top, left]):
            before = (plain[i, 1:3, top, left] - new).norm()
            assert (shown - new).norm() < before
    train(cfg, tiny_dataset, tmp_path / "run", log=_quiet)
    stage = read_generator_metadata(tmp_path / "run")["training"]["stages"][0]
    assert stage["hint_recolour_share"] == 1.0


def test_a_continued_run_adds_to_the_record_it_started_from(tiny_dataset, tmp_path):
    cfg = load_config(None, {**RECIPE, "train.epochs": 1})
    train(cfg, tiny_dataset, tmp_path / "a", log=_quiet)
    more = load_config(None, {**RECIPE, "train.epochs": 1, "train.init_from": str(tmp_path / "a")})
    train(more, tiny_dataset, tmp_path / "b", log=_quiet)
    record = read_generator_metadata(tmp_path / "b")["training"]
    assert record["images_seen"] == 2 * 32
    assert [s["run"] for s in record["stages"]] == ["a", "b"]


def test_the_budget_stops_a_run_resumably(tiny_dataset, tmp_path, monkeypatch):
    cfg = load_config(None, {**RECIPE, "train.budget_minutes": 1e-9})
    logs = []
    train(cfg, tiny_dataset, tmp_path / "r", log=logs.append)
    assert any("budget" in m for m in logs)
    meta = read_generator_metadata(tmp_path / "r")
    assert meta["step"] == 1 and meta["epoch"] == 0  # one step, then the budget was spent
    longer = load_config(None, {**RECIPE, "train.epochs": 1})
    train(longer, tiny_dataset, tmp_path / "r", resume=True, log=_quiet)
    assert read_generator_metadata(tmp_path / "r")["epoch"] == 1


def test_adaptive_threads_keep_the_faster_count(monkeypatch):
    from kolorize.train import threads as threads_module

    counts = []
    monkeypatch.setattr(threads_module.torch, "set_num_threads", counts.append)
    current = lambda: counts[-1] if counts else 2  # noqa: E731
    monkeypatch.setattr(threads_module.torch, "get_num_threads", current)
    seconds = {1: 1.0, 2: 3.0}  # a shared machine: one thread is faster
    now = [0.0]

    def tick():
        return now[0]

    monkeypatch.setattr(threads_module.time, "perf_counter", tick)
    tuner = threads_module.ThreadTuner(period=20, probe=3, most=2, log=lambda _m: None)
    used = []
    for _ in range(25):
        tuner.before_step()
        used.append(counts[-1] if counts else 2)
        now[0] += seconds[used[-1]]
        tuner.after_step()
    assert used[:3] == [1, 1, 1] and used[3:6] == [2, 2, 2]
    assert set(used[6:20]) == {1} and tuner.chosen == 1
    assert used[20:23] == [1, 1, 1]  # the next period measures again

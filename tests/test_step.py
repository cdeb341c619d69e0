"""The training step as the GPU sees it: data resident on the device, no host work inside
the step, a captured CUDA graph replaying the same arithmetic as the eager step, and the
precision chosen by measurement."""

import numpy as np
import pytest
import torch

from helpers.hostwork import NoHostWork
from kolorize.config import load_config
from kolorize.data.cache import ImageCache
from kolorize.data.loader import DeviceBatches, gather_batch, make_loader
from kolorize.device import resolve_precision
from kolorize.errors import KolorizeError
from kolorize.train.trainer import Trainer

TINY = {
    "generator.arch": "unet", "generator.levels": 5, "generator.width": 4,
    "generator.dropout": 0, "discriminator.width": 4, "train.batch_size": 8,
    "train.log_every": 2, "train.epochs": 1, "train.samples": 4, "train.val_images": 8,
    "train.precision": "fp32",
}  # fmt: skip


def _quiet(_msg):
    pass


def test_device_batches_are_the_host_loaders_batches(tiny_dataset):
    cache = ImageCache(tiny_dataset)
    loader = make_loader(cache, "train", 8, train=True, seed=5)
    on_device = DeviceBatches(cache, "train", loader.sampler, torch.device("cpu"))
    for epoch, skip in ((0, 0), (3, 2)):
        loader.sampler.set_epoch(epoch, skip)
        host = list(loader)
        device = [gather_batch(on_device.images, b.rows, b.flips) for b in on_device]
        assert len(host) == len(device) == len(loader) - skip
        for h, d in zip(host, device, strict=True):
            assert torch.equal(h.pixels, d)
            assert d.is_contiguous(memory_format=torch.channels_last)
    flipped = loader.sampler  # the check above would pass with no flips at all: make sure
    flipped.set_epoch(0)
    assert any(spec.flips.any() for spec in flipped)


@pytest.mark.parametrize(
    ("phase", "gan_loss"), [("pretrain", "vanilla"), ("gan", "lsgan"), ("gan", "vanilla")]
)
def test_the_step_does_no_host_work(tiny_dataset, tmp_path, phase, gan_loss):
    cfg = load_config(
        None,
        {**TINY, "train.phase": phase, "train.gan_loss": gan_loss, "train.data_on_device": "on"},
    )
    trainer = Trainer(cfg, tiny_dataset, tmp_path / "r", log=_quiet)
    assert isinstance(trainer.batches, DeviceBatches)
    items = iter(trainer.batches)
    trainer.take_step(next(items))  # warm-up, as before a graph capture
    with NoHostWork() as guard:
        losses = trainer.take_step(next(items))
    assert guard.calls == []
    assert losses.shape == (len(trainer.loss_names),)


def test_the_check_catches_host_work():
    with NoHostWork() as guard:
        import kolorize.color as color

        color._conversion_matrices.cache_clear()
        color.rgb_to_model_space(torch.zeros(1, 3, 4, 4, dtype=torch.uint8))
    assert any("tensor" in call for call in guard.calls)


def test_training_from_device_batches_equals_the_host_loader(tiny_dataset, tmp_path):
    """Same batches, same arithmetic: the same weights, whichever way the data travels."""
    weights = {}
    for where in ("off", "on"):
        cfg = load_config(None, {**TINY, "train.phase": "pretrain", "train.data_on_device": where})
        trainer = Trainer(cfg, tiny_dataset, tmp_path / where, log=_quiet)
        trainer.fit()
        weights[where] = [p.detach().clone() for p in trainer.G.parameters()]
    for a, b in zip(weights["off"], weights["on"], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
@pytest.mark.parametrize("phase", ["pretrain", "gan"])
def test_a_captured_step_replays_the_eager_steps(tiny_dataset, tmp_path, phase):
    losses = {}
    for graphs in (False, True):
        torch.manual_seed(0)
        cfg = load_config(
            None,
            {**TINY, "train.phase": phase, "train.cuda_graphs": graphs,
             "train.precision": "bf16", "train.deterministic": False},
        )  # fmt: skip
        trainer = Trainer(cfg, tiny_dataset, tmp_path / str(graphs), log=_quiet)
        assert (trainer.no_graph_reason is None) == graphs
        trainer.batches.sampler.set_epoch(0)
        seen = [trainer.take_step(b).clone() for b in trainer.batches]
        if graphs:
            assert trainer.graph_captured
        losses[graphs] = torch.stack(seen).float().cpu()
    torch.testing.assert_close(losses[True], losses[False], rtol=0.05, atol=0.02)


def test_precision_auto_keeps_fp32_unless_bf16_is_clearly_faster(tmp_path, monkeypatch):
    monkeypatch.setenv("KOLORIZE_CACHE", str(tmp_path))
    cpu = torch.device("cpu")
    calls = []

    def timings(fp32, bf16):
        def measure(precision):
            calls.append(precision)
            return {"fp32": fp32, "bf16": bf16}[precision]

        return measure

    assert resolve_precision("auto", cpu, workload="a", measure=timings(1.0, 0.5)) == "bf16"
    assert resolve_precision("auto", cpu, workload="b", measure=timings(1.0, 0.95)) == "fp32"
    assert resolve_precision("auto", cpu, workload="c", measure=timings(1.0, 3.0)) == "fp32"
    assert len(calls) == 6
    # measured once per machine and workload: the second ask reads the cached choice
    assert resolve_precision("auto", cpu, workload="a", measure=timings(1.0, 9.0)) == "bf16"
    assert len(calls) == 6
    assert resolve_precision("fp32", cpu, workload="a", measure=timings(1.0, 0.1)) == "fp32"
    assert resolve_precision("bf16", cpu, workload="a") == "bf16"
    assert resolve_precision("auto", torch.device("cuda"), workload="a") == "bf16"
    with pytest.raises(KolorizeError, match="precision must be one of"):
        resolve_precision("fp16", cpu, workload="a")


def test_a_broken_precision_cache_is_measured_again(tmp_path, monkeypatch):
    monkeypatch.setenv("KOLORIZE_CACHE", str(tmp_path))
    (tmp_path / "precision.json").write_text("{not json")
    choice = resolve_precision(
        "auto", torch.device("cpu"), workload="w", measure=lambda p: 1.0 if p == "fp32" else 2.0
    )
    assert choice == "fp32"


def test_the_training_precision_is_measured_and_kept_on_resume(tiny_dataset, tmp_path):
    cfg = load_config(None, {**TINY, "train.precision": "auto", "train.phase": "pretrain"})
    trainer = Trainer(cfg, tiny_dataset, tmp_path / "r", log=_quiet)
    assert trainer.precision in ("fp32", "bf16")
    trainer.fit()
    state = torch.load(
        sorted((tmp_path / "r" / "checkpoints").glob("*.pt"))[-1], weights_only=False
    )
    assert state["precision"] == trainer.precision


@pytest.mark.parametrize("amx", [True, False])
def test_a_deterministic_run_takes_its_precision_from_the_cpu_not_a_stopwatch(
    tiny_dataset, tmp_path, monkeypatch, amx
):
    """Two deterministic runs on one machine must do the same arithmetic: a timing (or one kept
    from an earlier, busier moment) would let the load of the machine pick bf16 or fp32."""
    import json

    import kolorize.device as device_module
    from kolorize.device import machine_key
    from kolorize.train import build

    monkeypatch.setenv("KOLORIZE_CACHE", str(tmp_path))
    monkeypatch.setattr(device_module, "has_bf16_matrix_units", lambda: amx)
    monkeypatch.setattr(build, "_step_seconds", lambda *a: pytest.fail("measured"))
    kept = "fp32" if amx else "bf16"  # the opposite of the flags' choice
    workload = "train unet pretrain 32px"
    (tmp_path / "precision.json").write_text(json.dumps({machine_key(workload): {"choice": kept}}))
    overrides = {**TINY, "train.precision": "auto", "train.phase": "pretrain",
                 "train.deterministic": True, "train.adaptive_threads": True}  # fmt: skip
    trainer = Trainer(load_config(None, overrides), tiny_dataset, tmp_path / "r", log=_quiet)
    assert trainer.precision == ("bf16" if amx else "fp32")
    assert trainer.threads is None  # no thread count chosen by timing either
    undetermined = load_config(None, {**overrides, "train.deterministic": False})
    assert Trainer(undetermined, tiny_dataset, tmp_path / "s", log=_quiet).precision == kept


def test_the_old_amp_key_still_reads():
    cfg = load_config(None, {})
    from kolorize.config import from_dict

    data = cfg.to_dict()
    del data["train"]["precision"]
    data["train"]["amp"] = "off"
    assert from_dict(data).train.precision == "fp32"


def test_bf16_inference_on_the_cpu_stays_close_to_fp32(tiny_dataset):
    """What `--precision bf16` costs in colour: mean |delta ab| under 0.01 of the ab range."""
    from kolorize.config import GeneratorConfig
    from kolorize.models import build_generator

    torch.manual_seed(0)
    net = build_generator(GeneratorConfig(arch="resnet18_unet", width=8, depth=2)).eval()
    L = torch.rand(2, 1, 64, 64) * 2 - 1
    with torch.inference_mode():
        fp32 = net(L)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = net(L).float()
    delta = (fp32 - bf16).abs().mean().item()
    assert 0 < delta < 0.01
    assert np.isfinite(delta)


def test_without_a_measurement_auto_takes_a_kept_one_or_the_cpus_flags(tmp_path, monkeypatch):
    from kolorize import device

    monkeypatch.setenv("KOLORIZE_CACHE", str(tmp_path))
    cpu = torch.device("cpu")
    for amx, expected in ((False, "fp32"), (True, "bf16")):
        monkeypatch.setattr(device, "has_bf16_matrix_units", lambda amx=amx: amx)
        assert resolve_precision("auto", cpu, workload="photo") == expected
    assert not (tmp_path / "precision.json").exists()  # a guess is not kept
    resolve_precision("auto", cpu, workload="photo", measure=lambda p: 1.0)  # a tie: fp32
    assert (tmp_path / "precision.json").exists()  # $KOLORIZE_CACHE is the folder itself
    assert resolve_precision("auto", cpu, workload="photo") == "fp32"  # kept beats the flags

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from helpers.cli import run_cli
from helpers.training import named_losses
from kolorize import losses
from kolorize.config import load_config
from kolorize.data.cache import ImageCache
from kolorize.data.loader import make_loader
from kolorize.errors import KolorizeError
from kolorize.rundir import read_metrics
from kolorize.train.checkpoint import list_checkpoints, load_checkpoint
from kolorize.train.running_means import RunningMeans
from kolorize.train.trainer import Trainer, TrainingDiverged, train

TINY = {
    "generator.arch": "unet", "generator.levels": 5, "generator.width": 4,
    "discriminator.width": 4, "train.batch_size": 8, "train.log_every": 2,
    "train.epochs": 2, "train.samples": 4, "train.val_images": 8,
}  # fmt: skip


NORM_FOR = {"wgan-gp": "none"}  # a critic with BatchNorm breaks the gradient penalty's premise


def tiny_config(**more):
    return load_config(None, {**TINY, **more})


def _quiet(_msg):
    pass


def _first_batch(data):
    loader = make_loader(ImageCache(data), "train", 8, train=True, to_lab=True)
    return next(iter(loader))


def test_l1_pretraining_lowers_the_loss_on_real_photos(tiny_dataset, tmp_path):
    cfg = tiny_config(**{"train.phase": "pretrain", "generator.width": 8, "generator.dropout": 0})
    trainer = Trainer(cfg, tiny_dataset, tmp_path / "r", log=_quiet)
    batch = _first_batch(tiny_dataset)
    first = named_losses(trainer, batch)["loss_l1"].item()
    for _ in range(40):
        last = named_losses(trainer, batch)["loss_l1"].item()
    assert last < 0.6 * first


def test_a_gan_step_updates_both_networks(tiny_dataset, tmp_path):
    trainer = Trainer(tiny_config(), tiny_dataset, tmp_path / "r", log=_quiet)
    g0 = [p.detach().clone() for p in trainer.G.parameters()]
    d0 = [p.detach().clone() for p in trainer.disc.net.parameters()]
    out = named_losses(trainer, _first_batch(tiny_dataset))
    assert set(out) >= {"loss_d", "loss_g", "loss_g_gan", "loss_l1"}
    assert all(not torch.equal(a, b) for a, b in zip(g0, trainer.G.parameters(), strict=True))
    d1 = trainer.disc.net.parameters()
    assert all(not torch.equal(a, b) for a, b in zip(d0, d1, strict=True))


@pytest.mark.parametrize("kind", losses.GAN_LOSSES)
def test_every_gan_loss_trains(tiny_dataset, tmp_path, kind):
    trainer = Trainer(
        tiny_config(**{"train.gan_loss": kind, "discriminator.norm": NORM_FOR.get(kind, "batch")}),
        tiny_dataset, tmp_path / "r", log=_quiet,
    )  # fmt: skip
    out = named_losses(trainer, _first_batch(tiny_dataset))
    assert all(torch.isfinite(v) for v in out.values())
    if kind == "wgan-gp":
        assert out["gradient_penalty"] >= 0


def test_gan_losses_against_hand_computed_values():
    real, fake = torch.full((1, 1, 2, 2), 2.0), torch.full((1, 1, 2, 2), -1.0)
    sp = torch.nn.functional.softplus
    vanilla = losses.GANLoss("vanilla")
    assert torch.isclose(vanilla.discriminator(real, fake), 0.5 * (sp(-real) + sp(fake)).mean())
    assert torch.isclose(vanilla.generator(fake), sp(-fake).mean())
    ls = losses.GANLoss("lsgan")
    assert torch.isclose(ls.discriminator(real, fake), torch.tensor(0.5 * ((2 - 1) ** 2 + 1)))
    assert torch.isclose(ls.generator(fake), torch.tensor(4.0))
    hinge = losses.GANLoss("hinge")
    assert torch.isclose(hinge.discriminator(real, fake), torch.tensor(0.0))


def test_only_wgan_gp_adds_a_penalty_and_refuses_a_graph():
    critic = torch.nn.Conv2d(3, 1, 1)
    real, fake = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    loss = torch.tensor(0.25)
    for kind in ("vanilla", "lsgan", "hinge"):
        plain = losses.GANLoss(kind)
        assert plain.with_penalty(loss, critic, real, fake) == (loss, [])
        assert plain.penalty_names == () and plain.no_graph_reason is None
    wgan = losses.GANLoss("wgan-gp", gp_weight=3.0)
    torch.manual_seed(1)
    penalized, (gp,) = wgan.with_penalty(loss, critic, real, fake)
    torch.manual_seed(1)
    assert torch.equal(gp, losses.gradient_penalty(critic, real, fake)) and gp > 0
    assert torch.isclose(penalized, loss + 3.0 * gp)
    assert wgan.penalty_names == ("gradient_penalty",) and "double backward" in wgan.no_graph_reason


def test_running_means_carry_a_resumed_epoch_and_restart_from_zero():
    running = RunningMeans(("a", "b"), torch.device("cpu"), sums={"a": 1.0, "b": 2.0}, steps=1)
    running.add(torch.tensor([3.0, 4.0]), images=8)
    reading = running.read()
    assert reading.sums == {"a": 4.0, "b": 6.0} and reading.means == {"a": 2.0, "b": 3.0}
    assert running.images == 8 and reading.images_per_s > 0
    running.restart()
    running.add(torch.tensor([5.0, 7.0]), images=4)
    assert running.read().means == {"a": 5.0, "b": 7.0}


def test_run_directory_has_everything(tiny_dataset, tmp_path):
    run = train(tiny_config(), tiny_dataset, tmp_path / "r", log=_quiet)
    names = {p.name for p in run.iterdir()}
    assert {
        "config.yaml",
        "run.json",
        "metrics.jsonl",
        "generator.safetensors",
        "samples",
        "tb",
    } <= names
    records = read_metrics(run)
    assert [r["epoch"] for r in records] == [1, 2]
    assert {"loss_d", "loss_g", "loss_l1", "val_l1", "images_per_s"} <= set(records[0])
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    state = load_checkpoint(list_checkpoints(run)[-1])
    assert {"generator", "discriminator", "opt_g", "opt_d", "sched_g", "rng", "config"} <= set(
        state
    )
    assert state["epoch"] == 2 and state["step"] == 8


# What a GAN checkpoint with train.ema holds, in order: runs training elsewhere resume from
# files with exactly these keys, so a change here must still read them.
CHECKPOINT_LAYOUT = [
    "config", "epoch", "step", "batch_in_epoch", "sums", "precision", "generator", "opt_g",
    "sched_g", "rng", "data", "images_seen", "seconds", "cpu_seconds", "budget_seconds",
    "inherited", "ema", "discriminator", "opt_d", "sched_d",
]  # fmt: skip


def _same(a, b, where=""):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_a_checkpoint_in_the_saved_layout_resumes_to_the_same_state(tiny_dataset, tmp_path):
    cfg = tiny_config(**{"train.epochs": 1, "train.ema": 0.9, "train.precision": "fp32"})
    run = train(cfg, tiny_dataset, tmp_path / "r", log=_quiet)
    saved = load_checkpoint(list_checkpoints(run)[-1])
    assert list(saved) == CHECKPOINT_LAYOUT
    resumed = Trainer(cfg, tiny_dataset, run, resume=True, log=_quiet)
    state = resumed._checkpoint_state()
    assert list(state) == CHECKPOINT_LAYOUT
    for key in CHECKPOINT_LAYOUT:
        if key != "rng":  # the random state moves on as the parts are built
            _same(state[key], saved[key], key)


def test_existing_run_needs_resume(tiny_dataset, tmp_path):
    train(tiny_config(**{"train.epochs": 1}), tiny_dataset, tmp_path / "r", log=_quiet)
    with pytest.raises(KolorizeError, match="--resume"):
        train(tiny_config(**{"train.epochs": 1}), tiny_dataset, tmp_path / "r", log=_quiet)


def test_extending_a_finished_run_continues_from_its_last_epoch(tiny_dataset, tmp_path):
    run = train(tiny_config(), tiny_dataset, tmp_path / "r", log=_quiet)
    messages = []
    train(tiny_config(**{"train.epochs": 3}), tiny_dataset, run, resume=True, log=messages.append)
    assert any("resuming from ckpt-e0002" in m for m in messages)
    assert [r["epoch"] for r in read_metrics(run)] == [1, 2, 3]
    assert load_checkpoint(list_checkpoints(run)[-1])["step"] == 12


def test_an_unreadable_newest_checkpoint_is_named_and_kept_aside(tiny_dataset, tmp_path):
    run = train(tiny_config(), tiny_dataset, tmp_path / "r", log=_quiet)
    older, newest = list_checkpoints(run)
    newest.write_bytes(b"not a checkpoint")
    messages = []
    train(tiny_config(**{"train.epochs": 3}), tiny_dataset, run, resume=True, log=messages.append)
    kept = newest.with_name(newest.name + ".unreadable")
    warning = f"warning: {newest.name} cannot be read ("
    assert any(m.startswith(warning) and f"kept aside as {kept.name}" in m for m in messages)
    assert any(f"resuming from {older.name}" in m for m in messages)
    assert kept.read_bytes() == b"not a checkpoint"  # for inspection, never overwritten
    assert load_checkpoint(list_checkpoints(run)[-1])["epoch"] == 3
    assert [r["epoch"] for r in read_metrics(run)][-2:] == [2, 3]


def test_nan_stops_the_run_and_keeps_the_checkpoint(tiny_dataset, tmp_path, monkeypatch):
    run = tmp_path / "r"
    train(tiny_config(**{"train.epochs": 1}), tiny_dataset, run, log=_quiet)
    good = list_checkpoints(run)
    real_l1 = losses.l1
    monkeypatch.setattr(losses, "l1", lambda a, b: real_l1(a, b) * float("nan"))
    with pytest.raises(TrainingDiverged, match="non-finite"):
        train(tiny_config(**{"train.epochs": 2}), tiny_dataset, run, resume=True, log=_quiet)
    assert list_checkpoints(run) == good
    assert all(torch.isfinite(t).all() for t in load_file(run / "generator.safetensors").values())


def _empty_config(folder: Path) -> str:
    path = folder / "empty.yaml"
    path.write_text("{}\n")
    return str(path)


def _train_cmd(data, run_dir, *extra):
    sets = [f"{k}={v}" for k, v in {**TINY, "train.epochs": 2, "train.checkpoint_every": 1,
                                     "train.deterministic": True}.items()]  # fmt: skip
    config = _empty_config(Path(run_dir).parent)
    args = [sys.executable, "-m", "kolorize", "train", config, "--data", str(data),
            "--run-dir", str(run_dir)]  # fmt: skip
    for s in sets:
        args += ["--set", s]
    return args + list(extra)


def test_killed_run_resumes_to_the_same_weights(tiny_dataset, tmp_path):
    straight = tmp_path / "straight"
    assert subprocess.run(_train_cmd(tiny_dataset, straight), capture_output=True).returncode == 0
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(tiny_dataset, killed), stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not any(
        int(p.name.split("-s")[1][:9]) >= 3 for p in list_checkpoints(killed)
    ):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    steps_before = [int(p.name.split("-s")[1][:9]) for p in list_checkpoints(killed)]
    assert steps_before and max(steps_before) < 8, "the run finished before it could be killed"
    resumed = subprocess.run(
        _train_cmd(tiny_dataset, killed, "--resume"), capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    a = load_file(straight / "generator.safetensors")
    b = load_file(killed / "generator.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    da = load_checkpoint(list_checkpoints(straight)[-1])["discriminator"]
    db = load_checkpoint(list_checkpoints(killed)[-1])["discriminator"]
    assert all(torch.equal(da[k], db[k]) for k in da)


def test_config_errors_are_one_line_exit_2(tiny_dataset, tmp_path):
    empty = _empty_config(tmp_path)
    bad_key = run_cli("train", empty, "--data", str(tiny_dataset), "--set", "train.epoch=2")
    assert bad_key.code == 2 and "did you mean 'train.epochs'" in bad_key.err
    assert bad_key.err.count("\n") == 1
    bad_value = run_cli("train", empty, "--data", str(tiny_dataset), "--set", "train.gan_loss=wgan")
    assert bad_value.code == 2 and "must be one of" in bad_value.err
    cfg = tmp_path / "c.yaml"
    cfg.write_text("train:\n  epochs: two\n")
    bad_file = run_cli("train", str(cfg), "--data", str(tiny_dataset))
    assert bad_file.code == 2 and "whole number" in bad_file.err and "Traceback" not in bad_file.err
    big = run_cli("train", empty, "--data", str(tiny_dataset), "--set", "generator.arch=unet",
                  "--set", "generator.levels=8", "--run-dir", str(tmp_path / "r"))  # fmt: skip
    assert big.code == 2 and "at most 5" in big.err


def _ddp_worker(rank: int, world: int, port: int, data: str, run_dir: str, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))  # fmt: skip
    torch.set_num_threads(1)
    cfg = tiny_config(**{"train.epochs": 1, "train.batch_size": 4})
    trainer = Trainer(cfg, data, run_dir, log=_quiet)
    trainer.fit()
    state = {"G": trainer.G.state_dict(), "D": trainer.disc.net.state_dict(), "step": trainer.step}
    torch.save(state, Path(out) / f"rank{rank}.pt")
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_ddp_with_two_gloo_processes_keeps_ranks_equal(tiny_dataset, tmp_path):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(
        _ddp_worker, args=(2, port, str(tiny_dataset), str(tmp_path / "r"), str(tmp_path)), nprocs=2
    )
    a, b = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert a["step"] == b["step"] == 4  # 32 images / (2 ranks x 4)
    for net in ("G", "D"):
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k} differs between ranks"
    single = torch.load(tmp_path / "rank0.pt")["G"]
    init = Trainer(tiny_config(), tiny_dataset, tmp_path / "fresh", log=_quiet).G.state_dict()
    assert any(not torch.equal(single[k], init[k]) for k in init)  # training really happened


@pytest.mark.slow
def test_torchrun_launches_two_processes_through_the_cli(tiny_dataset, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    args = [str(torchrun), "--nproc-per-node", "2", "-m", "kolorize", "train",
            _empty_config(tmp_path), "--data", str(tiny_dataset),
            "--run-dir", str(tmp_path / "r")]  # fmt: skip
    for key, value in {**TINY, "train.epochs": 1, "train.batch_size": 4}.items():
        args += ["--set", f"{key}={value}"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "x 2 processes" in result.stderr
    assert result.stderr.count("run directory:") == 1
    assert load_checkpoint(list_checkpoints(tmp_path / "r")[-1])["step"] == 4

"""The training loop: one design for both phases of the study.

    pretrain:  G(L) -> ab,  loss = L1                                   (U-Net_30)
    gan:       D step: 0.5 * (GAN(D(L, ab), real) + GAN(D(L, G(L)), fake))
               G step: GAN(D(L, G(L)), real) + lambda * L1(G(L), ab)    (pix2pix)

What a run's folder holds is rundir.py's to say. Training resumes exactly from the newest
checkpoint; raising train.epochs on a finished run and resuming continues it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from kolorize import losses
from kolorize.color import batch_to_model_space, rgb_to_model_space
from kolorize.config import RunConfig, from_dict
from kolorize.data.cache import ImageCache, manifest_digest
from kolorize.data.loader import (
    BatchLoader,
    DeviceBatches,
    fits_on_device,
    gather_batch,
    make_loader,
)
from kolorize.device import autocast, resolve_precision
from kolorize.errors import KolorizeError
from kolorize.locks import folder_lock
from kolorize.models import build_discriminator, build_generator, input_multiple
from kolorize.models.files import load_weights, read_generator, save_generator
from kolorize.progress import progress
from kolorize.rundir import (
    CONFIG,
    GENERATOR,
    RUN_STATE,
    SAMPLES,
    atomic_write,
    remove_stale_temps,
    sample_name,
)
from kolorize.train import distributed as ddp
from kolorize.train.checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from kolorize.train.graphs import GraphedStep
from kolorize.train.logs import RunLog, sample_grid, save_image_atomic


class TrainingDiverged(KolorizeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class _DiscriminatorPair(nn.Module):
    """D on the real and the fake pair in one forward call, so DistributedDataParallel sees
    exactly one forward per backward, while BatchNorm still sees real and fake apart as in
    pix2pix."""

    def __init__(self, d: nn.Module) -> None:
        super().__init__()
        self.d = d

    def forward(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.d(real), self.d(fake)


class Trainer:
    def __init__(
        self,
        cfg: RunConfig,
        data_dir: str | Path,
        run_dir: str | Path,
        *,
        resume: bool = False,
        allow_data_change: bool = False,
        log: Callable[[str], None] = print,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.dist = ddp.setup(cfg.train.device)
        self.device = self.dist.device
        self.log = log if self.dist.is_main else (lambda _msg: None)
        checkpoint = self._checkpoint_to_resume(resume)
        if checkpoint is not None:
            cfg = self._config_for_resume(cfg, checkpoint)
        self.cfg = cfg
        t = cfg.train
        self.gan = t.phase == "gan"
        if t.gan_loss == "wgan-gp" and self.gan and self.dist.enabled:
            raise KolorizeError("train.gan_loss=wgan-gp does not support multi-process training")
        self._set_determinism()
        seed_everything(t.seed)

        self.data = ImageCache(data_dir)
        self.data_identity = {"size": self.data.size, "manifest": manifest_digest(data_dir)}
        if checkpoint is not None:
            self._check_same_data(checkpoint.get("data"), allow_data_change)
        self.G = build_generator(cfg.generator, load_pretrained=checkpoint is None)
        multiple = input_multiple(self.G)
        if self.data.size % multiple:
            fix = (
                f"lower generator.levels (at most {_max_levels(self.data.size)} for "
                f"{self.data.size} px) or prepare"
                if cfg.generator.arch == "unet"
                else "prepare"
            )
            raise KolorizeError(
                f"images are {self.data.size}x{self.data.size} but this generator needs sides "
                f"that are multiples of {multiple}: {fix} the data at another --size"
            )
        if checkpoint is None and t.init_from:
            self._init_generator_from(t.init_from)
        self.D = build_discriminator(cfg.discriminator) if self.gan else None

        self.channels_last = t.channels_last
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        self.G = ddp.sync_batchnorm(self.G, self.dist).to(self.device, memory_format=fmt)
        if self.D is not None:
            self.D = ddp.sync_batchnorm(self.D, self.dist).to(self.device, memory_format=fmt)
        self.gan_loss = losses.GANLoss(t.gan_loss)
        # A resumed run keeps the precision it started with, whatever a new measurement says.
        chosen = checkpoint.get("precision") if checkpoint and t.precision == "auto" else None
        self.precision = chosen or resolve_precision(
            t.precision, self.device, measure=self._time_step_at,
            workload=f"train {cfg.generator.arch} {t.phase} {self.data.size}px", log=self.log,
        )  # fmt: skip
        self.no_graph_reason = self._why_no_cuda_graph()
        self.loss_names = self._loss_names()

        self.opt_g = self._adam(self.G, t.lr_g)
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, self._lr_factor)
        self.opt_d = self.sched_d = None
        if self.D is not None:
            self.opt_d = self._adam(self.D, t.lr_d)
            self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, self._lr_factor)

        self.epoch = 0  # completed epochs
        self.step = 0  # optimizer steps taken
        self.batch_in_epoch = 0
        self.sums: dict[str, float] = {}
        if checkpoint is not None:
            self._load_state(checkpoint)

        self.G_train = ddp.data_parallel(self.G, self.dist)
        self.D_train = ddp.data_parallel(_DiscriminatorPair(self.D), self.dist) if self.D else None
        if t.compile and self.device.type == "cuda":
            self.G_train = torch.compile(self.G_train)
            if self.D_train is not None:
                self.D_train = torch.compile(self.D_train)

        on_cpu = self.device.type == "cpu"
        self.loader = make_loader(
            self.data, "train", t.batch_size, train=True, seed=t.seed,
            rank=self.dist.rank, world_size=self.dist.world_size,
            threads=t.loader_threads, pin_memory=not on_cpu, to_lab=on_cpu,
        )  # fmt: skip
        self.batches: BatchLoader | DeviceBatches = self.loader
        if t.data_on_device == "on" or (
            t.data_on_device == "auto" and fits_on_device(self.data, "train", self.device)
        ):
            self.batches = DeviceBatches(self.data, "train", self.loader.sampler, self.device)
        self._step = (
            self._train_step
            if self.no_graph_reason
            else GraphedStep(self._train_step, log=self.log)
        )
        if len(self.loader) == 0:
            raise KolorizeError(
                f"{self.data.n_train} training images make no batch of {t.batch_size}"
            )
        self.logs = RunLog(self.run_dir, enabled=self.dist.is_main)

    # -- setup helpers ---------------------------------------------------------------------

    def _checkpoint_to_resume(self, resume: bool) -> dict[str, Any] | None:
        found = latest_checkpoint(self.run_dir)
        if found is None:
            if list_checkpoints(self.run_dir):
                raise KolorizeError(f"no readable checkpoint in {self.run_dir / 'checkpoints'}")
            return None
        if not resume:
            raise KolorizeError(
                f"{self.run_dir} already holds a training run: pass --resume to continue it, "
                "or choose another --run-dir"
            )
        path, state = found
        self.log(f"resuming from {path.name} (epoch {state['epoch']}, step {state['step']})")
        return state

    def _config_for_resume(self, cfg: RunConfig, checkpoint: dict[str, Any]) -> RunConfig:
        saved = from_dict(checkpoint["config"])
        if saved.generator != cfg.generator or saved.discriminator != cfg.discriminator:
            raise KolorizeError(
                "the networks in this config differ from the run being resumed; "
                "resume with the run's own config (or start a new --run-dir)"
            )
        return cfg

    def _check_same_data(self, saved: dict[str, Any] | None, allow_change: bool) -> None:
        """Resuming on other data (another size, other photos) is refused unless asked for:
        it would silently mix two datasets in one run and re-stamp its image size."""
        now = self.data_identity
        if saved is None or saved == now:  # None: a checkpoint from before this was recorded
            return

        def describe(d: dict[str, Any]) -> str:
            return f"{d['size']} px, manifest {str(d['manifest'])[:12]}"

        change = f"run was trained on {describe(saved)}; --data is {describe(now)}"
        if not allow_change:
            raise KolorizeError(
                f"--data {self.data.root} is not the dataset this run was trained on ({change}); "
                "pass --allow-data-change to continue on it anyway"
            )
        self.log(f"note: continuing on a different dataset ({change})")

    def _set_determinism(self) -> None:
        if self.cfg.train.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.benchmark = False
        else:
            torch.backends.cudnn.benchmark = True

    def _init_generator_from(self, source: str) -> None:
        tensors, cfg, _ = read_generator(source)
        if cfg != self.cfg.generator:
            raise KolorizeError(
                f"train.init_from={source}: its generator ({cfg.arch}, width {cfg.width}) does "
                f"not match this run's ({self.cfg.generator.arch}, "
                f"width {self.cfg.generator.width})"
            )
        load_weights(self.G, tensors, source)
        self.log(f"generator initialised from {source}")

    def _why_no_cuda_graph(self) -> str | None:
        """None when the step is captured as a CUDA graph, else why not."""
        t = self.cfg.train
        if self.device.type != "cuda":
            return "not on CUDA"
        if not t.cuda_graphs:
            return "train.cuda_graphs is false"
        if self.dist.enabled:
            return "multi-process training (DDP all-reduces gradients outside the graph)"
        if self.gan_loss.kind == "wgan-gp":
            return "wgan-gp's gradient penalty needs a double backward, which is not captured"
        return None

    def _adam(self, net: nn.Module, lr: float) -> torch.optim.Adam:
        """Adam as the study sets it; on CUDA the fused kernel, and for a captured step
        capturable with its learning rate on the device (the scheduler fills it in place)."""
        betas = (self.cfg.train.beta1, self.cfg.train.beta2)
        if self.device.type != "cuda":
            return torch.optim.Adam(net.parameters(), lr=lr, betas=betas)
        capturable = self.no_graph_reason is None
        rate = torch.tensor(lr, device=self.device) if capturable else lr
        return torch.optim.Adam(
            net.parameters(), lr=rate, betas=betas, fused=True, capturable=capturable
        )

    def _loss_names(self) -> tuple[str, ...]:
        if not self.gan:
            return ("loss_l1",)
        names = ("loss_d", "loss_g", "loss_g_gan", "loss_l1", "d_real", "d_fake")
        return (*names, "gradient_penalty") if self.gan_loss.kind == "wgan-gp" else names

    def _time_step_at(self, precision: str) -> float:
        """Seconds of one forward and backward pass of copies of the networks on random
        data at `precision`: the measurement behind train.precision=auto on a CPU. Copies, and
        a private random generator, so the run's own weights and random stream stay as they are."""
        from kolorize.device import time_precision

        size, n = self.data.size, min(4, self.cfg.train.batch_size)
        rng = torch.Generator().manual_seed(0)
        L = torch.rand(n, 1, size, size, generator=rng) * 2 - 1
        ab = torch.rand(n, 2, size, size, generator=rng) * 2 - 1
        G = copy.deepcopy(self.G).train()
        D = copy.deepcopy(self.D).train() if self.D is not None else None

        def run() -> None:
            with autocast(self.device, precision):
                fake = G(L)
                loss = (fake.float() - ab).abs().mean()
                if D is not None:
                    loss = loss + D(torch.cat([L, fake.to(L.dtype)], 1)).float().mean()
            loss.backward()

        return time_precision(run)

    def _lr_factor(self, epoch: int) -> float:
        """pix2pix's linear rule: constant, then linearly to zero over the last N epochs."""
        t = self.cfg.train
        if t.lr_decay_epochs == 0:
            return 1.0
        constant = t.epochs - t.lr_decay_epochs
        return 1.0 - max(0, epoch + 1 - constant) / float(t.lr_decay_epochs + 1)

    # -- state -----------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "config": self.cfg.to_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "batch_in_epoch": self.batch_in_epoch,
            "sums": dict(self.sums),
            "precision": self.precision,
            "generator": self.G.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "sched_g": self.sched_g.state_dict(),
            "rng": rng_state(),
            "data": self.data_identity,
        }
        if self.D is not None:
            state.update(
                discriminator=self.D.state_dict(),
                opt_d=self.opt_d.state_dict(),  # type: ignore[union-attr]
                sched_d=self.sched_d.state_dict(),  # type: ignore[union-attr]
            )
        return state

    def _load_state(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["generator"])
        _load_optimizer(self.opt_g, state["opt_g"])
        self.sched_g.load_state_dict(state["sched_g"])
        if self.D is not None:
            if "discriminator" not in state:
                raise KolorizeError("the checkpoint has no discriminator: it is not a GAN run")
            self.D.load_state_dict(state["discriminator"])
            _load_optimizer(self.opt_d, state["opt_d"])  # type: ignore[arg-type]
            self.sched_d.load_state_dict(state["sched_d"])  # type: ignore[union-attr]
        self.epoch, self.step = state["epoch"], state["step"]
        self.batch_in_epoch = state["batch_in_epoch"]
        self.sums = dict(state["sums"])
        set_rng_state(state["rng"])

    def _save(self) -> None:
        for net in (self.G, self.D):
            if net is not None:
                ddp.broadcast_buffers(net, self.dist)
        if self.dist.is_main:
            save_checkpoint(self.run_dir, self._state(), keep=self.cfg.train.keep_checkpoints)
        ddp.barrier(self.dist)

    # -- one step --------------------------------------------------------------------------

    def _autocast(self) -> contextlib.AbstractContextManager:
        # autocast's weight cache would hold tensors across a graph's replays
        return autocast(self.device, self.precision, cache=self.no_graph_reason is not None)

    def _to_model(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._channels(*batch_to_model_space(batch, self.device))

    def _channels(self, L: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.channels_last:
            L = L.contiguous(memory_format=torch.channels_last)
            ab = ab.contiguous(memory_format=torch.channels_last)
        return L, ab

    def _step_inputs(self, item: Any) -> tuple[torch.Tensor, ...]:
        """What one step takes: a host batch (moved to the device), or the (indices, flips)
        of a batch that is resident on the device."""
        if isinstance(item, tuple):
            return item
        if self.device.type == "cuda":
            return (item.to(self.device, non_blocking=True),)
        return (item,)

    def train_step(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimisation step on a loader batch; returns detached loss tensors (no host
        sync)."""
        values = self._step(*self._step_inputs(batch)).clone()
        return dict(zip(self.loss_names, values.unbind(0), strict=True))

    def _train_step(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The step itself, free of host work so that it can be captured as a CUDA graph:
        returns the losses stacked in the order of `self.loss_names`."""
        if len(inputs) == 2:
            assert isinstance(self.batches, DeviceBatches)
            L, ab = self._channels(*rgb_to_model_space(gather_batch(self.batches.images, *inputs)))
        else:
            L, ab = self._to_model(inputs[0])
        with self._autocast():
            fake = self.G_train(L)
        if not self.gan:
            loss = losses.l1(fake.float(), ab)
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_g.step()
            return loss.detach()[None]

        assert self.D is not None and self.D_train is not None and self.opt_d is not None
        real_pair = torch.cat([L, ab], dim=1)
        self.D.requires_grad_(True)
        self.opt_d.zero_grad(set_to_none=True)
        with self._autocast():
            fake_pair = torch.cat([L, fake.detach().to(L.dtype)], dim=1)
            real_logits, fake_logits = self.D_train(real_pair, fake_pair)
            loss_d = self.gan_loss.discriminator(real_logits.float(), fake_logits.float())
        extra = []
        if self.gan_loss.kind == "wgan-gp":
            gp = losses.gradient_penalty(self.D, real_pair, fake_pair.detach())
            loss_d = loss_d + self.cfg.train.gp_weight * gp
            extra.append(gp)
        loss_d.backward()
        self.opt_d.step()

        self.D.requires_grad_(False)  # G's step only needs gradients through D, not for it
        self.opt_g.zero_grad(set_to_none=True)
        with self._autocast():
            logits = self.D(torch.cat([L, fake.to(L.dtype)], dim=1))
            loss_gan = self.gan_loss.generator(logits.float())
            loss_l1 = losses.l1(fake.float(), ab)
            loss_g = loss_gan + self.cfg.train.lambda_l1 * loss_l1
        loss_g.backward()
        self.opt_g.step()
        values = [loss_d, loss_g, loss_gan, loss_l1, real_logits.float().mean(),
                  fake_logits.float().mean(), *extra]  # fmt: skip
        return torch.stack([v.detach().float() for v in values])

    # -- the loop --------------------------------------------------------------------------

    def _check_finite(self, totals: torch.Tensor) -> dict[str, float]:
        """The loss totals as numbers (the only host sync of the loop, every log_every steps);
        stops every rank together if one of them is not finite."""
        values = dict(zip(self.loss_names, totals.tolist(), strict=True))
        ok = all(np.isfinite(v) for v in values.values())
        if not ddp.all_ranks_agree(ok, self.dist):
            found = latest_checkpoint(self.run_dir)
            kept = (
                f"the last good checkpoint is {found[0]}"
                if found
                else "no checkpoint was written yet"
            )
            bad = ", ".join(f"{k}={v}" for k, v in values.items() if not np.isfinite(v))
            raise TrainingDiverged(
                f"training diverged at epoch {self.epoch + 1}, step {self.step}: non-finite loss "
                f"({bad or 'on another rank'}); stopped without saving, {kept}"
            )
        return values

    def fit(self) -> Path:
        """Train until train.epochs; returns the run directory."""
        t = self.cfg.train
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.dist.is_main:
            with atomic_write(self.run_dir / CONFIG) as tmp:
                tmp.write_text(self.cfg.to_yaml())
            self.logs.forget_epochs_after(self.epoch)  # logged by a run killed before its save
        if self.epoch >= t.epochs:
            self.log(f"{self.run_dir.name}: already trained for {self.epoch} epochs; nothing to do")
            self._finish()
            return self.run_dir
        self.log(
            f"training {self.run_dir.name}: {t.phase}, epochs {self.epoch + 1}-{t.epochs}, "
            f"{self.data.n_train} images at {self.data.size}px, batch {t.batch_size}"
            f"{f' x {self.dist.world_size} processes' if self.dist.enabled else ''}, "
            f"on {self.device} ({self.precision}"
            + (", CUDA graph" if self.no_graph_reason is None else "")
            + (", data on the device" if isinstance(self.batches, DeviceBatches) else "")
            + ")"
        )
        try:
            while self.epoch < t.epochs:
                self._train_epoch()
        finally:
            self.logs.close()
        self._finish()
        return self.run_dir

    def _train_epoch(self) -> None:
        t = self.cfg.train
        self.G_train.train()
        if self.D is not None:
            self.D.train()
        self.loader.sampler.set_epoch(self.epoch, self.batch_in_epoch)
        sums = torch.tensor([self.sums.get(k, 0.0) for k in self.loss_names], device=self.device)
        window = torch.zeros_like(sums)
        window_start, window_images, window_steps = time.perf_counter(), 0, 0
        epoch_start, epoch_images = time.perf_counter(), 0
        bar = progress(
            total=len(self.loader), initial=self.batch_in_epoch, enabled=self.dist.is_main,
            desc=f"epoch {self.epoch + 1}/{t.epochs}", unit="batch", leave=False,
        )  # fmt: skip
        n = t.batch_size * self.dist.world_size
        with bar:
            for item in self.batches:
                step_losses = self._step(*self._step_inputs(item))
                sums += step_losses
                window += step_losses
                self.step += 1
                self.batch_in_epoch += 1
                epoch_images += n
                window_images += n
                window_steps += 1
                bar.update(1)
                if self.step % t.log_every == 0:
                    values = self._check_finite(window)
                    ips = window_images / (time.perf_counter() - window_start)
                    means = {k: v / window_steps for k, v in values.items()}
                    self.logs.scalars(self.step, {**means, "images_per_s": ips})
                    bar.set_postfix(
                        {k: f"{v:.3f}" for k, v in means.items()} | {"img/s": f"{ips:.1f}"}
                    )
                    window.zero_()
                    window_start, window_images, window_steps = time.perf_counter(), 0, 0
                if t.checkpoint_every and self.step % t.checkpoint_every == 0:
                    self.sums = self._check_finite(sums)
                    self._save()
        self.sums = self._check_finite(sums)
        batches = max(self.batch_in_epoch, 1)
        means = {k: v / batches for k, v in self.sums.items()}
        elapsed = time.perf_counter() - epoch_start
        self.epoch += 1
        self.batch_in_epoch = 0
        self.sums = {}
        self.sched_g.step()
        if self.sched_d is not None:
            self.sched_d.step()
        record: dict[str, Any] = {"epoch": self.epoch, "step": self.step, **means}
        record["lr_g"] = float(self.opt_g.param_groups[0]["lr"])  # a device tensor when captured
        record["images_per_s"] = round(epoch_images / max(elapsed, 1e-9), 2)
        record["seconds"] = round(elapsed, 2)
        if self.dist.is_main:
            record.update(self._validate())
        self.logs.epoch(record)
        self._save()
        if self.dist.is_main:
            self._export_generator()
            self._write_run_state()
        ddp.barrier(self.dist)
        summary = ", ".join(f"{k} {v:.4f}" for k, v in means.items())
        self.log(
            f"epoch {self.epoch}/{t.epochs}: {summary}"
            + (f", val_l1 {record['val_l1']:.4f}" if "val_l1" in record else "")
            + f" ({record['images_per_s']:.1f} img/s)"
        )

    @torch.no_grad()
    def _validate(self) -> dict[str, float]:
        """Val L1 on the first `val_images` validation images, and the sample grid."""
        t = self.cfg.train
        out: dict[str, float] = {}
        if self.data.n_val == 0:
            return out
        self.G.eval()
        try:
            val = make_loader(self.data, "val", t.batch_size, train=False, threads=0)
            total, count, first = 0.0, 0, None
            for batch in val:
                if count >= max(t.val_images, t.samples):
                    break
                L, ab = self._to_model(batch)
                with self._autocast():
                    fake = self.G(L).float()
                if first is None:
                    first = (L[: t.samples], fake[: t.samples], ab[: t.samples])
                if count < t.val_images:
                    total += (fake - ab).abs().mean(dim=(1, 2, 3)).sum().item()
                count += batch.shape[0]
            if t.val_images and count:
                out["val_l1"] = total / min(count, t.val_images)
            if first is not None and t.samples:
                grid = sample_grid(*(x.float() for x in first))
                save_image_atomic(grid, self.run_dir / SAMPLES / sample_name(self.epoch))
        finally:
            self.G.train()
        return out

    def _write_run_state(self) -> None:
        state = {
            "epoch": self.epoch,
            "epochs": self.cfg.train.epochs,
            "step": self.step,
            "phase": self.cfg.train.phase,
            "image_size": self.data.size,
            "data": str(self.data.root.resolve()),
            "world_size": self.dist.world_size,
        }
        with atomic_write(self.run_dir / RUN_STATE) as tmp:
            tmp.write_text(json.dumps(state, indent=2) + "\n")

    def _export_generator(self) -> None:
        save_generator(
            self.run_dir / GENERATOR, self.G, self.cfg.generator,
            image_size=self.data.size, epoch=self.epoch, phase=self.cfg.train.phase,
        )  # fmt: skip

    def _finish(self) -> None:
        if not self.dist.is_main:
            return
        if self._exported_epoch() != self.epoch:  # missing, or a kill came before its refresh
            self._export_generator()
        self._write_run_state()

    def _exported_epoch(self) -> int | None:
        from safetensors import safe_open

        try:
            with safe_open(str(self.run_dir / GENERATOR), framework="pt") as f:
                return json.loads((f.metadata() or {}).get("epoch", "null"))
        except Exception:  # missing or unreadable: either way it must be written
            return None


def _load_optimizer(opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """load_state_dict, keeping a learning rate that lives on the device (capturable Adam) a
    device tensor filled with the saved value, so a captured step still reads it."""
    rates = [g["lr"] for g in opt.param_groups]
    opt.load_state_dict(state)
    for group, rate in zip(opt.param_groups, rates, strict=True):
        if isinstance(rate, torch.Tensor):
            rate.fill_(float(group["lr"]))
            group["lr"] = rate


def _max_levels(size: int) -> int:
    levels = 0
    while size % 2 == 0 and size > 1:
        size //= 2
        levels += 1
    return levels


def train(
    cfg: RunConfig,
    data_dir: str | Path,
    run_dir: str | Path,
    *,
    resume: bool = False,
    allow_data_change: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Train a run, holding its lock (one process, or one torchrun group, per run directory)."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise KolorizeError(f"--run-dir {run_dir} is a file; name a folder for the run")
    main_process = os.environ.get("RANK", "0") == "0"
    with folder_lock(run_dir, "training in") if main_process else contextlib.nullcontext():
        if main_process and run_dir.is_dir():
            remove_stale_temps(run_dir)  # left by a killed run
        trainer = Trainer(
            cfg, data_dir, run_dir, resume=resume, allow_data_change=allow_data_change, log=log
        )
        try:
            return trainer.fit()
        finally:
            ddp.teardown()

"""The training loop: epochs of steps, logging, validation, checkpoints, resuming and stopping
on divergence. The parts come from build.py, one step of either phase from step.py.

    Trainer(cfg, data, run_dir)        the parts, in a fixed order (the random stream):
        networks, colour loss, precision, optimizers (D's in one optional Discriminator),
        then the newest checkpoint's state when resuming, the batches and the step
    fit()
        while epoch < train.epochs:
            _run_epoch_steps()         for each batch (a HostBatch or a DeviceBatch):
                take_step(batch)           step_runner(batch): phase_step (step.py's
                                           PretrainStep or GANStep), replayed as a CUDA
                                           graph when captured (graphs.py); then the EMA
                running means; log every train.log_every, checkpoint every
                train.checkpoint_every, stop early when train.budget_minutes is spent
            _end_epoch()               schedules, validation, metrics.jsonl, checkpoint,
                                       generator.safetensors, run.json

What a run's folder holds is rundir.py's to say. Training resumes exactly from the newest
checkpoint; raising train.epochs on a finished run and resuming continues it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from kolorize.atomic import remove_stale_temps, write_text_atomic
from kolorize.config import RunConfig, TrainConfig, from_dict
from kolorize.data.cache import ImageCache, manifest_digest
from kolorize.data.loader import Batch, DeviceBatches
from kolorize.device import cpu_name
from kolorize.errors import KolorizeError
from kolorize.locks import folder_lock
from kolorize.losses import GANLoss
from kolorize.models.files import read_generator_metadata, save_generator
from kolorize.progress import progress
from kolorize.rundir import CONFIG, GENERATOR, RUN_STATE, SAMPLES, sample_name
from kolorize.train import distributed as ddp
from kolorize.train import history
from kolorize.train.build import (
    adam,
    build_networks,
    choose_precision,
    colour_loss,
    for_training,
    linear_decay,
    load_optimizer_state,
    seed_everything,
    set_determinism,
    to_device,
    training_batches,
    training_colours,
    training_size,
)
from kolorize.train.checkpoint import (
    UnreadableCheckpoint,
    checkpoint_dir,
    latest_checkpoint,
    list_checkpoints,
    rng_state,
    save_checkpoint,
    set_aside,
    set_rng_state,
)
from kolorize.train.graphs import GraphedStep
from kolorize.train.logs import RunLog
from kolorize.train.running_means import LossSummary, RunningMeans
from kolorize.train.step import (
    Discriminator,
    DiscriminatorPair,
    GANStep,
    PretrainStep,
    StepSettings,
    TrainingStep,
    no_graph_reason,
)
from kolorize.train.threads import ThreadTuner
from kolorize.train.validate import validate


class TrainingDiverged(KolorizeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class Trainer:
    """One training run: its parts built from the config (or from the newest checkpoint, when
    resuming), trained to train.epochs by `fit`."""

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
            _check_same_networks(cfg, checkpoint)
        self.cfg = cfg
        gan_loss = _gan_loss(cfg.train, self.dist)
        set_determinism(cfg.train.deterministic)
        seed_everything(cfg.train.seed)

        self.data = ImageCache(data_dir)
        self.data_identity = {"size": self.data.size, "manifest": manifest_digest(data_dir)}
        if checkpoint is not None:
            self._check_same_data(checkpoint.get("data"), allow_data_change)
        self.image_size = training_size(cfg, self.data)
        D = self._build_networks(fresh=checkpoint is None)
        self.colours = training_colours(self.data)
        self.colour = colour_loss(cfg, self.colours)
        self.precision = choose_precision(
            cfg,
            self.device,
            self.G,
            D,
            self.image_size,
            resumed=checkpoint.get("precision") if checkpoint else None,
            log=self.log,
        )
        self.no_graph_reason = no_graph_reason(cfg.train, self.dist, gan_loss)
        self._build_optimizers(D, gan_loss, capturable=self.no_graph_reason is None)
        self._start_counters()
        if checkpoint is not None:
            self._restore(checkpoint)

        self.loader, self.batches = training_batches(cfg, self.data, self.dist)
        self.phase_step = self._build_step()
        self.loss_names = self.phase_step.loss_names
        self.step_runner: GraphedStep | TrainingStep = (
            GraphedStep(self.phase_step, log=self.log)
            if self.no_graph_reason is None
            else self.phase_step
        )
        self.logs = RunLog(self.run_dir, enabled=self.dist.is_main)
        self.threads = (  # a deterministic run keeps its thread count: it orders the sums
            ThreadTuner(log=self.log)
            if cfg.train.adaptive_threads
            and self.device.type == "cpu"
            and not cfg.train.deterministic
            else None
        )

    def _build_networks(self, *, fresh: bool) -> torch.nn.Module | None:
        """G (and its moving average) on the device; returns D on the device, for the gan
        phase."""
        train_cfg = self.cfg.train
        G, D = build_networks(self.cfg, self.image_size, fresh=fresh, log=self.log)
        self.G = to_device(G, self.dist, channels_last=train_cfg.channels_last)
        # the weights exported and validated: an average of G's recent weights, when asked for
        self.ema = (
            AveragedModel(
                self.G, multi_avg_fn=get_ema_multi_avg_fn(train_cfg.ema), use_buffers=True
            )
            if train_cfg.ema
            else None
        )
        if D is None:
            return None
        return to_device(D, self.dist, channels_last=train_cfg.channels_last)

    def _build_optimizers(
        self, D: torch.nn.Module | None, gan_loss: GANLoss | None, *, capturable: bool
    ) -> None:
        train_cfg = self.cfg.train
        self.opt_g = adam(self.G, train_cfg.lr_g, train_cfg, self.device, capturable=capturable)
        self.sched_g = linear_decay(self.opt_g, train_cfg)
        self.disc: Discriminator | None = None
        if D is not None and gan_loss is not None:  # both exactly in the gan phase
            opt_d = adam(D, train_cfg.lr_d, train_cfg, self.device, capturable=capturable)
            self.disc = Discriminator(D, opt_d, linear_decay(opt_d, train_cfg), gan_loss)

    def _start_counters(self) -> None:
        self.epoch = 0  # completed epochs
        self.step = 0  # optimizer steps taken
        self.batch_in_epoch = 0
        self.epoch_sums: dict[str, float] = {}  # the losses summed over this epoch's steps
        # this run's training so far, across resumes; and the training of the file it started from
        self.images_seen = 0
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.budget_seconds = 0.0  # CPU time over the threads used (train.budget_minutes)
        self._clock = (time.monotonic(), time.process_time())  # restarted as fit begins
        self.inherited = history.inherited(self.cfg.train.init_from)

    def _build_step(self) -> TrainingStep:
        train_cfg = self.cfg.train
        settings = StepSettings(
            self.device,
            self.precision,
            graphed=self.no_graph_reason is None,
            channels_last=train_cfg.channels_last,
            image_size=self.image_size,
        )
        compile_ = train_cfg.compile
        G = for_training(self.G, self.dist, compile_=compile_)
        if self.disc is None:
            return PretrainStep(G, self.opt_g, settings, self.colour)
        D_pair = for_training(DiscriminatorPair(self.disc.net), self.dist, compile_=compile_)
        classes = self.cfg.generator.output == "classes"
        weight = train_cfg.lambda_ce if classes else train_cfg.lambda_l1
        return GANStep(G, self.opt_g, self.disc, D_pair, weight, settings, self.colour)

    # -- resuming --------------------------------------------------------------------------

    def _checkpoint_to_resume(self, resume: bool) -> dict[str, Any] | None:
        unreadable: list[UnreadableCheckpoint] = []
        found = latest_checkpoint(self.run_dir, unreadable)
        if found is None:
            if list_checkpoints(self.run_dir):
                why = "; ".join(f"{e.path.name}: {e.reason}" for e in unreadable)
                raise KolorizeError(
                    f"no readable checkpoint in {checkpoint_dir(self.run_dir)} ({why})"
                )
            return None
        if not resume:
            raise KolorizeError(
                f"{self.run_dir} already holds a training run: pass --resume to continue it, "
                "or choose another --run-dir"
            )
        for e in unreadable:  # newer than the one resumed: training would overwrite them
            kept = set_aside(e.path) if self.dist.is_main else e.path
            self.log(
                f"warning: {e.path.name} cannot be read ({e.reason}); kept aside as {kept.name}"
            )
        path, state = found
        self.log(f"resuming from {path.name} (epoch {state['epoch']}, step {state['step']})")
        return state

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

    # -- state -----------------------------------------------------------------------------

    def _checkpoint_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "config": self.cfg.to_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "batch_in_epoch": self.batch_in_epoch,
            "sums": dict(self.epoch_sums),
            "precision": self.precision,
            "generator": self.G.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "sched_g": self.sched_g.state_dict(),
            "rng": rng_state(),
            "data": self.data_identity,
            "images_seen": self.images_seen,
            "seconds": self.seconds,
            "cpu_seconds": self.cpu_seconds,
            "budget_seconds": self.budget_seconds,
            "inherited": self.inherited,
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        if self.disc is not None:
            state.update(self.disc.state())
        return state

    def _restore(self, state: dict[str, Any]) -> None:
        """Weights, optimizers, schedules, counters and random state from a checkpoint."""
        self.G.load_state_dict(state["generator"])
        load_optimizer_state(self.opt_g, state["opt_g"])
        self.sched_g.load_state_dict(state["sched_g"])
        if self.disc is not None:
            self.disc.restore(state)
        if self.ema is not None:
            if "ema" in state:
                self.ema.load_state_dict(state["ema"])
            else:  # a checkpoint of before train.ema was set: the average starts here
                self.ema.update_parameters(self.G)
        self.epoch, self.step = state["epoch"], state["step"]
        self.batch_in_epoch = state["batch_in_epoch"]
        self.epoch_sums = dict(state["sums"])
        self.images_seen = int(state.get("images_seen", 0))
        self.seconds = float(state.get("seconds", 0.0))
        self.cpu_seconds = float(state.get("cpu_seconds", 0.0))
        self.budget_seconds = float(
            state.get("budget_seconds", self.cpu_seconds / torch.get_num_threads())
        )
        self.inherited = state.get("inherited", self.inherited)
        set_rng_state(state["rng"])

    def _save_checkpoint(self) -> None:
        # rank 0's BatchNorm statistics on every rank, so all go on from what is saved
        for net in self._networks():
            ddp.broadcast_buffers(net, self.dist)
        if self.dist.is_main:
            save_checkpoint(
                self.run_dir, self._checkpoint_state(), keep=self.cfg.train.keep_checkpoints
            )
        ddp.barrier(self.dist)

    # -- steps -----------------------------------------------------------------------------

    def _networks(self) -> list[torch.nn.Module]:
        return [self.G] if self.disc is None else [self.G, self.disc.net]

    def take_step(self, batch: Batch) -> torch.Tensor:
        """One optimisation step on a batch of `self.batches`, with no host sync: returns the
        losses stacked in the order of `loss_names`, in a buffer that the next step may
        overwrite (a captured graph's output)."""
        losses = self.step_runner(self.phase_step.on_device(batch))
        if self.ema is not None:
            self.ema.update_parameters(self.G)
        return losses

    @property
    def exported_net(self) -> torch.nn.Module:
        """The generator as exported and validated: the moving average when train.ema is set."""
        return self.ema.module if self.ema is not None else self.G

    @property
    def graph_captured(self) -> bool:
        runner = self.step_runner
        return isinstance(runner, GraphedStep) and runner.captured

    # -- the loop --------------------------------------------------------------------------

    def fit(self) -> Path:
        """Train until train.epochs; returns the run directory."""
        train_cfg = self.cfg.train
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.dist.is_main:
            write_text_atomic(self.run_dir / CONFIG, self.cfg.to_yaml())
            self.logs.forget_epochs_after(self.epoch)  # logged by a run killed before its save
        if self.epoch >= train_cfg.epochs or self._budget_spent():
            done = f"{self.epoch} epochs" if self.epoch >= train_cfg.epochs else "its budget"
            self.log(f"{self.run_dir.name}: already trained for {done}; nothing to do")
            self._refresh_run_files()
            return self.run_dir
        self.log(self._describe_start())
        self._clock = (time.monotonic(), time.process_time())
        try:
            while self.epoch < train_cfg.epochs:
                losses = self._run_epoch_steps()
                if losses is None:  # the budget ran out mid-epoch
                    self._save_checkpoint()
                    self.log(
                        f"{self.run_dir.name}: budget of {train_cfg.budget_minutes:g} minutes "
                        f"spent at epoch {self.epoch + 1}, step {self.step}; raise "
                        "train.budget_minutes and --resume to go on"
                    )
                    break
                self._end_epoch(losses)
        finally:
            self.logs.close()
        self._refresh_run_files()
        return self.run_dir

    def _describe_start(self) -> str:
        train_cfg = self.cfg.train
        size = f"{self.data.size}px" + (
            f" -> {self.image_size}px" if self.image_size != self.data.size else ""
        )
        return (
            f"training {self.run_dir.name}: {train_cfg.phase}, "
            f"epochs {self.epoch + 1}-{train_cfg.epochs}, {self.data.n_train} images at {size}"
            + (f" (crops of side >= {train_cfg.crop_min:g})" if train_cfg.crop_min < 1 else "")
            + f", batch {train_cfg.batch_size}"
            f"{f' x {self.dist.world_size} processes' if self.dist.enabled else ''}, "
            f"on {self.device} ({self.precision}"
            + (", CUDA graph" if self.no_graph_reason is None else "")
            + (", data on the device" if isinstance(self.batches, DeviceBatches) else "")
            + ")"
        )

    def _tick(self) -> None:
        """Add the time since the last tick to this run's training time."""
        wall, cpu = time.monotonic(), time.process_time()
        self.seconds += wall - self._clock[0]
        self.cpu_seconds += cpu - self._clock[1]
        self.budget_seconds += (cpu - self._clock[1]) / torch.get_num_threads()
        self._clock = (wall, cpu)

    def _budget_spent(self) -> bool:
        """train.budget_minutes counts this process's CPU time over its threads: the wall time
        of a run alone on the machine, and what it really got when others share it."""
        budget = self.cfg.train.budget_minutes
        return bool(budget) and self.budget_seconds >= budget * 60

    def _run_epoch_steps(self) -> LossSummary | None:
        """The steps of an epoch (the rest of one, when resumed mid-way), logging means every
        train.log_every steps and checkpointing every train.checkpoint_every; returns the
        epoch's losses, or None when train.budget_minutes ran out first."""
        train_cfg = self.cfg.train
        for net in self._networks():
            net.train()
        self.loader.sampler.set_epoch(self.epoch, self.batch_in_epoch)
        epoch = RunningMeans(
            self.loss_names, self.device, sums=self.epoch_sums, steps=self.batch_in_epoch
        )
        window = RunningMeans(self.loss_names, self.device)
        bar = progress(
            total=len(self.loader),
            initial=self.batch_in_epoch,
            enabled=self.dist.is_main,
            desc=f"epoch {self.epoch + 1}/{train_cfg.epochs}",
            unit="batch",
            leave=False,
        )
        with bar:
            for batch in self.batches:
                losses = self._timed_step(batch)
                # a set smaller than one batch per process comes as one short batch
                images = len(batch) * self.dist.world_size
                epoch.add(losses, images)
                window.add(losses, images)
                self.step += 1
                self.batch_in_epoch += 1
                self.images_seen += images
                self._tick()
                bar.update(1)
                if self.step % train_cfg.log_every == 0:
                    self._log_window(window.read(), bar)
                    window.restart()
                if train_cfg.checkpoint_every and self.step % train_cfg.checkpoint_every == 0:
                    self._keep_epoch_sums(epoch)
                    self._save_checkpoint()
                if self._budget_spent() and self.batch_in_epoch < len(self.loader):
                    self._keep_epoch_sums(epoch)
                    return None
        losses = epoch.read()
        self._stop_if_diverged(losses.sums)
        return losses

    def _timed_step(self, batch: Batch) -> torch.Tensor:
        """take_step, with the thread count chosen around it (train.adaptive_threads)."""
        if self.threads is None:
            return self.take_step(batch)
        self.threads.before_step()
        losses = self.take_step(batch)
        self.threads.after_step()
        return losses

    def _keep_epoch_sums(self, epoch: RunningMeans) -> None:
        """The epoch's sums so far, for a checkpoint taken mid-epoch: checked finite first."""
        self.epoch_sums = epoch.sums()
        self._stop_if_diverged(self.epoch_sums)

    def _log_window(self, losses: LossSummary, bar: Any) -> None:
        self._stop_if_diverged(losses.sums)
        self.logs.scalars(self.step, {**losses.means, "images_per_s": losses.images_per_s})
        bar.set_postfix(
            {k: f"{v:.3f}" for k, v in losses.means.items()}
            | {"img/s": f"{losses.images_per_s:.1f}"}
        )

    def _step_schedules(self) -> None:
        with warnings.catch_warnings():
            # A run resumed from a checkpoint taken at an epoch's last batch ends that epoch
            # before its first optimizer step: the order is right, PyTorch's warning is not
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step")
            self.sched_g.step()
            if self.disc is not None:
                self.disc.schedule.step()

    def _end_epoch(self, losses: LossSummary) -> None:
        """Count the epoch done, step the schedules, validate, log it, checkpoint it and
        refresh the exported generator and run.json."""
        train_cfg = self.cfg.train
        self._tick()
        self.epoch += 1
        self.batch_in_epoch = 0
        self.epoch_sums = {}
        self._step_schedules()
        record: dict[str, Any] = {"epoch": self.epoch, "step": self.step, **losses.means}
        record["lr_g"] = float(self.opt_g.param_groups[0]["lr"])  # a device tensor when captured
        record["images_per_s"] = round(losses.images_per_s, 2)
        record["seconds"] = round(losses.seconds, 2)
        if self.dist.is_main:
            samples = self.run_dir / SAMPLES / sample_name(self.epoch)
            record.update(
                validate(self.exported_net, self.data, train_cfg, self.phase_step, samples)
            )
        self.logs.epoch(record)
        self._save_checkpoint()
        if self.dist.is_main:
            self._export_generator()
            self._write_run_state()
        ddp.barrier(self.dist)
        summary = ", ".join(f"{k} {v:.4f}" for k, v in losses.means.items())
        self.log(
            f"epoch {self.epoch}/{train_cfg.epochs}: {summary}"
            + (f", val_l1 {record['val_l1']:.4f}" if "val_l1" in record else "")
            + f" ({record['images_per_s']:.1f} img/s)"
        )

    def _stop_if_diverged(self, losses: dict[str, float]) -> None:
        """Raise TrainingDiverged on every rank together if any rank's losses are not all
        finite (nothing is saved: the last checkpoint stays the last good one)."""
        finite = all(np.isfinite(v) for v in losses.values())
        if ddp.all_ranks_agree(finite, self.dist):
            return
        found = latest_checkpoint(self.run_dir)
        kept = (
            f"the last good checkpoint is {found[0]}" if found else "no checkpoint was written yet"
        )
        bad = ", ".join(f"{k}={v}" for k, v in losses.items() if not np.isfinite(v))
        raise TrainingDiverged(
            f"training diverged at epoch {self.epoch + 1}, step {self.step}: non-finite loss "
            f"({bad or 'on another rank'}); stopped without saving, {kept}"
        )

    def _write_run_state(self) -> None:
        state = {
            "epoch": self.epoch,
            "epochs": self.cfg.train.epochs,
            "step": self.step,
            "phase": self.cfg.train.phase,
            "image_size": self.image_size,
            "data": str(self.data.root.resolve()),
            "world_size": self.dist.world_size,
        }
        write_text_atomic(self.run_dir / RUN_STATE, json.dumps(state, indent=2) + "\n")

    def _export_generator(self) -> None:
        self._tick()
        where = cpu_name() if self.device.type == "cpu" else torch.cuda.get_device_name(self.device)
        entry = history.stage(
            self.cfg,
            run=self.run_dir.name,
            images=self.images_seen,
            seconds=self.seconds,
            cpu_seconds=self.cpu_seconds,
            image_size=self.image_size,
            machine=where,
            precision=self.precision,
            world_size=self.dist.world_size,
        )
        save_generator(
            self.run_dir / GENERATOR,
            self.exported_net,
            self.cfg.generator,
            image_size=self.image_size,
            epoch=self.epoch,
            step=self.step,
            phase=self.cfg.train.phase,
            crop_min=self.cfg.train.crop_min,
            mean_ab=[round(v, 3) for v in self.colours.mean_ab],
            **self._class_weights(),
            **{history.TRAINING: history.combined(self.inherited, entry)},
        )

    def _class_weights(self) -> dict[str, Any]:
        """A classes model's rebalancing weights, so its decoding can undo them later."""
        weights = getattr(self.colour, "weights", None)
        if weights is None:
            return {}
        return {"class_weights": [round(float(w), 5) for w in weights]}

    def _refresh_run_files(self) -> None:
        """The exported generator (when older than the run) and run.json, as the run ends."""
        if not self.dist.is_main:
            return
        if self._exported_step() != self.step:  # missing, or a kill came before its refresh
            self._export_generator()
        self._write_run_state()

    def _exported_step(self) -> int | None:
        try:
            meta = read_generator_metadata(self.run_dir / GENERATOR)
        except KolorizeError:  # missing or unreadable: either way it must be written
            return None
        return meta.get("step")


def _gan_loss(train_cfg: TrainConfig, dist: ddp.DistInfo) -> GANLoss | None:
    """The gan phase's loss (None when pretraining), checked to work across processes."""
    if train_cfg.phase != "gan":
        return None
    gan_loss = GANLoss(train_cfg.gan_loss, gp_weight=train_cfg.gp_weight)
    if gan_loss.has_gradient_penalty and dist.enabled:
        raise KolorizeError(
            f"train.gan_loss={train_cfg.gan_loss} does not support multi-process training"
        )
    return gan_loss


def _check_same_networks(cfg: RunConfig, checkpoint: dict[str, Any]) -> None:
    saved = from_dict(checkpoint["config"])
    if saved.generator != cfg.generator or saved.discriminator != cfg.discriminator:
        raise KolorizeError(
            "the networks in this config differ from the run being resumed; "
            "resume with the run's own config (or start a new --run-dir)"
        )


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

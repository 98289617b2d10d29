"""The one outer loop, for every task family and every algorithm.

Order of each iteration, as in nanoGPT: validate and checkpoint -> sample tasks -> outer gradient
-> outer step -> log -> stop. accelerate places the model; the trainer knows no task family.
Its parts: the device and precision (device.py), checkpoints and resume (checkpoints.py),
validation and the best checkpoint (validation.py), and the limits that end a run, with the
progress bar (limits.py).
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import time
import warnings
from functools import partial
from pathlib import Path

import torch

from metanmt import threads
from metanmt.algorithms.base import raw_weight
from metanmt.config import RunConfig
from metanmt.folder_lock import hold_folder
from metanmt.run import ALGO_PREFIX, Run, build_run, export_best
from metanmt.run_folder import CHECKPOINTS, METRICS, RunFolder
from metanmt.schema import check_defaults
from metanmt.tasks import Task, TaskFamily
from metanmt.trainer.checkpoints import Checkpoints
from metanmt.trainer.device import autocast_for, make_accelerator
from metanmt.trainer.distributed import (
    DROPOUT_STREAM,
    any_process,
    own_slots,
    slot_generators,
    stream_seeds,
    sum_across_processes,
)
from metanmt.trainer.limits import Limits, Progress
from metanmt.trainer.logger import MetricLogger
from metanmt.trainer.memory import bound_heap_growth, return_freed_memory
from metanmt.trainer.schedule import build_schedule, expected_steps
from metanmt.trainer.validation import Validation

log = logging.getLogger(__name__)

# Batches of ever-changing shapes leave glibc's heap fragmented: on CPU the resident memory of a
# translation run crept from ~0.7 to 2.3 GB over 40 steps. Handing freed pages back after every
# step held it near 850 MB for -13% speed (BENCHMARKS.md); every 10 steps is a guess at the
# trade-off, not yet measured.
TRIM_EVERY = 10


class RunExistsError(ValueError):
    """Training without --resume into a folder that holds a run."""


class Trainer(Checkpoints, Validation):
    def __init__(self, config: RunConfig, family: TaskFamily | None = None, log: bool = True):
        self.config, t = config, config.train
        self.exported: Path | None = None  # where fit(export=True) put the best checkpoint
        check_defaults(t, "train.")  # a config changed in code gets the checks YAML gets
        bound_heap_growth()
        self.accelerator = make_accelerator(t.device)
        self.autocast = autocast_for(self.accelerator, t.mixed_precision)
        self.device = self.accelerator.device
        self.run = build_run(config, self.device, family)
        self.family, self.model, self.algorithm = (
            self.run.family,
            self.run.model,
            self.run.algorithm,
        )
        self.params = self.run.params
        self.loss_fn = partial(self.family.loss, self.model)
        trainable = list(self.params.values()) + list(self.algorithm.parameters())
        optimizer = (torch.optim.Adam if t.outer_optimizer == "adam" else torch.optim.SGD)(
            trainable, lr=t.outer_lr
        )
        # Not accelerator.prepare(): the trainer all-reduces the outer gradient itself, and the
        # wrapper's per-step checks cost more than a small model's whole outer update.
        self.optimizer = optimizer
        self.slots = own_slots(
            t.meta_batch, self.accelerator.process_index, self.accelerator.num_processes
        )
        # A family that chooses checkpoints itself (translation's fine-tune-then-BLEU) needs none.
        self.val_tasks = (
            []
            if self.family.own_validation
            else self.family.sample_batch(
                "val", t.eval_tasks, torch.Generator().manual_seed(t.seed + 10_007)
            )
        )
        # Test tasks only draw the learning curve; the checkpoint is chosen on validation tasks.
        self.curve_tasks = self.family.sample_batch(
            "test", t.curve_tasks, torch.Generator().manual_seed(1234)
        )
        self.step, self.best, self.elapsed, self.skipped = 0, math.nan, 0.0, 0
        self.peak_rss_mib = 0.0  # the training processes' peak resident memory, on this machine
        self.cost = (
            0  # training cost so far (family.cost_unit: tasks, target tokens), all processes
        )
        self.val_metric, self.val_higher = self.family.validation_metric()
        self.out = Path(config.out_dir)
        self.run_folder = RunFolder(self.out)
        self.log_enabled = log and self.accelerator.is_main_process
        self.logger: MetricLogger | None = None
        self.schedule = build_schedule(
            t.lr_schedule, t.warmup_steps, t.warmup_fraction, self.expected_steps()
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self.schedule)

    def expected_steps(self) -> int:
        """The steps this run will take, which the schedule is laid over: train.steps, or fewer
        where train.max_cost ends it first. A time limit cannot be foreseen: said, when it would
        leave a schedule that needs the run's length half-done."""
        t = self.config.train

        def step_costs(count: int) -> list[float]:  # the meta-batches training will draw
            every = range(t.meta_batch)
            return [
                sum(self.task_cost(task) for task in self.sample_slots(every, step))
                for step in range(count)
            ]

        needs_length = t.warmup_fraction > 0 or t.lr_schedule in ("linear", "cosine")
        if needs_length and t.time_limit_minutes and not t.max_cost and self.log_enabled:
            log.warning(
                f"the learning-rate schedule is laid over train.steps={t.steps:,}; a run "
                f"that train.time_limit_minutes ends first gets only part of it (give "
                f"train.steps or train.max_cost to fit it to the run)"
            )
        return expected_steps(t.steps, t.max_cost if needs_length else 0, step_costs)

    # -- the loop ------------------------------------------------------------------------------
    def sample_slots(self, slots, step: int | None = None) -> list[Task]:
        """The training tasks in ``slots`` of the meta-batch of ``step``, with dropout seeds."""
        step = self.step if step is None else step
        seed = self.config.train.seed
        tasks = self.family.sample_slots("train", slot_generators(seed, step, slots))
        for task, dropout_seed in zip(tasks, stream_seeds(seed, step, slots, DROPOUT_STREAM)):
            task.seed = dropout_seed
        return tasks

    def task_cost(self, task: Task) -> int:
        """A task's training cost under train.convention: all it reads, or the half (halves)
        its outer gradient is made from."""
        if self.config.train.convention == "updates":
            return self.family.task_cost(task, self.algorithm.updates_from)
        return self.family.task_cost(task)

    def train_step(self) -> dict[str, float]:
        t = self.config.train
        self.algorithm.rate_factor = self.schedule(self.step)  # inner_lr_schedule=outer follows it
        if self.step % TRIM_EVERY == 0:
            return_freed_memory()
        self.model.train()
        tasks = self.sample_slots(self.slots)
        if self.device.type != "cpu":
            tasks = [self.family.task_to(task, self.device) for task in tasks]
        with self.autocast():  # tasks weighted by their raw weights; normalised after the sum
            grads, stats = self.algorithm.outer_grads(
                self.loss_fn, self.params, tasks, self.family.stackable, weight_total=1.0
            )
        slot_losses = torch.zeros(t.meta_batch, dtype=torch.float64)
        slot_losses[list(self.slots)] = torch.tensor(stats["task_losses"], dtype=torch.float64)
        names = list(grads)
        cost = sum(map(self.task_cost, tasks))
        totals = torch.tensor(
            [stats["loss"], sum(map(raw_weight, tasks)), cost], dtype=torch.float64
        )
        *summed, totals, slot_losses = sum_across_processes([*grads.values(), totals, slot_losses])
        weight = float(totals[1])
        grads = {n: g.div_(weight) for n, g in zip(names, summed)}
        stats = {"loss": float(totals[0]) / weight}
        self.cost += int(totals[2])
        own = dict(self.algorithm.named_parameters())
        for name, p in self.params.items():
            p.grad = grads[name]
        for name, p in own.items():
            p.grad = grads.get(ALGO_PREFIX + name)
        everything = [*self.params.values(), *own.values()]
        norm = torch.nn.utils.get_total_norm([p.grad for p in everything if p.grad is not None])
        stats["grad_norm"] = float(norm)
        stats["lr"] = self.optimizer.param_groups[0]["lr"]  # this step's rate (the schedule's)
        if not (math.isfinite(stats["loss"]) and math.isfinite(stats["grad_norm"])):
            self.non_finite(stats, slot_losses)
        else:
            if t.grad_clip > 0:
                torch.nn.utils.clip_grads_with_norm_(everything, t.grad_clip, norm)
            self.optimizer.step()
        with warnings.catch_warnings():  # a skipped first step: the schedule still advances
            warnings.filterwarnings("ignore", re.escape("Detected call of `lr_scheduler.step()`"))
            self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return stats

    def non_finite(self, stats: dict, slot_losses: torch.Tensor) -> None:
        """Stop, naming the step and tasks (the last good checkpoint stays), or skip and count."""
        bad = [i for i, value in enumerate(slot_losses.tolist()) if not math.isfinite(value)]
        tasks = (
            ", ".join(
                f"slot {i} ({self.family.describe_task(self.sample_slots([i])[0])}: "
                f"loss {slot_losses[i].item()})"
                for i in bad
            )
            or "every task loss finite"
        )
        what = (
            f"non-finite meta-loss {stats['loss']}"
            if not math.isfinite(stats["loss"])
            else f"non-finite outer gradient (norm {stats['grad_norm']})"
        )
        t = self.config.train
        if t.on_nonfinite == "skip" and self.skipped < t.max_skipped_steps:
            self.skipped += 1
            if self.log_enabled:
                log.warning(
                    f"skipped step {self.step}: {what}; tasks {tasks} "
                    f"({self.skipped} of at most {t.max_skipped_steps} skipped)"
                )
            return
        also = f" after {self.skipped} skipped steps" if self.skipped else ""
        kept = (
            f"The last good checkpoint is kept in {self.run_folder.checkpoints}"
            if self.run_folder.checkpoints.is_dir()
            else "No checkpoint was saved before it, so there is nothing to resume"
        )
        raise FloatingPointError(
            f"{what} at step {self.step}{also}; tasks: {tasks}. {kept}"
            + (
                ""
                if t.on_nonfinite == "skip"
                else "; train.on_nonfinite=skip skips rare bad batches"
            )
        )

    def settings(self) -> dict:
        """What the loop and its objects use, by train.* key (read back from the objects)."""
        t = self.config.train
        built = "bf16" if self.autocast.keywords["enabled"] else "no"
        return {
            **vars(t),
            "lr_schedule": self.schedule.kind,
            "outer_optimizer": type(self.optimizer).__name__.lower(),
            "outer_lr": self.optimizer.param_groups[0]["initial_lr"],
            "meta_batch": self.slots.stop,
            "eval_tasks": len(self.val_tasks),
            "curve_tasks": len(self.curve_tasks),
            "mixed_precision": built,
            "device": "auto" if t.device == "auto" else self.device.type,
        }

    def saved_run_here(self) -> bool:
        """Whether out_dir already holds a run (on any process: they share the folder)."""
        here = self.run_folder.holds_run()
        return any_process(here, self.device)

    def remove_run_files(self) -> None:
        """Remove what a run writes into out_dir (nothing else there)."""
        if self.accelerator.is_main_process:
            for path in self.run_folder.training_outputs():
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)

    def clear(self) -> None:
        self.remove_run_files()
        self.accelerator.wait_for_everyone()

    def fit(self, resume: bool = False, overwrite: bool = False, export: bool = False) -> Run:
        """Train to the first limit (steps, cost, time). A folder that holds a run is continued
        with ``resume``, replaced with ``overwrite``, and otherwise refused, never written over.
        One process writes a run folder: the main one checks and locks it for all, so another
        training there is refused. ``export``: then the best checkpoint is exported for use
        (where the family does; ``self.exported``), under the same lock."""
        if not self.accelerator.is_main_process:
            return self._fit(resume, overwrite)
        with hold_folder(self.config.out_dir, "out_dir"):
            run = self._fit(resume, overwrite)
            self.exported = export_best(self.out) if export else None
            return run

    def _fit(self, resume: bool, overwrite: bool) -> Run:
        t = self.config.train
        if resume:
            if not self.resume() and self.log_enabled:
                log.warning(
                    f"no checkpoint in {self.run_folder.last} to resume from: "
                    f"starting a new run there"
                )
        elif self.saved_run_here():
            if not overwrite:
                raise RunExistsError(
                    f"{self.out} already holds a run ({CHECKPOINTS}/, {METRICS}): "
                    f"--resume continues it, --overwrite replaces it, or choose "
                    f"another out_dir"
                )
            self.clear()
        self.logger = MetricLogger(self.out, self.log_enabled, self.step if resume else None)
        if self.log_enabled:  # what is being trained, written from the built objects
            self.run_folder.signature.write_text(self.signature() + "\n")
        if self.log_enabled and self.accelerator.num_processes > 1:
            log.info(
                f"{self.accelerator.num_processes} processes "
                f"({self.accelerator.distributed_type.value}, {self.device.type}), "
                f"meta-batch of {t.meta_batch} split {len(self.slots)}+ tasks each"
            )
        try:
            self.loop()
        except BaseException:
            self.logger.close()
            if not self.run_folder.checkpoints.exists():  # nothing to resume: leave no half run
                self.remove_run_files()
            raise
        return self.run

    def loop(self) -> None:
        t = self.config.train
        start_time = time.perf_counter() - self.elapsed
        limits, running = Limits(self), []
        bar = Progress(self, enabled=self.log_enabled)
        try:  # a resumed run may be done already
            while limits.running():
                cost_before = self.cost
                stats = self.train_step()
                self.step += 1
                threads.adjust()  # under threads=auto: follow other processes' load
                if math.isfinite(stats["loss"]):
                    running.append(stats["loss"])
                bar.update()
                self.elapsed = time.perf_counter() - start_time
                if (self.step % t.log_every == 0 or self.step == t.steps) and running:
                    self.log_training(running, stats, bar)
                    running = []
                reached = limits.reached()
                self.checkpoint(cost_before, done=self.step == t.steps or reached is not None)
                if reached is not None:
                    if self.log_enabled:
                        log.info(f"{reached} reached at step {self.step}")
                    break
        finally:  # before any message: an error or Ctrl-C is then its own line
            bar.close()
        self.logger.close()
        self.accelerator.wait_for_everyone()  # the main process has written the last checkpoint

    def log_training(self, running: list[float], stats: dict[str, float], bar: Progress) -> None:
        """The mean training loss since the last log line, with this step's gradient norm, rate,
        training cost (and the steps skipped), into metrics.csv and the bar."""
        logged = {
            "train/loss": sum(running) / len(running),
            "train/grad_norm": stats["grad_norm"],
            "train/lr": stats["lr"],
        }
        logged[f"train/{self.family.cost_unit}"] = self.cost
        if self.skipped:
            logged["train/skipped_steps"] = self.skipped
        self.logger.log(self.step, self.elapsed, logged)
        bar.show(loss=f"{logged['train/loss']:.4f}")

    def checkpoint(self, cost_before: int, done: bool) -> None:
        """After a step: keep the weights at each train.keep_checkpoints_at cost it passed,
        validate (and keep ``best``) every eval_every steps, save ``last`` every
        checkpoint_every; all of it when the run is ``done``."""
        t = self.config.train
        for milestone in t.keep_checkpoints_at:
            if cost_before < milestone <= self.cost:
                self.save(self.run_folder.checkpoint_at(milestone))
        if done:  # saved before the last validation too: a failure there loses no training
            self.save(self.run_folder.last)
        if self.step % t.eval_every == 0 or done:
            self.validate_and_keep_best()
        if self.step % t.checkpoint_every == 0 or done:
            self.save(self.run_folder.last)

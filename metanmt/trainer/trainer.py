"""The one outer loop, for every task family and every algorithm.

Order of each iteration, as in nanoGPT: validate and checkpoint -> sample tasks -> outer gradient
-> outer step -> log -> stop. accelerate places the model; the trainer knows no task family.
"""

from __future__ import annotations

import math
import random
import re
import shutil
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from metanmt import threads
from metanmt.algorithms.base import raw_weight
from metanmt.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from metanmt.config import RunConfig, config_to_dict, resume_differences
from metanmt.evaluation.evaluate import adaptation_curve
from metanmt.files import previous
from metanmt.folder_lock import hold_folder, writable_folder
from metanmt.progress import progress_bar
from metanmt.run import ALGO_PREFIX, Run, build_run, load_weights
from metanmt.run_folder import CHECKPOINTS, METRICS, RunFolder
from metanmt.schema import check_defaults
from metanmt.tasks import Task, TaskFamily
from metanmt.trainer.distributed import (
    DROPOUT_STREAM,
    any_process,
    own_slots,
    slot_generators,
    stream_seeds,
    sum_across_processes,
)
from metanmt.trainer.logger import MetricLogger
from metanmt.trainer.memory import bound_heap_growth, peak_resident_mib, return_freed_memory
from metanmt.trainer.schedule import build_schedule, expected_steps

# Batches of ever-changing shapes leave glibc's heap fragmented: on CPU the resident memory of a
# translation run crept from ~0.7 to 2.3 GB over 40 steps. Handing freed pages back after every
# step held it near 850 MB for -13% speed (BENCHMARKS.md); every 10 steps is a guess at the
# trade-off, not yet measured.
TRIM_EVERY = 10


def make_accelerator(device: str) -> Accelerator:
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"train.device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device is 'cuda' but no CUDA device is available")
    # cpu=True also where there is no GPU at all: accelerate then joins the processes with gloo.
    return Accelerator(cpu=device == "cpu" or not torch.cuda.is_available())


def autocast_for(accelerator: Accelerator, mixed_precision: str):
    """bf16 autocast from the config or from ``accelerate launch --mixed_precision bf16``.

    Our own context rather than accelerate's: its precision is fixed once per process, and a
    notebook or a test may build trainers of both kinds. Weights and outer gradients stay float32.
    """
    if mixed_precision == "no":
        mixed_precision = accelerator.mixed_precision
    if mixed_precision not in ("no", "bf16"):
        raise ValueError(
            f"mixed precision must be no or bf16, got {mixed_precision!r} "
            f"(fp16 would need loss scaling)"
        )
    return partial(
        torch.autocast, accelerator.device.type, torch.bfloat16, enabled=mixed_precision == "bf16"
    )


def rng_states() -> dict:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class RunExistsError(ValueError):
    """Training without --resume into a folder that holds a run."""


class Progress:
    """A bar against whichever limit will end the run first: outer steps, the training cost, or
    the time limit (the one furthest along ends first at steady rates)."""

    def __init__(self, trainer: Trainer, enabled: bool):
        t, unit = trainer.config.train, trainer.family.cost_unit.replace("_", " ")
        self.trainer = trainer
        self.limits = [(f"{t.steps:,} steps", lambda: trainer.step / t.steps)]
        if t.max_cost:
            self.limits.append((f"{t.max_cost:,} {unit}", lambda: trainer.cost / t.max_cost))
        if t.time_limit_minutes:
            self.limits.append(
                (
                    f"{t.time_limit_minutes:g} minutes",
                    lambda: trainer.elapsed / 60 / t.time_limit_minutes,
                )
            )
        self.bar = progress_bar(
            total=1000,
            enabled=enabled,
            mininterval=2,
            dynamic_ncols=True,
            desc=f"{trainer.config.family}/{trainer.algorithm.name}",
            bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
        )
        self.show()

    def binding(self) -> tuple[str, float]:
        name, fraction = max(((n, f()) for n, f in self.limits), key=lambda item: item[1])
        return name, min(fraction, 1.0)

    def update(self) -> None:
        name, fraction = self.binding()
        self.bar.update(round(1000 * fraction) - self.bar.n)
        if name != self.bar.postfix_name:  # at step 0 every limit ties: name the one that binds
            self.show()

    def show(self, **values) -> None:
        name, _ = self.binding()
        self.bar.postfix_name = name
        self.bar.set_postfix(step=self.trainer.step, **values, until=name)

    def close(self) -> None:
        self.bar.close()


class Trainer:
    def __init__(self, config: RunConfig, family: TaskFamily | None = None, log: bool = True):
        self.config, t = config, config.train
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
            tqdm.write(
                f"the learning-rate schedule is laid over train.steps={t.steps:,}; a run "
                f"that train.time_limit_minutes ends first gets only part of it (give "
                f"train.steps or train.max_cost to fit it to the run)"
            )
        return expected_steps(t.steps, t.max_cost if needs_length else 0, step_costs)

    # -- checkpoints -------------------------------------------------------------------------
    def state(self) -> dict:
        """Everything besides the weights that the next step depends on. The task streams are
        stateless (seeded by step), so the step is also the sampler's position."""
        return {
            "step": self.step,
            "best": self.best,
            "elapsed": self.elapsed,
            "skipped": self.skipped,
            "cost": self.cost,
            "cost_unit": self.family.cost_unit,
            "peak_rss_mib": max(self.peak_rss_mib, peak_resident_mib()),
            "signature": self.signature(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng_states(),
        }

    def save(self, folder: Path) -> None:
        """The checkpoint ``folder`` (one of ``self.run_folder``'s), written by the main process."""
        if self.accelerator.is_main_process:
            save_checkpoint(
                folder,
                self.run.tensors(),
                config_to_dict(self.config),
                self.state(),
            )

    def resume(self) -> bool:
        """Continue from ``checkpoints/last`` if there is one; return whether it did."""
        folder = self.run_folder.last
        try:
            tensors, saved_config, state = load_checkpoint(folder)
        except CheckpointError:
            if folder.exists() or previous(folder).exists():
                raise
            return False
        if saved_config.get("family") != self.config.family:
            raise CheckpointError(
                f"checkpoint {folder} is a {saved_config.get('family')!r} run, "
                f"this config trains {self.config.family!r}"
            )
        changed = resume_differences(saved_config, self.config, str(self.out))
        if changed and self.log_enabled:  # applied, and written with the next checkpoint
            tqdm.write(
                f"resuming {self.out} with {'; '.join(changed)} (the learning-rate "
                f"schedule stays as it was laid over the run)"
            )
        load_weights(self.run, tensors, folder)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if "rng" not in state:
            raise CheckpointError(
                f"checkpoint {folder} was written by an older metanmt without "
                f"random generator states; it cannot be resumed exactly"
            )
        set_rng_states(state["rng"])
        self.step, self.best, self.elapsed = state["step"], state["best"], state["elapsed"]
        self.peak_rss_mib = state.get("peak_rss_mib", 0.0)  # of the processes before the resume
        self.skipped = state.get("skipped", 0)
        self.cost = state["cost"]
        return True

    # -- the loop ------------------------------------------------------------------------------
    def measure(self, tasks) -> float:
        """Mean headline metric on ``tasks`` after ``eval_steps`` test-time steps (the processes
        share the tasks out and add up)."""
        steps = self.config.train.eval_steps or self.algorithm.inner_steps
        mine = tasks[self.accelerator.process_index :: self.accelerator.num_processes]
        total = torch.zeros(2, dtype=torch.float64)
        if mine:
            self.model.eval()  # no dropout while measuring
            with self.autocast():
                curves = adaptation_curve(
                    self.family,
                    self.model,
                    self.algorithm,
                    self.params,
                    mine,
                    [steps],
                    device=self.device,
                )
            total[0], total[1] = curves[self.family.metric_name][:, 0].double().sum(), len(mine)
        (total,) = sum_across_processes([total.to(self.device)])
        return float(total[0] / total[1])

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
                tqdm.write(
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

    def validate(self) -> float:
        """What picks the best checkpoint: the family's own validation if it has one (it runs on
        every process alike), else the headline metric on the validation tasks."""
        if not self.family.own_validation:
            return self.measure(self.val_tasks)
        with torch.random.fork_rng(devices=[]):
            return self.family.validate(self.model, self.params)

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

    def signature(self) -> str:
        """The run's signature (Run.signature) with the outer loop as built."""
        t, group = self.config.train, self.optimizer.param_groups[0]
        limit = f"|max_{self.family.cost_unit}:{t.max_cost}" if t.max_cost else ""
        if t.convention != "compute":  # (compute: the signatures of runs made before the key)
            limit += f"|convention:{t.convention}"
        return (
            f"{self.run.signature()}|meta_batch:{t.meta_batch}|outer:"
            f"{type(self.optimizer).__name__.lower()}@{group['initial_lr']:g}"
            f"|lr:{self.schedule.describe()}{limit}"
        )

    def _better(self, value: float) -> bool:
        if math.isnan(self.best):
            return True
        return value > self.best if self.val_higher else value < self.best

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

    def fit(self, resume: bool = False, overwrite: bool = False) -> Run:
        """Train to the first limit (steps, cost, time). A folder that holds a run is continued
        with ``resume``, replaced with ``overwrite``, and otherwise refused, never written over.
        One process writes a run folder: another one training there is refused (its lock)."""
        writable_folder(self.config.out_dir, "out_dir")
        if not self.accelerator.is_main_process:  # the main process holds the lock for all
            return self._fit(resume, overwrite)
        with hold_folder(self.out, "out_dir"):
            return self._fit(resume, overwrite)

    def _fit(self, resume: bool, overwrite: bool) -> Run:
        t = self.config.train
        if resume:
            if not self.resume() and self.log_enabled:
                tqdm.write(
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
            tqdm.write(
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
        metric = self.family.metric_name
        start_time = time.perf_counter() - self.elapsed
        running = []
        limit = 60 * t.time_limit_minutes if t.time_limit_minutes > 0 else math.inf

        def budget_left() -> bool:
            return t.max_cost <= 0 or self.cost < t.max_cost

        bar = Progress(self, enabled=self.log_enabled)
        try:  # a resumed run may be done already
            while self.step < t.steps and self.elapsed < limit and budget_left():
                cost_before = self.cost
                stats = self.train_step()
                self.step += 1
                threads.adjust()  # under threads=auto: follow other processes' load
                if math.isfinite(stats["loss"]):
                    running.append(stats["loss"])
                bar.update()
                self.elapsed = time.perf_counter() - start_time
                if (self.step % t.log_every == 0 or self.step == t.steps) and running:
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
                    running = []
                # Every process must agree to stop, or the others would wait in an all-reduce
                # forever.
                out_of_time = limit < math.inf and any_process(self.elapsed >= limit, self.device)
                out_of_budget = 0 < t.max_cost <= self.cost
                for milestone in t.keep_checkpoints_at:
                    if cost_before < milestone <= self.cost:
                        self.save(self.run_folder.checkpoint_at(milestone))
                done = self.step == t.steps or out_of_time or out_of_budget
                if done:  # saved before the last validation too: a failure there loses no training
                    self.save(self.run_folder.last)
                if self.step % t.eval_every == 0 or done:
                    value = self.validate()
                    self.logger.log(self.step, self.elapsed, {f"val/{self.val_metric}": value})
                    if self.curve_tasks:
                        self.logger.log(
                            self.step,
                            self.elapsed,
                            {f"test/{metric}": self.measure(self.curve_tasks)},
                        )
                    if self._better(value):
                        self.best = value
                        self.save(self.run_folder.best)
                if self.step % t.checkpoint_every == 0 or done:
                    self.save(self.run_folder.last)
                if out_of_time or out_of_budget:
                    reached = (
                        f"time limit of {t.time_limit_minutes} minutes"
                        if out_of_time
                        else f"{self.cost:,} {self.family.cost_unit.replace('_', ' ')}"
                    )
                    if self.log_enabled:
                        tqdm.write(f"{reached} reached at step {self.step}")
                    break
        finally:  # before any message: an error or Ctrl-C is then its own line
            bar.close()
        self.logger.close()
        self.accelerator.wait_for_everyone()  # the main process has written the last checkpoint

"""The one outer loop, for every task family and every algorithm.

Order of each iteration, as in nanoGPT: validate and checkpoint -> sample tasks -> outer gradient
-> outer step -> log -> stop. accelerate places the model; the trainer knows no task family.
"""
from __future__ import annotations

import math
import time
from functools import partial
from pathlib import Path

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from metanmt.config import RunConfig, config_to_dict
from metanmt.evaluation.evaluate import adaptation_curve
from metanmt.run import ALGO_PREFIX, Run, build_run, load_weights
from metanmt.tasks import TaskFamily
from metanmt.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from metanmt.trainer.logger import MetricLogger


def make_accelerator(device: str) -> Accelerator:
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"train.device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device is 'cuda' but no CUDA device is available")
    return Accelerator(cpu=device == "cpu")


class Trainer:
    def __init__(self, config: RunConfig, family: TaskFamily | None = None, log: bool = True):
        self.config, t = config, config.train
        self.accelerator = make_accelerator(t.device)
        self.device = self.accelerator.device
        self.run = build_run(config, self.device, family)
        self.family, self.model, self.algorithm = self.run.family, self.run.model, self.run.algorithm
        self.params = self.run.params
        self.loss_fn = partial(self.family.loss, self.model)
        trainable = list(self.params.values()) + list(self.algorithm.parameters())
        if t.outer_optimizer == "adam":
            optimizer = torch.optim.Adam(trainable, lr=t.outer_lr)
        elif t.outer_optimizer == "sgd":
            optimizer = torch.optim.SGD(trainable, lr=t.outer_lr)
        else:
            raise ValueError(f"train.outer_optimizer must be adam or sgd, got {t.outer_optimizer!r}")
        self.optimizer = self.accelerator.prepare(optimizer)
        if t.lr_schedule not in ("constant", "linear"):
            raise ValueError(f"train.lr_schedule must be constant or linear, got {t.lr_schedule!r}")
        decay = (lambda step: max(0.0, 1 - step / t.steps)) if t.lr_schedule == "linear" \
            else (lambda step: 1.0)
        warmup = lambda step: min(1.0, (step + 1) / t.warmup_steps) if t.warmup_steps else 1.0  # noqa: E731
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer,
                                                           lambda step: warmup(step) * decay(step))
        self.generator = torch.Generator().manual_seed(t.seed)  # task sampling stream
        self.val_tasks = self.family.sample_batch("val", t.eval_tasks,
                                                  torch.Generator().manual_seed(t.seed + 10_007))
        # Test tasks only draw the learning curve; the checkpoint is chosen on validation tasks.
        self.curve_tasks = self.family.sample_batch("test", t.curve_tasks,
                                                    torch.Generator().manual_seed(1234))
        self.step, self.best, self.elapsed = 0, math.nan, 0.0
        self.out = Path(config.out_dir)
        self.log_enabled = log and self.accelerator.is_main_process
        self.logger: MetricLogger | None = None

    # -- checkpoints -------------------------------------------------------------------------
    def state(self) -> dict:
        return {"step": self.step, "best": self.best, "elapsed": self.elapsed,
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state()}

    def save(self, name: str) -> None:
        if self.accelerator.is_main_process:
            save_checkpoint(self.out / "checkpoints" / name, self.run.tensors(),
                            config_to_dict(self.config), self.state())

    def resume(self) -> bool:
        """Continue from ``checkpoints/last`` if there is one; return whether it did."""
        folder = self.out / "checkpoints" / "last"
        try:
            tensors, saved_config, state = load_checkpoint(folder)
        except CheckpointError:
            if folder.exists() or folder.with_name("last.old").exists():
                raise
            return False
        if saved_config.get("family") != self.config.family:
            raise CheckpointError(f"checkpoint {folder} is a {saved_config.get('family')!r} run, "
                                  f"this config trains {self.config.family!r}")
        load_weights(self.run, tensors, folder)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.step, self.best, self.elapsed = state["step"], state["best"], state["elapsed"]
        return True

    # -- the loop ------------------------------------------------------------------------------
    def measure(self, tasks) -> float:
        """Mean headline metric on ``tasks`` after ``eval_steps`` test-time steps."""
        steps = self.config.train.eval_steps or self.algorithm.inner_steps
        self.model.eval()  # no dropout while measuring
        curves = adaptation_curve(self.family, self.model, self.algorithm, self.params, tasks,
                                  [steps], device=self.device)
        return curves[self.family.metric_name].mean().item()

    def train_step(self) -> dict[str, float]:
        self.model.train()
        tasks = self.family.sample_batch("train", self.config.train.meta_batch, self.generator)
        tasks = [self.family.task_to(task, self.device) for task in tasks]
        grads, stats = self.algorithm.outer_grads(self.loss_fn, self.params, tasks,
                                                  self.family.stackable)
        if not math.isfinite(stats["loss"]):
            names = [t.info.get("name", i) for i, t in enumerate(tasks)]
            raise FloatingPointError(f"non-finite meta-loss {stats['loss']} at step {self.step} "
                                     f"(tasks {names}); the last good checkpoint is kept in "
                                     f"{self.out / 'checkpoints'}")
        own = dict(self.algorithm.named_parameters())
        for name, p in self.params.items():
            p.grad = grads[name]
        for name, p in own.items():
            p.grad = grads.get(ALGO_PREFIX + name)
        if self.config.train.grad_clip > 0:
            stats["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(
                [*self.params.values(), *own.values()], self.config.train.grad_clip))
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return stats

    def _better(self, value: float) -> bool:
        if math.isnan(self.best):
            return True
        return value > self.best if self.family.higher_is_better else value < self.best

    def fit(self, resume: bool = False) -> Run:
        t = self.config.train
        if resume:
            self.resume()
        self.logger = MetricLogger(self.out, self.log_enabled, self.step if resume else None)
        metric = self.family.metric_name
        start_time = time.perf_counter() - self.elapsed
        bar = tqdm(total=t.steps, initial=self.step, disable=not self.log_enabled, mininterval=2,
                   desc=f"{self.config.family}/{self.algorithm.name}", dynamic_ncols=True)
        running = []
        limit = 60 * t.time_limit_minutes if t.time_limit_minutes > 0 else math.inf
        while self.step < t.steps and self.elapsed < limit:  # a resumed run may be out of time
            stats = self.train_step()
            self.step += 1
            running.append(stats["loss"])
            bar.update(1)
            self.elapsed = time.perf_counter() - start_time
            if self.step % t.log_every == 0 or self.step == t.steps:
                self.logger.log(self.step, self.elapsed, {"train/loss": sum(running) / len(running)})
                bar.set_postfix(loss=f"{sum(running) / len(running):.4f}")
                running = []
            out_of_time = self.elapsed >= limit
            done = self.step == t.steps or out_of_time
            if self.step % t.eval_every == 0 or done:
                value = self.measure(self.val_tasks)
                self.logger.log(self.step, self.elapsed, {f"val/{metric}": value})
                if self.curve_tasks:
                    self.logger.log(self.step, self.elapsed,
                                    {f"test/{metric}": self.measure(self.curve_tasks)})
                if self._better(value):
                    self.best = value
                    self.save("best")
            if self.step % t.checkpoint_every == 0 or done:
                self.save("last")
            if out_of_time:
                tqdm.write(f"time limit of {t.time_limit_minutes} minutes reached at step {self.step}")
                break
        bar.close()
        self.logger.close()
        return self.run

"""The ``train:`` section of a run config: the outer loop's settings (steps, meta-batch, outer
optimiser and its schedule, limits, validation and checkpoint intervals, device and precision),
as a dataclass whose commented defaults are its documentation. RunConfig (metanmt/config.py)
holds it beside the chosen algorithm's section and the family's, which live with their own code;
the trainer reads it (metanmt/trainer/)."""

from __future__ import annotations

from dataclasses import dataclass

from metanmt.schema import ConfigError, setting
from metanmt.values import cost_or_off, parse_cost

# The outer learning rate after its warm-up (metanmt/trainer/schedule.py).
SCHEDULES = ("constant", "linear", "inverse_sqrt", "cosine")


@dataclass
class TrainConfig:
    steps: int = setting(10_000, low=1)  # outer (meta-) iterations
    meta_batch: int = setting(25, low=1)  # tasks per outer step
    outer_lr: float = setting(0.001, above=0)
    outer_optimizer: str = setting("adam", choices=("adam", "sgd"))
    # After the warm-up: constant; linear to 0; inverse_sqrt (peak * sqrt(warm-up / step), Gu et
    # al.'s); cosine to a tenth of the peak. Laid over the steps the run will take: train.steps,
    # or fewer where max_cost ends it first (estimated from its first meta-batches' cost).
    lr_schedule: str = setting("constant", choices=SCHEDULES)
    warmup_steps: int = setting(0, low=0)  # linear warm-up of the outer learning rate, in steps
    warmup_fraction: float = setting(0.0, low=0.0, high=0.5)  # or as a share of the run's steps
    grad_clip: float = setting(0.0, low=0)  # max norm of the outer gradient; 0 = off
    seed: int = 0
    log_every: int = setting(100, low=1)
    eval_every: int = setting(1_000, low=1)  # validate (and keep the best checkpoint) every N steps
    eval_tasks: int = setting(
        100, low=1
    )  # fixed validation tasks (unless the family validates itself)
    eval_steps: int = setting(0, low=0)  # test-time steps before measuring them; 0 = inner_steps
    curve_tasks: int = setting(0, low=0)  # also measure this many fixed test tasks, for plots
    checkpoint_every: int = setting(1_000, low=1)
    time_limit_minutes: float = setting(0.0, low=0)  # stop (and save) after this; 0 = no limit
    # Stop after this much training cost, in the family's unit (translation: target tokens, also
    # written train.max_target_tokens; otherwise tasks, train.max_tasks); 0 = off.
    max_cost: int = setting(0, parse=cost_or_off)
    # Also keep the weights where the training cost first reaches each of these (checkpoints/
    # at-<cost>): the same run seen part-way, e.g. to fine-tune from it (compare's `checkpoints`)
    keep_checkpoints_at: tuple[int, ...] = setting((), parse=parse_cost)
    # What max_cost (and keep_checkpoints_at) counts: compute = everything the run reads (for
    # translation the support and query tokens of every task: equal compute); updates = only the
    # half its outer gradient is made from (MAML's query, Reptile's support, both for pre-
    # training: Gu et al.'s count, equal update tokens, where MetaNMT reads twice as much)
    convention: str = setting("compute", choices=("compute", "updates"))
    device: str = setting("auto", choices=("auto", "cpu", "cuda"))
    mixed_precision: str = setting("no", choices=("no", "bf16"))  # bf16 autocast; float32 weights
    on_nonfinite: str = setting("stop", choices=("stop", "skip"))  # a NaN/inf loss stops, or skips
    max_skipped_steps: int = setting(10, low=0)  # with on_nonfinite=skip, stop after this many

    def check(self, given: set[str], run) -> None:
        if self.warmup_steps and self.warmup_fraction:
            raise ConfigError(
                f"train.warmup_steps={self.warmup_steps} and train.warmup_fraction="
                f"{self.warmup_fraction} are two ways to give the warm-up; give one "
                f"(warmup_steps=0 or warmup_fraction=0)"
            )

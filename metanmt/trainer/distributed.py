"""What the one loop needs to run on several processes: stateless task streams and sums.

Every task of every outer step has its own random stream, seeded from (seed, step, slot). A
process draws the slots it owns, so any number of processes draws the same meta-batch, and a
resumed run needs nothing but the step to continue the streams. Outer gradients are summed with
one all-reduce (DDP's hooks never see gradients taken with ``torch.func.functional_call``).
"""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist

TASK_STREAM, DROPOUT_STREAM = 0, 1


MASK64 = (1 << 64) - 1


def _splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def stream_seeds(seed: int, step: int, slots, stream: int) -> list[int]:
    """63-bit seeds for task slots of one outer step: splitmix64 chained over (seed, step, slot,
    stream); well mixed, and ~30x cheaper than numpy's SeedSequence (it runs for every task)."""
    prefix = _splitmix64(_splitmix64(seed & MASK64) ^ (step & MASK64))
    return [_splitmix64(_splitmix64(prefix ^ (slot & MASK64)) ^ stream) >> 1 for slot in slots]


def slot_generators(seed: int, step: int, slots) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in stream_seeds(seed, step, slots, TASK_STREAM)]


def own_slots(meta_batch: int, process: int, processes: int) -> range:
    """The meta-batch slots one process computes: every ``processes``-th, from its index."""
    if meta_batch < processes:
        raise ValueError(
            f"train.meta_batch={meta_batch} is smaller than the {processes} processes; "
            f"every process needs at least one task"
        )
    return range(process, meta_batch, processes)


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def sum_across_processes(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """Element-wise sums over all processes, in one all-reduce of a flat float32 buffer on the
    first tensor's device (the CPU for gloo, the GPU for NCCL)."""
    if not is_distributed():
        return tensors
    device = tensors[0].device
    flat = torch.cat([t.detach().reshape(-1).to(device, torch.float32) for t in tensors])
    dist.all_reduce(flat)
    out, start = [], 0
    for t in tensors:
        out.append(flat[start : start + t.numel()].view(t.shape).to(t.device, t.dtype))
        start += t.numel()
    return out


def any_process(flag: bool, device: torch.device) -> bool:
    """True on every process if ``flag`` is true on any (e.g. one process's clock ran out)."""
    if not is_distributed():
        return flag
    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value)
    return bool(value.item() > 0)


def launch_command(
    processes: int, port: int, train_args: list[str], config_file: str | None = None
) -> list[str]:
    """``accelerate launch`` of ``metanmt train``: with an accelerate config file (any setup,
    several machines included), or on this machine with N GPUs, or N gloo CPU processes where
    there is no GPU. ``metanmt train --processes N`` runs this; it is the only launcher."""
    if processes <= 1 and not config_file:  # one process of its own
        return [sys.executable, "-m", "metanmt.cli", "train", *train_args]
    launcher = [sys.executable, "-m", "accelerate.commands.accelerate_cli", "launch"]
    if config_file:
        launcher += ["--config_file", config_file]
    else:
        launcher += [
            "--multi_gpu",
            "--num_processes",
            str(processes),
            "--num_machines",
            "1",
            "--main_process_port",
            str(port),
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
        ]
    return [*launcher, "-m", "metanmt.cli", "train", *train_args]

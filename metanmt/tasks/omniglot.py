"""Omniglot N-way K-shot classification (Lake et al. 2015), as in the MAML and Reptile papers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from metanmt.registry import register_family
from metanmt.schema import setting
from metanmt.tasks.base import SPLITS, Task, TaskFamily, check_split
from metanmt.tasks.omniglot_data import DRAWINGS, load_omniglot

ROTATIONS = 4  # 0, 90, 180, 270 degrees


@dataclass
class OmniglotConfig:
    n_way: int = setting(5, low=2)
    k_shot: int = setting(1, low=1)  # support examples per class
    k_query: int = setting(0, low=0)  # query examples per class; 0 = same as k_shot
    train_shots: int = setting(0, low=0)  # support per class in training tasks; 0 = k_shot
    split: str = setting("maml", choices=("maml", "alphabet"))  # maml: 1100/100/423 shuffled
    # characters; alphabet: disjoint alphabets
    split_seed: int = 1  # shuffles the characters for the maml split
    train_rotations: bool = True  # rotated training characters become new classes
    data: str = ""  # prepared array file; "" = cache, built from $METANMT_DATA/omniglot once
    image_size: int = setting(28, low=16)
    filters: int = setting(64, low=1)  # conv-4 width


def split_characters(
    names: np.ndarray, alphabet: np.ndarray, background: np.ndarray, split: str, seed: int
) -> dict[str, np.ndarray]:
    """Character ids of the train, val and test splits; no character is in two of them."""
    count = len(names)
    if split == "maml":  # the MAML code's split: shuffle all characters, then 1100 / 100 / rest
        order = np.random.RandomState(seed).permutation(count)
        return {
            "train": np.sort(order[:1100]),
            "val": np.sort(order[1100:1200]),
            "test": np.sort(order[1200:]),
        }
    if split == "alphabet":  # background alphabets train (5 held out for val), evaluation test
        bg_alphabets = np.unique(alphabet[background])
        val_alphabets = bg_alphabets[-5:]
        is_val = np.isin(alphabet, val_alphabets)
        ids = np.arange(count)
        return {
            "train": ids[background & ~is_val],
            "val": ids[background & is_val],
            "test": ids[~background],
        }
    raise ValueError(f"omniglot.split must be 'maml' or 'alphabet', got {split!r}")


def _under_torch_func(x: Tensor) -> bool:
    if torch.compiler.is_compiling():  # traced: the plain ops are right and fuse into few kernels
        return True
    try:
        return torch._C._functorch.is_functorch_wrapped_tensor(x)
    except AttributeError:  # a torch without this helper: the plain-op version is always right
        return True


class BatchStatNorm2d(nn.Module):
    """Batch norm on the batch's own statistics, written with plain tensor ops.

    PyTorch's native batch norm gives wrong second-order meta-gradients under ``vmap`` (torch 2.13:
    the conv weights before it are off by a few percent against finite differences), so MAML's vmap
    path would silently differ from its loop path. Under ``torch.func`` transforms this module uses
    plain ops (and under ``torch.compile``, which fuses them); under ordinary autograd, the native
    kernel. Same parameter names as ``nn.BatchNorm2d``.
    """

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:  # x: [B, C, H, W]
        if not _under_torch_func(x):  # plain autograd: the native kernels are right, and faster
            return F.batch_norm(x, None, None, self.weight, self.bias, training=True, eps=self.eps)
        var, mean = torch.var_mean(x, (0, 2, 3), unbiased=False, keepdim=True)  # [1, C, 1, 1]
        scale = self.weight[:, None, None] * torch.rsqrt(var + self.eps)
        # One fused op on the large tensor: x * scale + (bias - mean * scale).
        return torch.addcmul(self.bias[:, None, None] - mean * scale, x, scale)


def conv4(
    n_way: int, filters: int = 64, image_size: int = 28, in_channels: int = 1
) -> nn.Sequential:
    """Four blocks of 3x3 conv, batch norm on batch statistics, ReLU, 2x2 max-pool; linear head."""
    layers: list[nn.Module] = []
    for i in range(4):
        layers += [
            nn.Conv2d(in_channels if i == 0 else filters, filters, 3, padding=1),
            BatchStatNorm2d(filters),
            # max-pool then ReLU is the same function as ReLU then max-pool (ReLU is
            # monotone, so it commutes with max) on a 4x smaller tensor
            nn.MaxPool2d(2),
            nn.ReLU(),
        ]
        image_size //= 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(filters * image_size**2, n_way))


@register_family("omniglot", OmniglotConfig)
class OmniglotFamily(TaskFamily):
    name = "omniglot"
    stackable = True
    metric_name = "accuracy"
    higher_is_better = True

    def __init__(
        self,
        config: OmniglotConfig | None = None,
        images: np.ndarray | None = None,
        names=None,
        alphabet=None,
        background=None,
    ):
        """``images`` etc. may be given directly (tests); otherwise they are loaded from disk."""
        self.config = c = config or OmniglotConfig()
        if images is None:
            images, names, alphabet, background = load_omniglot(
                Path(c.data) if c.data else None, c.image_size
            )
        self.images = torch.from_numpy(np.asarray(images)).float().div_(255)  # [C, 20, H, W]
        self.splits = split_characters(
            np.asarray(names),
            np.asarray(alphabet),
            np.asarray(background, dtype=bool),
            c.split,
            c.split_seed,
        )
        k_query = c.k_query or c.k_shot
        if c.n_way < 2 or c.k_shot < 1:
            raise ValueError(
                f"omniglot needs n_way >= 2 and k_shot >= 1, got {c.n_way}, {c.k_shot}"
            )
        for name, shots in (("k_shot", c.k_shot), ("train_shots", c.train_shots)):
            if shots + k_query > DRAWINGS:
                raise ValueError(
                    f"{name} + k_query = {shots + k_query} is more than the {DRAWINGS} "
                    f"drawings each Omniglot character has"
                )
        for split in SPLITS:
            if self.class_count(split) < c.n_way:
                raise ValueError(
                    f"n_way = {c.n_way} is more than the {self.class_count(split)} "
                    f"classes of the {split!r} split"
                )

    def test_setting(self):
        setting = super().test_setting()
        for train_only in ("train_shots", "train_rotations"):
            setting.pop(train_only)
        return setting

    def class_count(self, split: str) -> int:
        rotations = ROTATIONS if split == "train" and self.config.train_rotations else 1
        return len(self.splits[split]) * rotations

    def sample_batch(self, split, count, generator):
        check_split(split)
        c = self.config
        n = c.n_way
        k = c.train_shots if split == "train" and c.train_shots else c.k_shot
        per_class = k + (c.k_query or c.k_shot)
        classes = torch.rand(count, self.class_count(split), generator=generator).argsort(1)[:, :n]
        characters = torch.from_numpy(self.splits[split])[classes % len(self.splits[split])]
        rotations = classes // len(self.splits[split])  # [T, N]; 0 unless rotated train classes
        drawings = torch.rand(count, n, DRAWINGS, generator=generator).argsort(2)[..., :per_class]
        x = self.images[characters[..., None], drawings]  # [T, N, K+Q, H, W]
        for r in range(1, ROTATIONS):
            mask = rotations == r
            if mask.any():
                x[mask] = torch.rot90(x[mask], r, dims=(-2, -1))
        x = x.unsqueeze(3)  # [T, N, K+Q, 1, H, W]
        labels = torch.arange(n).view(1, n, 1).expand(count, n, per_class)  # class order is random
        tasks = []
        for t in range(count):
            support = (x[t, :, :k].reshape(n * k, *x.shape[3:]), labels[t, :, :k].reshape(-1))
            query = (x[t, :, k:].reshape(-1, *x.shape[3:]), labels[t, :, k:].reshape(-1))
            tasks.append(Task(support, query, info={"characters": characters[t].tolist()}))
        return tasks

    def sample(self, split, generator):
        return self.sample_batch(split, 1, generator)[0]

    def build_model(self, second_order: bool = False) -> nn.Module:
        return conv4(self.config.n_way, self.config.filters, self.config.image_size)

    def settings(self, model):
        first_conv = next(m for m in model if isinstance(m, nn.Conv2d))
        return {
            **super().settings(model),
            "filters": first_conv.out_channels,
            "n_way": model[-1].out_features,
        }

    def loss(self, model, params, batch) -> Tensor:
        x, y = batch
        return F.cross_entropy(functional_call(model, params, (x,)), y)

    def metrics(self, model, params, batch):
        x, y = batch
        logits = functional_call(model, params, (x,))
        return {
            "loss": F.cross_entropy(logits, y),
            "accuracy": (logits.argmax(-1) == y).float().mean(),
        }

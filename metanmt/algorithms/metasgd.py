"""Meta-SGD: MAML whose inner learning rates (one per parameter entry) are learned in the outer loop."""
from __future__ import annotations

import torch
from torch import nn

from metanmt.algorithms.functional import Params
from metanmt.algorithms.maml import MAML


class MetaSGD(MAML):
    name = "metasgd"

    def __init__(self, params: Params, inner_steps: int = 1, inner_lr: float = 0.01,
                 first_order: bool = False, use_vmap: bool = True):
        super().__init__(inner_steps, inner_lr, first_order, use_vmap)
        self.name = "metasgd"
        # ParameterDict keys may not contain dots.
        self.rates = nn.ParameterDict({
            n.replace(".", "__"): nn.Parameter(torch.full_like(p.detach(), inner_lr))
            for n, p in params.items()})

    def learning_rate(self):
        return {n.replace("__", "."): r for n, r in self.rates.items()}

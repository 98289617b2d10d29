"""Meta-SGD: MAML whose inner learning rates (one per parameter entry) are learned outside."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from metanmt.algorithms.base import InnerLoopConfig
from metanmt.algorithms.maml import MAML
from metanmt.types import Params


@dataclass
class MetaSGDConfig(InnerLoopConfig):
    """Learned rates are SGD rates: no inner_optimizer here."""

    name: str = "metasgd"
    first_order: bool = False  # drop second derivatives (the rates still learn, through the step)


class MetaSGD(MAML):
    name = "metasgd"
    Config = MetaSGDConfig

    def __init__(self, params: Params | None = None, **keys):
        super().__init__(**keys)
        self.rates = nn.ParameterDict()
        self._names: dict[str, str] = {}  # rate key -> parameter name
        if params is not None:
            self.setup(params)

    def setup(self, params: Params) -> None:
        # ParameterDict keys may not contain dots; index keys keep the mapping reversible whatever
        # the parameter names hold (a name with "__" in it, say).
        self._names = {f"p{i}": name for i, name in enumerate(params)}
        self.rates = nn.ParameterDict(
            {
                key: nn.Parameter(torch.full_like(params[name].detach(), self.inner_lr))
                for key, name in self._names.items()
            }
        )

    def learning_rate(self):
        return {self._names[key]: rate for key, rate in self.rates.items()}

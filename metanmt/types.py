"""The shapes every part of metanmt speaks in: parameter dicts, batches and loss functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor

Params = dict[str, Tensor]
Batch = Any  # a tensor, or a tuple / dict of tensors
LossFn = Callable[[Params, Batch], Tensor]
GradFn = Callable[[LossFn, Params, Batch, bool], Params]
LearningRate = float | Mapping[str, Tensor]

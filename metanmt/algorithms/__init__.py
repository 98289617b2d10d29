"""How an outer gradient is made: MAML / FOMAML, Meta-SGD, Reptile and plain pre-training.

Each is registered with its own config dataclass, so a run config's ``algorithm:`` section is
checked against the keys that algorithm really uses.
"""

from metanmt.algorithms.base import Algorithm, InnerLoopConfig, OptimizedInnerConfig
from metanmt.algorithms.functional import InnerOptimizer, adapt, inner_trajectory, meta_parameters
from metanmt.algorithms.maml import MAML, FOMAMLConfig, MAMLConfig
from metanmt.algorithms.metasgd import MetaSGD, MetaSGDConfig
from metanmt.algorithms.pretrain import Pretrain, PretrainConfig
from metanmt.algorithms.reptile import Reptile, ReptileConfig
from metanmt.registry import ALGORITHMS, register_algorithm
from metanmt.schema import apply
from metanmt.types import Params

register_algorithm("maml", MAMLConfig)(MAML)
register_algorithm("fomaml", FOMAMLConfig)(MAML)
register_algorithm("metasgd", MetaSGDConfig)(MetaSGD)
register_algorithm("reptile", ReptileConfig)(Reptile)
register_algorithm("pretrain", PretrainConfig)(Pretrain)


def build_algorithm(name: str, params: Params | None = None, **settings) -> Algorithm:
    """The algorithm ``name`` with config keys ``settings`` (checked against its schema), set up
    for ``params``."""
    entry = ALGORITHMS.entry(name)
    config = apply(entry.config(), {"name": name, **settings}, "algorithm.", f"algorithm {name!r}")
    algorithm = entry.build(config)
    if params is not None:
        algorithm.setup(params)
    return algorithm


__all__ = [
    "Algorithm",
    "FOMAMLConfig",
    "InnerLoopConfig",
    "InnerOptimizer",
    "MAML",
    "MAMLConfig",
    "MetaSGD",
    "MetaSGDConfig",
    "OptimizedInnerConfig",
    "Pretrain",
    "PretrainConfig",
    "Reptile",
    "ReptileConfig",
    "adapt",
    "build_algorithm",
    "inner_trajectory",
    "meta_parameters",
]

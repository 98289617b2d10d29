"""How an outer gradient is made: MAML / FOMAML, Meta-SGD, Reptile and plain pre-training."""
from metanmt.algorithms.base import Algorithm
from metanmt.algorithms.functional import Params, adapt, inner_trajectory, meta_parameters
from metanmt.algorithms.maml import MAML
from metanmt.algorithms.metasgd import MetaSGD
from metanmt.algorithms.pretrain import Pretrain
from metanmt.algorithms.reptile import Reptile

ALGORITHMS = ("maml", "fomaml", "reptile", "pretrain", "metasgd")


def build_algorithm(name: str, params: Params, *, inner_steps: int, inner_lr: float,
                    inner_optimizer: str = "sgd", first_order: bool = False,
                    use_vmap: bool = True) -> Algorithm:
    """The algorithm called ``name`` (one of ``ALGORITHMS``)."""
    if name in ("maml", "fomaml"):
        return MAML(inner_steps, inner_lr, first_order or name == "fomaml", use_vmap)
    if name == "metasgd":
        return MetaSGD(params, inner_steps, inner_lr, first_order, use_vmap)
    if name == "reptile":
        return Reptile(inner_steps, inner_lr, inner_optimizer, use_vmap)
    if name == "pretrain":
        return Pretrain(inner_steps, inner_lr, "sgd", use_vmap)
    raise ValueError(f"unknown algorithm {name!r}; choose one of {', '.join(ALGORITHMS)}")


__all__ = ["ALGORITHMS", "Algorithm", "MAML", "MetaSGD", "Params", "Pretrain", "Reptile", "adapt",
           "build_algorithm", "inner_trajectory", "meta_parameters"]

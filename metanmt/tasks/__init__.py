"""Task families: what a task is and where tasks come from."""
from metanmt.tasks.base import SPLITS, Task, TaskFamily
from metanmt.tasks.omniglot import OmniglotConfig, OmniglotFamily
from metanmt.tasks.sine import SineConfig, SineFamily

__all__ = ["SPLITS", "OmniglotConfig", "OmniglotFamily", "SineConfig", "SineFamily", "Task",
           "TaskFamily"]

FAMILIES = {"sine": SineFamily, "omniglot": OmniglotFamily}


def build_family(name: str, config) -> TaskFamily:
    """The family called ``name``, configured from the run config's section of the same name."""
    if name not in FAMILIES:
        raise ValueError(f"unknown task family {name!r}; choose one of {', '.join(FAMILIES)}")
    return FAMILIES[name](getattr(config, name))


__all__ += ["FAMILIES", "build_family"]

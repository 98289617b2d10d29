"""Task families: what a task is and where tasks come from."""
from metanmt.tasks.base import SPLITS, Task, TaskFamily
from metanmt.tasks.omniglot import OmniglotConfig, OmniglotFamily
from metanmt.tasks.sine import SineConfig, SineFamily
from metanmt.tasks.translation import TranslationConfig, TranslationFamily

__all__ = ["SPLITS", "OmniglotConfig", "OmniglotFamily", "SineConfig", "SineFamily", "Task",
           "TaskFamily", "TranslationConfig", "TranslationFamily"]

FAMILIES = {"sine": SineFamily, "omniglot": OmniglotFamily, "translation": TranslationFamily}


def build_family(name: str, config) -> TaskFamily:
    """The family called ``name``, configured from the run config (its section of the same name)."""
    if name not in FAMILIES:
        raise ValueError(f"unknown task family {name!r}; choose one of {', '.join(FAMILIES)}")
    family = FAMILIES[name]
    if hasattr(family, "from_run_config"):  # needs more than its own section (the algorithm)
        return family.from_run_config(config)
    return family(getattr(config, name))


__all__ += ["FAMILIES", "build_family"]

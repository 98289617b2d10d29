"""What a task is (core); the built-in families (sine, omniglot) live beside it and register
themselves when imported, as translation (metanmt.translation) and any plugin do."""

from metanmt.tasks.base import SPLITS, Task, TaskFamily, check_split

__all__ = ["SPLITS", "Task", "TaskFamily", "check_split"]

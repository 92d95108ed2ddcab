"""Registry of tasks (training objectives), filled by explicit imports."""

from . import causal_lm, word2vec
from .base import Task

TASKS: dict[str, Task] = {task.name: task for task in (causal_lm.TASK, word2vec.TASK)}

__all__ = ["TASKS", "Task"]

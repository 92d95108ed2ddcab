"""Registry of tasks (training objectives), filled by explicit imports."""

from . import bert_pretrain, bilm, causal_lm, classify, elmo_downstream, token_classify, word2vec
from .base import Task

TASKS: dict[str, Task] = {task.name: task for task in (causal_lm.TASK, bert_pretrain.TASK, classify.TASK, token_classify.TASK, word2vec.TASK, bilm.TASK, elmo_downstream.CLASSIFY, elmo_downstream.NER)}

__all__ = ["TASKS", "Task"]

"""word2vec (skip-gram / CBOW) with gensim: the config a recipe sets, and the model builder.

The recipe's ``model.config`` holds gensim's own parameter names (sg, hs, negative, window,
vector_size, min_count, epochs ...), so a gensim user reads a recipe without a glossary, plus
``level`` (word or char). Values are checked when the recipe loads, so ``hs: 0, negative: 0`` (no
training objective) fails in a second instead of after the corpus was written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ...embeddings import EXPORTS
from ...registry import TaskEntry
from ..base import ModelFamily

CONFIG_FILE = "word2vec_config.json"

# Named sizes: 100 dimensions is gensim's default, 300 the usual size of published Chinese vectors
# (e.g. the Chinese Word Vectors of the CA8 paper).
SIZES = {
    "small": dict(vector_size=100),
    "base": dict(vector_size=300),
}


class Word2VecConfig(BaseModel):
    """word2vec settings; defaults are gensim's, except ``workers`` (all usable cores)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    level: Literal["word", "char"] = Field(
        "word", description="word: segmented words (the corpus's own, or jieba); char: characters."
    )
    sg: Literal[0, 1] = Field(0, description="1: skip-gram, 0: CBOW.")
    hs: Literal[0, 1] = Field(0, description="1: hierarchical softmax.")
    negative: int = Field(5, ge=0, description="Negative samples per positive (0: none).")
    ns_exponent: float = 0.75
    window: int = Field(5, ge=1)
    shrink_windows: bool = True
    vector_size: int = Field(100, ge=1)
    min_count: int = Field(5, ge=1, description="Ignore tokens rarer than this.")
    max_vocab_size: int | None = Field(None, ge=1)
    max_final_vocab: int | None = Field(None, ge=1)
    sample: float = Field(1e-3, ge=0, description="Downsampling threshold for frequent tokens.")
    alpha: float = Field(0.025, gt=0)
    min_alpha: float = Field(0.0001, ge=0)
    cbow_mean: Literal[0, 1] = 1
    epochs: int = Field(5, ge=1)
    compute_loss: bool = Field(True, description="Track the training loss (per epoch in metrics.json).")
    workers: int | None = Field(None, ge=1, description="Training threads (default: usable cores).")

    @model_validator(mode="after")
    def _has_objective(self) -> Word2VecConfig:
        if not self.hs and self.negative == 0:
            raise ValueError("model.config: hs is 0 and negative is 0, so nothing is trained; "
                             "set negative (e.g. 5) or hs: 1")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def gensim_kwargs(self, seed: int) -> dict[str, Any]:
        """Keyword arguments for ``gensim.models.Word2Vec`` (everything but ``level``)."""
        kwargs = self.model_dump(exclude={"level"})
        kwargs["workers"] = self.workers or usable_cores()
        kwargs["seed"] = seed
        return kwargs


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class Word2VecFamily(ModelFamily):
    """Checks the config values too: the base class only knows the field names."""

    def check_config_values(self, fields: dict[str, Any]) -> None:
        try:
            Word2VecConfig.model_validate(fields)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"])
                if err["type"] == "value_error":
                    problems.append(str(err["ctx"]["error"]))
                else:
                    problems.append(f"model.config.{key}: {err['msg'].lower()} (got {err.get('input')!r})")
            raise ValueError("; ".join(problems)) from None

    def make_word2vec_config(self, size: str | None, overrides: dict[str, Any]) -> Word2VecConfig:
        return Word2VecConfig(**self.config_fields(size, overrides))


def build(config: Word2VecConfig, seed: int = 42):
    """An untrained gensim Word2Vec with these settings; the task builds its vocabulary and trains it."""
    from gensim.models import Word2Vec

    return Word2Vec(**config.gensim_kwargs(seed))


FAMILY = Word2VecFamily(
    name="word2vec",
    tasks=("word2vec",),
    config_class_path="toolkit.families.word2vec.family:Word2VecConfig",
    sizes=SIZES,
    default_size="small",
    special_tokens={},
    build=build,
    own_tasks={"word2vec": TaskEntry("toolkit.families.word2vec.task:TASK")},
    cli_commands="toolkit.families.word2vec.cli:register",
    has_token_embeddings=False,  # it makes word vectors; model.embeddings_from feeds them to torch models
)


def export_vectors(vectors, run_dir, config: Word2VecConfig, recipe=None) -> dict[str, str]:
    """Write the vectors in every format plus a small JSON of how they were made; returns the files."""
    run_dir = Path(run_dir)
    vectors.save_word2vec_format(str(run_dir / EXPORTS["binary"]), binary=True)
    vectors.save_word2vec_format(str(run_dir / EXPORTS["text"]), binary=False)
    about = {"library": "gensim", "model_type": "word2vec", "vocab_size": len(vectors),
             **config.to_dict(), "files": EXPORTS}
    if recipe is not None:
        about.update(corpus=recipe.data.card, seed=recipe.seed)
    (run_dir / CONFIG_FILE).write_text(json.dumps(about, ensure_ascii=False, indent=2), encoding="utf-8")
    return dict(EXPORTS)

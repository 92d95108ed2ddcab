"""word2vec (skip-gram / CBOW) with gensim: the config a recipe sets, and the model builder.

The recipe's ``model.config`` holds gensim's own parameter names (sg, hs, negative, window,
vector_size, min_count, epochs ...), so a gensim user reads a recipe without a glossary, plus
``level`` (word or char). Values are checked when the recipe loads, so ``hs: 0, negative: 0`` (no
training objective) fails in a second instead of after the corpus was written.

Also here: the bridge to torch, ``embedding_from_vectors``, which initialises an ``nn.Embedding``
for a tokenizer's vocabulary from trained vectors (for RNN / ELMo recipes that start from word2vec).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ToolkitError
from .base import ModelFamily

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
    config_class_path="toolkit.models.word2vec:Word2VecConfig",
    sizes=SIZES,
    default_size="small",
    special_tokens={},
    build=build,
    has_token_embeddings=False,  # it makes word vectors; model.embeddings_from feeds them to torch models
)


# ---------------------------------------------------------------------------------------------
# word2vec -> torch


def embedding_matrix(vectors, vocab: dict[str, int], seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """A (vocabulary size x vector size) matrix for ``vocab`` (token -> id) from KeyedVectors.

    Rows of tokens the vectors know are copied; the others are drawn from a normal distribution
    with the vectors' own mean and standard deviation, so they start at the same scale. Returns the
    matrix and the tokens that were found.
    """
    size = max(vocab.values()) + 1 if vocab else 0
    rng = np.random.default_rng(seed)
    known = vectors.vectors
    matrix = rng.normal(known.mean(), known.std(), size=(size, vectors.vector_size)).astype(np.float32)
    found = []
    for token, index in vocab.items():
        if token in vectors.key_to_index:
            matrix[index] = vectors[token]
            found.append(token)
    return matrix, found


def embedding_from_vectors(vectors, tokenizer, freeze: bool = False, padding_idx: int | None = None,
                           seed: int = 0):
    """A ``torch.nn.Embedding`` for ``tokenizer``'s vocabulary, initialised from word2vec vectors.

    ``vectors`` is a gensim KeyedVectors (``load_vectors(run_dir)``); ``tokenizer`` anything with
    ``get_vocab()`` (a transformers tokenizer) or a plain token -> id dict. Tokens missing from the
    vectors get random rows at the vectors' scale; the padding row (``padding_idx``, default the
    tokenizer's pad token) is zero. ``embedding.coverage`` holds the share of tokens that were found.
    """
    import torch

    vocab = tokenizer if isinstance(tokenizer, dict) else tokenizer.get_vocab()
    matrix, found = embedding_matrix(vectors, vocab, seed)
    if padding_idx is None and not isinstance(tokenizer, dict):
        padding_idx = getattr(tokenizer, "pad_token_id", None)
    if padding_idx is not None:
        matrix[padding_idx] = 0.0
    embedding = torch.nn.Embedding.from_pretrained(torch.from_numpy(matrix), freeze=freeze, padding_idx=padding_idx)
    embedding.coverage = len(found) / max(len(vocab), 1)
    return embedding


# ---------------------------------------------------------------------------------------------
# Export and loading

# The files a run folder holds: the word2vec C formats, which any word2vec reader (gensim,
# fastText tools, torchtext ...) loads and which hold only numbers and words. No gensim native
# ``.kv``: that is a pickle, and unpickling a downloaded one runs whatever code it carries.
EXPORTS = {"binary": "vectors.bin", "text": "vectors.txt"}
CONFIG_FILE = "word2vec_config.json"
PICKLED_SUFFIXES = (".kv", ".model", ".pkl", ".pickle")  # gensim's save() / pickle files


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


def vectors_file(path: Path) -> Path:
    """The file to read in a word2vec run folder: the binary, else the text format (a folder
    holding only an older run's pickled vectors.kv is refused, see ``load_vectors``)."""
    for name in (EXPORTS["binary"], EXPORTS["text"]):
        if (path / name).is_file():
            return path / name
    raise ToolkitError(f"{path} holds no {EXPORTS['binary']} or {EXPORTS['text']}: it is not a word2vec run folder "
                       f"(or the run did not finish).")


def load_vectors(path, allow_pickle: bool = False):
    """KeyedVectors from a word2vec run folder (its vectors.bin) or a word2vec ``.bin`` / text
    file; a gensim ``.kv`` (a pickle, which can run code when loaded) only with ``allow_pickle``,
    for files you made yourself."""
    from gensim.models import KeyedVectors

    path = Path(path)
    if path.is_dir():
        path = vectors_file(path)
    if not path.is_file():
        raise ToolkitError(f"No such run folder or vectors file: {path}.")
    pickled = path.suffix in PICKLED_SUFFIXES
    if pickled and not allow_pickle:
        raise ToolkitError(
            f"{path} is a gensim pickle ({path.suffix}), and loading a pickle runs any code it carries, so it was "
            f"not opened. Give the word2vec .bin or text file instead (gensim: save_word2vec_format), or pass "
            f"--allow-pickle (allow_pickle=True) only for a file you made yourself."
        )
    try:
        if pickled:
            return KeyedVectors.load(str(path))
        return KeyedVectors.load_word2vec_format(str(path), binary=path.suffix == ".bin")
    except (ValueError, OSError, UnicodeDecodeError, EOFError) as exc:
        raise ToolkitError(f"Could not read word vectors from {path} ({type(exc).__name__}: {exc}); give a run "
                           f"folder, or a word2vec .bin / text file.") from None


def init_embeddings_from(model, source, tokenizer) -> dict[str, Any]:
    """Overwrite ``model``'s input token embeddings (and so a tied softmax) with word vectors.

    ``source`` is anything ``load_vectors`` reads without a pickle (a word2vec run folder, .bin, text). The
    vectors must be as wide as the embeddings. Tokens the vectors lack keep rows drawn at the
    vectors' scale (see ``embedding_matrix``). Returns what was loaded, for metrics.json: the
    share of the tokenizer's real tokens (not special or ``[unusedN]`` padding) that were found.
    """
    import torch

    try:  # no pickle here: a recipe (perhaps someone else's) names the file, so it is never a local opt-in
        vectors = load_vectors(source)
    except ToolkitError as error:
        raise ToolkitError(f"model.embeddings_from: {error}") from None
    layer = model.get_input_embeddings()
    if vectors.vector_size != layer.embedding_dim:
        raise ToolkitError(
            f"model.embeddings_from: the vectors in {source} have {vectors.vector_size} dimensions, but the "
            f"model's token embeddings are {layer.embedding_dim} wide. Train word2vec with "
            f"model.config.vector_size={layer.embedding_dim}, or make the model's embedding width "
            f"{vectors.vector_size} (embedding_size for rnn_lm and elmo)."
        )
    vocab = {token: index for token, index in tokenizer.get_vocab().items() if index < layer.num_embeddings}
    matrix, found = embedding_matrix(vectors, vocab)
    with torch.no_grad():
        layer.weight[: len(matrix)].copy_(torch.from_numpy(matrix))
    special = set(tokenizer.all_special_tokens)
    real = [token for token in vocab if token not in special and not token.startswith("[unused")]
    found_real = sum(token in vectors.key_to_index for token in real)
    return {"source": str(source), "vector_size": int(vectors.vector_size), "tokens": len(real),
            "found": found_real, "coverage": found_real / max(len(real), 1)}

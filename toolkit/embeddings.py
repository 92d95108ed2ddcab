"""Word vectors -> torch: read word2vec-format vectors and initialise a model's token embeddings
from them (``model.embeddings_from`` in any family with token embeddings).

The word2vec family writes these files; any word2vec ``.bin`` / text file works too.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ToolkitError

if TYPE_CHECKING:
    import numpy as np

def embedding_matrix(vectors, vocab: dict[str, int], seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """A (vocabulary size x vector size) matrix for ``vocab`` (token -> id) from KeyedVectors.

    Rows of tokens the vectors know are copied; the others are drawn from a normal distribution
    with the vectors' own mean and standard deviation, so they start at the same scale. Returns the
    matrix and the tokens that were found.
    """
    import numpy as np  # here, not at the top: the word2vec family's declaration imports this module

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



# The files a run folder holds: the word2vec C formats, which any word2vec reader (gensim,
# fastText tools, torchtext ...) loads and which hold only numbers and words. No gensim native
# ``.kv``: that is a pickle, and unpickling a downloaded one runs whatever code it carries.
EXPORTS = {"binary": "vectors.bin", "text": "vectors.txt"}
PICKLED_SUFFIXES = (".kv", ".model", ".pkl", ".pickle")  # gensim's save() / pickle files


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

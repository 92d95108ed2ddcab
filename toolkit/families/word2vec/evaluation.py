"""Intrinsic evaluation of word vectors: word similarity (Spearman) and analogies (3CosAdd, 3CosMul).

File formats are the common ones, so published Chinese benchmarks work as they are:

- analogies: the questions-words format of word2vec and CA8 — ``: section`` headers, then lines
  ``a b c d`` meaning a is to b as c is to d (``北京 中国 东京 日本``);
- similarity: one pair per line, ``w1 w2 score`` separated by spaces or tabs (wordsim-240,
  wordsim-297, COS960, PKU-500); a header line whose score is not a number is skipped.

Coverage is reported next to every score, so a small vocabulary cannot look good by answering
only easy questions unnoticed. Analogies are scored under two conventions, both reported:

- gensim's (``3cosadd``, ``3cosmul``, ``coverage``): a question counts only when all four of its
  words are in the vocabulary, as in ``KeyedVectors.evaluate_word_analogies``; 3CosMul's epsilon
  is gensim's 1e-6;
- CA8's (``ca8_3cosadd``, ``ca8_3cosmul``, ``ca8_coverage``), as its evaluation script
  (evaluation/ana_eval_dense.py of Embedding/Chinese-Word-Vectors) computes the published tables:
  a question counts when its first three words are in the vocabulary, and one whose answer is not
  is simply wrong; 3CosMul's epsilon is 0.01.

The project's own small sets ship in ``toolkit/families/word2vec/resources`` and are used by the names
``analogy`` and ``similarity``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import ToolkitError

RESOURCES = Path(__file__).resolve().parent / "resources"
BUNDLED = {
    "analogy": RESOURCES / "analogy_zh.txt",
    "similarity": RESOURCES / "similarity_zh.txt",
}
KINDS = ("analogy", "similarity")
# Analogy scores are computed for this many questions at once; memory is chunk x vocabulary floats.
_SCORE_BUDGET = 2**24


# --------------------------------------------------------------------------- benchmark specs


@dataclass(frozen=True)
class Benchmark:
    """One evaluation file: ``kind`` is analogy or similarity; ``name`` is how results call it."""

    kind: str
    path: Path
    name: str


def parse_benchmark(spec: str) -> Benchmark:
    """``analogy`` / ``similarity`` (the bundled sets) or ``analogy=PATH`` / ``similarity=PATH``."""
    kind, sep, path = spec.partition("=")
    kind = kind.strip()
    if kind not in KINDS:
        raise ToolkitError(
            f"Evaluation '{spec}' is not a word2vec benchmark: use 'analogy' or 'similarity' for the "
            f"bundled Chinese sets, or 'analogy=PATH' / 'similarity=PATH' for your own files "
            f"(questions-words format such as CA8; 'w1 w2 score' lists such as wordsim-240 or COS960)."
        )
    if not sep:
        return Benchmark(kind, BUNDLED[kind], f"toolkit-zh-{kind}")
    file = Path(path.strip()).expanduser()
    if not file.is_file():
        raise ToolkitError(f"Evaluation '{spec}': no such file '{file}'.")
    return Benchmark(kind, file, file.stem)


def _lines(path: Path):
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ToolkitError(f"{path} is not UTF-8 text (byte {exc.start}); convert it first (iconv -f GBK -t UTF-8).") from None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield number, line


def read_analogies(path: str | Path) -> dict[str, list[tuple[str, str, str, str]]]:
    """Questions by section from a questions-words file (lines before any header: section 'all')."""
    path = Path(path)
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    current = "all"
    for number, line in _lines(path):
        if line.startswith(":"):
            current = line[1:].strip() or f"section-{number}"
            sections.setdefault(current, [])
            continue
        words = line.split()
        if len(words) != 4:
            raise ToolkitError(f"{path}, line {number}: an analogy question has 4 words (a b c d), got {len(words)}: '{line}'.")
        sections.setdefault(current, []).append(tuple(words))
    if not any(sections.values()):
        raise ToolkitError(f"{path} holds no analogy questions (expected ': section' headers and 'a b c d' lines).")
    return sections


def read_similarity(path: str | Path) -> list[tuple[str, str, float]]:
    """``(w1, w2, score)`` pairs from a whitespace- or tab-separated list."""
    path = Path(path)
    pairs = []
    for number, line in _lines(path):
        fields = line.split()
        if len(fields) < 3:
            raise ToolkitError(f"{path}, line {number}: expected 'w1 w2 score', got '{line}'.")
        try:
            score = float(fields[2])
        except ValueError:
            if not pairs:  # a header line such as "word1 word2 score"
                continue
            raise ToolkitError(f"{path}, line {number}: the score '{fields[2]}' is not a number.") from None
        pairs.append((fields[0], fields[1], score))
    if len(pairs) < 2:
        raise ToolkitError(f"{path} holds {len(pairs)} scored pairs; a similarity list needs at least 2.")
    return pairs


# --------------------------------------------------------------------------- similarity


def evaluate_similarity(vectors, pairs: list[tuple[str, str, float]]) -> dict[str, float]:
    """Spearman correlation between cosine similarity and the given scores, on covered pairs."""
    from scipy.stats import spearmanr

    covered = [(a, b, s) for a, b, s in pairs if a in vectors.key_to_index and b in vectors.key_to_index]
    result = {"spearman": float("nan"), "coverage": len(covered) / len(pairs),
              "pairs": len(pairs), "covered": len(covered)}
    if len(covered) >= 2:
        model = [float(vectors.similarity(a, b)) for a, b, _ in covered]
        result["spearman"] = float(spearmanr(model, [s for _, _, s in covered]).statistic)
    return result


# --------------------------------------------------------------------------- analogies


@dataclass(frozen=True)
class Convention:
    """How analogy questions are answered. Both conventions use cosines shifted to [0, 1] as
    (cos + 1) / 2 for 3CosMul; they differ in 3CosMul's epsilon and in the score the three question
    words get so they are not answers. (Which questions count is the other difference: see
    ``_score_section``.)"""

    name: str
    epsilon: float
    excluded: float  # the score of the question words: below any other (gensim) or 0 (CA8)
    add_on_shifted: bool  # 3CosAdd on shifted cosines: the same ranking, but 0 is then a low score


GENSIM = Convention("gensim", epsilon=1e-6, excluded=-np.inf, add_on_shifted=False)
# CA8 sets the question words' scores to 0 rather than removing them; numpy's argmax takes the first
# of equal best scores, as CA8's nanargmax does.
CA8 = Convention("ca8", epsilon=0.01, excluded=0.0, add_on_shifted=True)
CONVENTIONS = {convention.name: convention for convention in (GENSIM, CA8)}


@dataclass
class AnalogyScore:
    questions: int = 0
    covered: int = 0
    correct_add: int = 0
    correct_mul: int = 0
    ca8_covered: int = 0
    ca8_correct_add: int = 0
    ca8_correct_mul: int = 0
    sections: dict[str, dict[str, float]] = field(default_factory=dict)

    def merge(self, other: AnalogyScore) -> None:
        for name in ("questions", "covered", "correct_add", "correct_mul", "ca8_covered", "ca8_correct_add", "ca8_correct_mul"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self) -> dict[str, float]:
        """Accuracies under gensim's rule and CA8's, each with its coverage and counts. Without a
        covered question an accuracy is nan (printed n/a): CA8's script prints 0.0 then, which reads
        as a measured score of zero."""
        def rate(correct: int, covered: int, empty: float = float("nan")) -> float:
            return correct / covered if covered else empty

        return {
            "3cosadd": rate(self.correct_add, self.covered, float("nan")),
            "3cosmul": rate(self.correct_mul, self.covered, float("nan")),
            "coverage": rate(self.covered, self.questions, float("nan")),
            "questions": self.questions,
            "covered": self.covered,
            "ca8_3cosadd": rate(self.ca8_correct_add, self.ca8_covered),
            "ca8_3cosmul": rate(self.ca8_correct_mul, self.ca8_covered),
            "ca8_coverage": rate(self.ca8_covered, self.questions, float("nan")),
            "ca8_covered": self.ca8_covered,
        }


def _best(scores: np.ndarray, part: np.ndarray, excluded: float, topn: int) -> np.ndarray:
    """The ``topn`` best word ids per row of ``scores``, the question words scored ``excluded``."""
    rows = np.arange(len(part))[:, None]
    scores[rows, part[:, :3]] = excluded
    if topn == 1:
        return scores.argmax(axis=1)[:, None]  # the first of equal best scores, as CA8's argmax
    top = np.argpartition(-scores, topn - 1, axis=1)[:, :topn] if topn < scores.shape[1] else np.argsort(-scores, axis=1)
    order = np.argsort(-scores[rows, top], axis=1, kind="stable")
    return top[rows, order][:, :topn]


def _answers(vectors, questions: list[tuple[str, str, str]], topn: int, restrict_vocab: int | None,
             conventions: tuple[Convention, ...]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(3CosAdd ids, 3CosMul ids) per convention, from one matrix product per chunk of questions."""
    normed = vectors.get_normed_vectors()
    if restrict_vocab:
        normed = normed[:restrict_vocab]
    ids = np.array([[vectors.key_to_index[w] for w in q] for q in questions], dtype=np.int64).reshape(-1, 3)
    chunk = max(1, _SCORE_BUDGET // max(len(normed), 1))
    found: dict[str, tuple[list, list]] = {convention.name: ([], []) for convention in conventions}
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        # cos(every word, a), cos(every word, b), cos(every word, c): (3, chunk, vocab)
        cos = np.stack([normed[part[:, k]] @ normed.T for k in range(3)])
        shifted = (cos + 1.0) / 2.0
        for convention in conventions:
            add = shifted[1] - shifted[0] + shifted[2] if convention.add_on_shifted else cos[1] - cos[0] + cos[2]
            mul = shifted[1] * shifted[2] / (shifted[0] + convention.epsilon)
            best_add, best_mul = found[convention.name]
            best_add.append(_best(add, part, convention.excluded, topn))
            best_mul.append(_best(mul, part, convention.excluded, topn))
    empty = np.zeros((0, topn), dtype=np.int64)
    return {name: (np.concatenate(add) if add else empty, np.concatenate(mul) if mul else empty)
            for name, (add, mul) in found.items()}


def answer_analogies(vectors, questions: list[tuple[str, str, str]], topn: int = 1,
                     restrict_vocab: int | None = None, convention: str = "gensim") -> tuple[np.ndarray, np.ndarray]:
    """Best answers d for ``a : b :: c : d`` by 3CosAdd and 3CosMul (ids into the vocabulary).

    3CosAdd maximises cos(d, b) - cos(d, a) + cos(d, c); 3CosMul (Levy and Goldberg, 2014)
    maximises cos'(d, b) cos'(d, c) / (cos'(d, a) + epsilon) with cos' = (cos + 1) / 2. With the
    ``gensim`` convention these are gensim's ``most_similar`` and ``most_similar_cosmul``
    (epsilon 1e-6); with ``ca8`` they are CA8's evaluation script (epsilon 0.01), computed for a
    whole chunk of questions with one matrix product. The question words themselves are never
    answers. All words must be in the vocabulary. Returns two (questions x topn) arrays of word ids.
    """
    return _answers(vectors, questions, topn, restrict_vocab, (CONVENTIONS[convention],))[convention]


def _score_section(vectors, questions: list[tuple[str, str, str, str]], limit: int) -> AnalogyScore:
    known = vectors.key_to_index

    def has(word: str) -> bool:
        return word in known and known[word] < limit

    asked = [q for q in questions if all(has(w) for w in q[:3])]  # CA8's rule
    complete = np.array([has(q[3]) for q in asked], dtype=bool)  # gensim's rule: the answer too
    score = AnalogyScore(questions=len(questions), covered=int(complete.sum()), ca8_covered=len(asked))
    if asked:
        answers = _answers(vectors, [q[:3] for q in asked], 1, limit, (GENSIM, CA8))
        expected = np.array([known[q[3]] if has(q[3]) else -1 for q in asked])
        gensim_add, gensim_mul = (best[:, 0] == expected for best in answers["gensim"])
        ca8_add, ca8_mul = (best[:, 0] == expected for best in answers["ca8"])
        score.correct_add, score.correct_mul = int(gensim_add[complete].sum()), int(gensim_mul[complete].sum())
        score.ca8_correct_add, score.ca8_correct_mul = int(ca8_add.sum()), int(ca8_mul.sum())
    return score


def evaluate_analogies(vectors, sections: dict[str, list[tuple[str, str, str, str]]],
                       restrict_vocab: int | None = None) -> AnalogyScore:
    """Accuracy of 3CosAdd and 3CosMul under gensim's and CA8's conventions, overall and per section."""
    limit = restrict_vocab or len(vectors.key_to_index)
    score = AnalogyScore()
    for section, questions in sections.items():
        section_score = _score_section(vectors, questions, limit)
        score.merge(section_score)
        score.sections[section] = section_score.summary()
    return score


# --------------------------------------------------------------------------- one call for a run


def run_benchmark(vectors, benchmark: Benchmark) -> dict:
    """Evaluate vectors on one benchmark file; the record metrics.json keeps for it."""
    if benchmark.kind == "analogy":
        score = evaluate_analogies(vectors, read_analogies(benchmark.path))
        return {"benchmark": benchmark.name, "kind": "analogy", "path": str(benchmark.path),
                "metrics": score.summary(), "sections": score.sections}
    result = evaluate_similarity(vectors, read_similarity(benchmark.path))
    return {"benchmark": benchmark.name, "kind": "similarity", "path": str(benchmark.path), "metrics": result}


def headline(record: dict) -> dict[str, float]:
    """The numbers of a benchmark record worth one line: accuracy or correlation, and coverage."""
    metrics = record["metrics"]
    kind = record["kind"]
    keys = (("3cosadd", "3cosmul", "coverage", "ca8_3cosadd", "ca8_3cosmul", "ca8_coverage") if kind == "analogy"
            else ("spearman", "coverage"))
    # The bundled sets read as analogy_* / similarity_*; a user's file by its name.
    prefix = kind if record["benchmark"] == f"toolkit-zh-{kind}" else record["benchmark"]
    return {f"{prefix}_{key}": metrics[key] for key in keys}


def headline_names(recipe) -> tuple[str, ...]:
    """The main number of each of the recipe's benchmarks as its run's metrics.json names it
    (3CosAdd accuracy of an analogy set, Spearman correlation of a similarity set), in eval.metrics order."""
    names = []
    for benchmark in map(parse_benchmark, recipe.eval.metrics):
        prefix = benchmark.kind if benchmark.name == f"toolkit-zh-{benchmark.kind}" else benchmark.name
        names.append(f"{prefix}_{'3cosadd' if benchmark.kind == 'analogy' else 'spearman'}")
    return tuple(names)


# --------------------------------------------------------------------------- queries


def require_words(vectors, words: list[str]) -> None:
    """Raise a ToolkitError naming the words without a vector, with known words that contain them."""
    missing = [w for w in words if w not in vectors.key_to_index]
    if not missing:
        return
    hints = []
    for word in missing:
        # The vocabulary is sorted by frequency, so the first matches are the common ones.
        near = [k for k in vectors.index_to_key if k != word and (word in k or (len(k) > 1 and k in word))][:5]
        hints.append(f"'{word}'" + (f" (known: {', '.join(near)})" if near else ""))
    raise ToolkitError(f"Not in the vocabulary of {len(vectors):,} tokens: {'; '.join(hints)}. A character-level "
                       f"model knows single characters only; rare words fall under model.config.min_count.")


def nearest(vectors, word: str, topn: int = 10) -> list[tuple[str, float]]:
    """The ``topn`` words with the highest cosine similarity to ``word``."""
    require_words(vectors, [word])
    return [(w, float(s)) for w, s in vectors.most_similar(word, topn=topn)]


def solve_analogy(vectors, a: str, b: str, c: str, topn: int = 5) -> dict[str, list[tuple[str, float]]]:
    """Answers to ``a : b :: c : ?`` by 3CosAdd and 3CosMul, each with its score."""
    require_words(vectors, [a, b, c])
    return {
        "3cosadd": [(w, float(s)) for w, s in vectors.most_similar(positive=[b, c], negative=[a], topn=topn)],
        "3cosmul": [(w, float(s)) for w, s in vectors.most_similar_cosmul(positive=[b, c], negative=[a], topn=topn)],
    }

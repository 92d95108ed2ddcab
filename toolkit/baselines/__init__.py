"""Baselines next to the recipes: for each recipe, the strongest simple model for its task, fitted
on exactly the card, splits, view and scored examples the recipe uses, and scored with the
toolkit's own metrics (``toolkit baseline``).

sequence_classification: TF-IDF char 1-2-grams + logistic regression (tfidf.py); token_classification:
a linear-chain CRF over character features (crf.py); causal_lm: an interpolated modified Kneser-Ney
n-gram LM over the recipe's own tokens (ngram_lm.py, kneser_ney.py). Each module imports its
libraries when it fits, so importing this package stays light.
"""

from __future__ import annotations

# task -> "module:function" fitting its baseline: (recipe, corpus, split, order=...) -> BaselineResult
BASELINES = {
    "sequence_classification": "toolkit.baselines.tfidf:fit",
    "token_classification": "toolkit.baselines.crf:fit",
    "causal_lm": "toolkit.baselines.ngram_lm:fit",
}
# Tasks left out of the table: word2vec's analogy and similarity figures have no held-out split to
# put a baseline next to.
SKIPPED_TASKS = ("word2vec",)


def fit_baseline(recipe, split: str, **options):
    """The task's baseline fitted on the recipe's corpus and scored on ``split`` (None for a task
    that has none)."""
    from ..data import load_corpus
    from ..data.corpus import check_view
    from ..data import load_card
    from .. import registry

    target = BASELINES.get(recipe.task)
    if target is None:
        return None
    card = load_card(recipe.data.card)
    view = registry.task(recipe.task).view(recipe, card)
    check_view(card, view)
    corpus = load_corpus(card, view=view, max_rows=recipe.data.max_rows)
    if split not in corpus:
        from ..errors import ToolkitError

        raise ToolkitError(f"Split '{split}' is not in corpus {recipe.data.card}; it has {', '.join(corpus)}.")
    return registry.import_target(target)(recipe, corpus, split, **options)

"""`toolkit sweep`: hyperparameter search over a recipe (toolkit.sweep; Optuna is imported when it runs)."""

from __future__ import annotations

import sys

from .flags import whole_number


def cmd_sweep(args) -> int:
    from ..recipe import SWEEP_SPACE_SUFFIX, find_recipe
    from ..sweep.study import run_sweep

    space = args.space
    if space is None:  # the space kept next to the recipe: recipes/word2vec/x.yaml -> x.sweep.yaml
        space = find_recipe(args.recipe).with_name(find_recipe(args.recipe).name.removesuffix(".yaml") + SWEEP_SPACE_SUFFIX)
    try:
        result = run_sweep(args.recipe, args.overrides, space, args.trials, out=args.out, resume=args.resume)
    except KeyboardInterrupt:  # a trial's training loop saved its checkpoint first
        print("\nSweep interrupted; the trial that was running will run again when you repeat the command "
              "(with --resume).", file=sys.stderr)
        return 130
    print(f"\n{result.table}\n")
    print(f"Sweep folder: {result.sweep_dir} (results.csv, results.png, one run folder per trial)")
    if result.best_recipe is None:
        print(f"No trial finished, so there is no best recipe; see {result.sweep_dir / 'results.csv'}.")
    else:
        print(f"Best {result.metric} ({result.direction}): {result.best_value:.4g}; its recipe: {result.best_recipe} "
              f"(train it with `toolkit run {result.best_recipe}`)")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep", help="search a recipe's hyperparameters with Optuna (each trial a run folder)",
        description="Train the recipe once per trial with values from the search space, choose on the validation "
                    "split, and write results.csv, results.png and best_recipe.yaml into the sweep folder. An "
                    "interrupted sweep resumes when the same command is repeated.")
    p.intermixed = True  # overrides may follow the flags
    p.add_argument("recipe", help="recipe file or bundled name (word2vec/skipgram_word_pd98)")
    p.add_argument("overrides", nargs="*", help="dotted key=value overrides of the base recipe, e.g. data.max_rows=1000")
    p.add_argument("--space", help="search-space YAML (default: the recipe's name with .sweep.yaml, next to it)")
    p.add_argument("--trials", type=whole_number(1), default=20,
                   help="finished trials wanted, counting those of an interrupted run of this sweep (default 20)")
    p.add_argument("--out", help="sweep folder (default runs/sweeps/<recipe name>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the sweep in the folder (also done without it when the folder holds the same sweep)")
    p.set_defaults(func=cmd_sweep)

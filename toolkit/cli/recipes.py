"""`toolkit run`, `toolkit validate`, `toolkit recipes`: the commands that take a recipe."""

from __future__ import annotations

import sys


def cmd_recipes(args) -> int:
    from ..paths import bundled_dir
    from ..recipe import bundled_recipes, read_recipe

    root = bundled_dir("recipes")
    for path in bundled_recipes():
        # The schema is enough for a listing; checking each family's config would import torch
        # (rnn_lm, elmo). tests/unit/test_recipes.py validates every bundled recipe in full.
        recipe = read_recipe(path)
        print(f"{str(path.relative_to(root).with_suffix('')):32s} {recipe.description}")
    return 0


def cmd_validate(args) -> int:
    from ..data.sources import check_card_files
    from ..registry import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    check_card_files(recipe.data.card)  # what `run` checks before it makes the run folder
    if recipe.launch.accelerate_config:
        from ..api import accelerate_config_file

        accelerate_config_file(recipe.launch.accelerate_config)
    print(f"{args.recipe}: valid ({recipe.task}, {recipe.model.family}, card {recipe.data.card}, output {recipe.output.dir})")
    if args.show:
        print(recipe.to_yaml())
    return 0


def cmd_run(args) -> int:
    from ..api import run
    from ..training import TrainingInterrupted

    try:
        result = run(args.recipe, args.overrides, resume=args.resume)
    except TrainingInterrupted as stop:
        print(f"\n{stop}", file=sys.stderr)
        return 130
    if result.metrics and not result.relaunched:
        final = result.metrics.get("final", {})
        print(f"\nRun folder: {result.run_dir}")
        print("Final metrics: " + ", ".join(f"{k} {v:.4g}" for k, v in final.items()))
        for sample in result.metrics.get("samples", []):
            print(f"  {sample['prompt']} → {sample['text']}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="train and evaluate what a recipe says")
    p.intermixed = True  # overrides may follow --resume
    p.add_argument("recipe", help="recipe file or bundled name (gpt2/tiny_pretrain)")
    p.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. train.max_steps=200")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's latest checkpoint")
    p.set_defaults(func=cmd_run)

    p = subparsers.add_parser("validate", help="check a recipe without running it")
    p.intermixed = True  # overrides may follow --show
    p.add_argument("recipe")
    p.add_argument("overrides", nargs="*")
    p.add_argument("--show", action="store_true", help="print the resolved recipe")
    p.set_defaults(func=cmd_validate)

    p = subparsers.add_parser("recipes", help="list the bundled recipes")
    p.set_defaults(func=cmd_recipes)

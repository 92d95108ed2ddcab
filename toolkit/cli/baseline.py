"""`toolkit baseline`: each recipe's held-out figure next to the strongest simple baseline for its
task, fitted on the same data (toolkit.baselines)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from ..errors import ToolkitError
from .flags import whole_number


def cmd_baseline(args) -> int:
    from ..baselines.side_by_side import COLUMNS, baseline_rows, markdown_table, text_table

    rows = baseline_rows(args.recipes, args.split, args.order,
                         progress=lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=[*COLUMNS, "notes"], lineterminator="\n")
        writer.writeheader()
        writer.writerows({**row, "notes": "; ".join(row["notes"])} for row in rows)
    else:
        print(text_table(rows))
    if args.markdown:
        try:
            Path(args.markdown).write_text(markdown_table(rows), encoding="utf-8")
        except OSError as exc:
            raise ToolkitError(f"Could not write the markdown table to {args.markdown} ({exc.strerror}); give "
                               f"--markdown a writable file path.") from None
        print(f"\nMarkdown table: {args.markdown}", file=sys.stderr)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "baseline", help="recipes' held-out figures next to simple baselines (TF-IDF+LR, CRF, Kneser-Ney n-gram)",
        description="For each recipe: its held-out figure (from its run folder; 'not trained' without one) next to "
                    "the strongest simple baseline for its task, fitted on the same card, splits and tokens and "
                    "scored with the same metric; and the wall time of both.")
    p.add_argument("recipes", nargs="+", metavar="RECIPE", help="recipe files or bundled names (gpt2/tiny_pretrain)")
    p.add_argument("--split", choices=("validation", "test"), default="validation", help="held-out split (default validation)")
    p.add_argument("--order", type=whole_number(1), default=5, help="n-gram order of the causal LM baseline (default 5)")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    shown.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as markdown to FILE (for a README)")
    p.set_defaults(func=cmd_baseline)

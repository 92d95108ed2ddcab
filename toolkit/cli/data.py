"""`toolkit data list` and `toolkit data show`: the bundled data cards."""

from __future__ import annotations

import json

from .flags import whole_number


def cmd_data_list(args) -> int:
    from ..data import list_cards, load_card

    for name in list_cards():
        card = load_card(name)
        derived = card.source.derived_from and f"{card.source.transform}({card.source.derived_from})"
        mixed = card.source.mix and "+".join(part.card for part in card.source.mix)
        where = card.source.hub or card.source.package or derived or mixed or "local files"
        print(f"{name:28s} {card.source.kind:8s} {where:24s} {card.size_note or ''}")
    return 0


def cmd_data_show(args) -> int:
    from ..data import load_card, load_corpus

    card = load_card(args.name)
    if args.json:
        print(card.model_dump_json(indent=2, exclude_none=True))
    corpus = load_corpus(card, max_rows=args.max_rows)
    samples = [dict(row) for row in corpus["train"].select(range(min(args.samples, len(corpus["train"]))))]
    if not args.json:
        from .card_view import card_facts, format_rows, format_table

        print(format_table(card_facts(card, {split: len(ds) for split, ds in corpus.items()}, corpus["train"].column_names)))
        if samples:
            print(f"\n{len(samples)} sample row{'s' if len(samples) > 1 else ''} of train:")
            print(format_rows(samples))
        return 0
    print("\nsplits: " + ", ".join(f"{split} {len(ds):,} rows" for split, ds in corpus.items()))
    print(f"columns: {', '.join(corpus['train'].column_names)}")
    for row in samples:
        shown = {k: (v[:80] + "…" if isinstance(v, str) and len(v) > 80 else v) for k, v in row.items()}
        if "words" in shown:
            shown["words"] = " ".join(shown["words"][:20])
        if "pos" in shown:
            shown["pos"] = " ".join(shown["pos"][:20])
        print("  " + json.dumps(shown, ensure_ascii=False))
    return 0


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="data cards: list, show").add_subparsers(dest="data_command", required=True, metavar="ACTION")
    p = data.add_parser("list", help="list the bundled data cards")
    p.set_defaults(func=cmd_data_list)
    p = data.add_parser("show", help="a card, its splits and sizes, and sample rows")
    p.add_argument("name", help="card name or path to a card YAML")
    p.add_argument("--samples", type=int, default=3, help="sample rows to print (default 3)")
    p.add_argument("--max-rows", type=whole_number(1), default=None, help="read only the first rows of the source (at least 1)")
    p.add_argument("--json", action="store_true", help="print the card as JSON (then its splits and sample rows) instead of a table")
    p.set_defaults(func=cmd_data_show)

"""`toolkit fill-mask` and `toolkit predict`: try a BERT run folder from the command line."""

from __future__ import annotations

import json

from .errors import ToolkitError


def _pipeline(task: str, model: str):
    from transformers import pipeline

    try:
        return pipeline(task, model=model)
    except (OSError, ValueError) as exc:
        raise ToolkitError(f"Could not load a {task} model from '{model}': {str(exc).splitlines()[0]}") from None


def cmd_fill_mask(args) -> int:
    fill = _pipeline("fill-mask", args.run_dir)
    if fill.tokenizer.mask_token not in args.text:
        raise ToolkitError(f"The text has no {fill.tokenizer.mask_token} token to fill, e.g. 今天{fill.tokenizer.mask_token}气很好.")
    results = fill(args.text, top_k=args.top_k)
    groups = results if results and isinstance(results[0], list) else [results]
    for number, group in enumerate(groups, start=1):
        if len(groups) > 1:
            print(f"mask {number}:")
        for guess in group:
            print(f"  {guess['token_str']}\t{guess['score']:.4f}\t{guess['sequence'].replace(' ', '')}")
    return 0


def cmd_predict(args) -> int:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(args.run_dir)
    architecture = (config.architectures or [""])[0]
    if architecture.endswith("ForTokenClassification"):
        tagger = _pipeline("token-classification", args.run_dir)
        for text in args.text:
            tags = [(item["word"], item["entity"], round(float(item["score"]), 4)) for item in tagger(text)]
            print(json.dumps({"text": text, "tags": tags}, ensure_ascii=False))
        return 0
    classify = _pipeline("text-classification", args.run_dir)
    for text in args.text:
        best = classify(text)[0]
        print(f"{best['label']}\t{best['score']:.4f}\t{text}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("fill-mask", help="top predictions for [MASK] with a BERT run folder")
    p.add_argument("run_dir")
    p.add_argument("text", help='text with [MASK], e.g. "今天[MASK]气很好"')
    p.add_argument("--top-k", type=int, default=5)
    p.set_defaults(func=cmd_fill_mask)

    p = subparsers.add_parser("predict", help="label (and probability) of texts with a classification or tagging run folder")
    p.add_argument("run_dir")
    p.add_argument("text", nargs="+", help="one or more texts")
    p.set_defaults(func=cmd_predict)

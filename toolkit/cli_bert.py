"""`toolkit fill-mask` and `toolkit predict`: try a BERT run folder from the command line."""

from __future__ import annotations

import json

from .errors import ToolkitError


def _pipeline(task: str, model: str, trust_remote_code: bool):
    from transformers import pipeline

    from .models.pretrained import needs_trust_error, remote_code_trust

    try:
        return pipeline(task, model=model, trust_remote_code=remote_code_trust(model, trust_remote_code))
    except (OSError, ValueError) as exc:
        if "trust_remote_code" in str(exc):
            raise needs_trust_error(task, model, "--trust-remote-code") from None
        raise ToolkitError(f"Could not load a {task} model from '{model}': {str(exc).splitlines()[0]}") from None


def cmd_fill_mask(args) -> int:
    fill = _pipeline("fill-mask", args.run_dir, args.trust_remote_code)
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
    from .models.pretrained import load_model_config

    config = load_model_config(args.run_dir, args.trust_remote_code, what="predict")
    architecture = (config.architectures or [""])[0]
    if architecture.endswith("ForTokenClassification"):
        tagger = _pipeline("token-classification", args.run_dir, args.trust_remote_code)
        for text in args.text:
            tags = [(item["word"], item["entity"], round(float(item["score"]), 4)) for item in tagger(text)]
            print(json.dumps({"text": text, "tags": tags}, ensure_ascii=False))
        return 0
    classify = _pipeline("text-classification", args.run_dir, args.trust_remote_code)
    for text in args.text:
        best = classify(text)[0]
        print(f"{best['label']}\t{best['score']:.4f}\t{text}")
    return 0


def register(subparsers) -> None:
    from .cli import add_trust_flag

    p = subparsers.add_parser("fill-mask", help="top predictions for [MASK] with a BERT run folder")
    p.add_argument("run_dir")
    p.add_argument("text", help='text with [MASK], e.g. "今天[MASK]气很好"')
    p.add_argument("--top-k", type=int, default=5)
    add_trust_flag(p)
    p.set_defaults(func=cmd_fill_mask)

    p = subparsers.add_parser("predict", help="label (and probability) of texts with a classification or tagging run folder")
    p.add_argument("run_dir")
    p.add_argument("text", nargs="+", help="one or more texts")
    add_trust_flag(p)
    p.set_defaults(func=cmd_predict)

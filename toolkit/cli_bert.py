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


def _architecture(model: str, trust_remote_code: bool) -> tuple[str, str]:
    """(source to load, the architecture its config.json names), after checking it is a model folder."""
    from .models.pretrained import load_model_config, model_folder

    source = model_folder(model)
    config = load_model_config(source, trust_remote_code)
    return source, (config.architectures or ["(none named in config.json)"])[0]


# What each kind of model folder is for: architecture name ending -> the command that uses it.
COMMAND_FOR = {
    "ForSequenceClassification": "predict", "ForTokenClassification": "predict",
    "ForMaskedLM": "fill-mask", "ForPreTraining": "fill-mask",
    "ForCausalLM": "generate", "LMHeadModel": "generate", "ElmoModel": "embed",
}
_USAGE = {"predict": "toolkit predict {dir} TEXT", "fill-mask": "toolkit fill-mask {dir} TEXT_WITH_[MASK]",
          "generate": "toolkit generate {dir} --prompt TEXT", "embed": "toolkit embed {dir} TEXT"}


def command_for(architecture: str) -> str | None:
    """The toolkit command that uses a model of this architecture (None: none does)."""
    return next((command for ending, command in COMMAND_FOR.items() if architecture.endswith(ending)), None)


def _refuse(model: str, architecture: str, command: str, wants: str) -> ToolkitError:
    """Why ``command`` does not apply to this folder, and which command does."""
    fits = command_for(architecture)
    instead = f"; for this model use `{_USAGE[fits].format(dir=model)}`" if fits else ""
    return ToolkitError(f"{model} holds a {architecture}, not {wants}, so `toolkit {command}` cannot use it{instead}.")


def cmd_fill_mask(args) -> int:
    source, architecture = _architecture(args.run_dir, args.trust_remote_code)
    if command_for(architecture) != "fill-mask":
        raise _refuse(args.run_dir, architecture, "fill-mask", "a masked language model (such as BertForMaskedLM)")
    fill = _pipeline("fill-mask", source, args.trust_remote_code)
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
    source, architecture = _architecture(args.run_dir, args.trust_remote_code)
    if architecture.endswith("ForTokenClassification"):
        tagger = _pipeline("token-classification", source, args.trust_remote_code)
        for text in args.text:
            tags = [(item["word"], item["entity"], round(float(item["score"]), 4)) for item in tagger(text)]
            print(json.dumps({"text": text, "tags": tags}, ensure_ascii=False))
        return 0
    # Any other architecture would get a new, untrained classification head: random labels.
    if command_for(architecture) != "predict":
        raise _refuse(args.run_dir, architecture, "predict", "a sequence or token classification model")
    classify = _pipeline("text-classification", source, args.trust_remote_code)
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

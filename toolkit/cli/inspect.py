"""Try a trained model from the command line: `toolkit generate`, `predict`, `fill-mask`, `embed`
and `eval`. Each command checks that the folder holds the kind of model it uses, and names the
command that fits when it does not.
"""

from __future__ import annotations

import json
import sys

from ..errors import ToolkitError
from ..recipe import SEED_LIMIT
from .flags import add_trust_flag, whole_number

# `toolkit generate` flags, one per GenerationSection field.
GENERATION_FLAGS = ("max_new_tokens", "top_k", "top_p", "temperature", "repetition_penalty")


def _flag(setting: str) -> str:
    return "--" + setting.replace("_", "-")


def cmd_generate(args) -> int:
    from ..api import generate
    from ..generation import SAMPLING_SETTINGS, checked_settings

    # Flags left out are None: the recipe's eval.generation defaults apply.
    settings = {k: getattr(args, k) for k in GENERATION_FLAGS if getattr(args, k) is not None}
    settings["do_sample"] = not args.greedy
    if args.greedy:  # the most likely token is the same at any temperature: sampling flags do not apply
        ignored = [_flag(k) for k in SAMPLING_SETTINGS if k in settings]
        if ignored:
            print(f"note: --greedy picks the most likely token, so {', '.join(ignored)} "
                  f"{'does' if len(ignored) == 1 else 'do'} not apply.", file=sys.stderr)
    checked_settings(settings, name=_flag)  # before loading the model, naming the flag
    refuse_other_models(args.run_dir, "generate", "a causal language model (such as GPT2LMHeadModel)")
    for text in generate(args.run_dir, args.prompt, seed=args.seed, trust_remote_code=args.trust_remote_code, **settings):
        print(text)
    return 0


def cmd_eval(args) -> int:
    from ..api import evaluate

    from pathlib import Path

    from ..reporting.metrics import read_metrics
    from ..rundir import is_run_dir

    result = evaluate(args.run_dir, card=args.card, split=args.split, max_batches=args.max_batches,
                      trust_remote_code=args.trust_remote_code)
    print(", ".join(f"{k} {v:.4g}" for k, v in result.items()))
    if is_run_dir(args.run_dir):  # figures the evaluation drew next to metrics.json (seq2seq: per source length)
        for figure in (read_metrics(args.run_dir).get("evaluations") or [{}])[-1].get("figures") or []:
            print(f"{Path(args.run_dir) / figure['file']}: {figure['caption']}")
    return 0




def _pipeline(task: str, model: str, trust_remote_code: bool):
    from transformers import pipeline

    from ..pretrained import loading_error, remote_code_trust

    try:
        return pipeline(task, model=model, trust_remote_code=remote_code_trust(model, trust_remote_code))
    except (OSError, ValueError) as exc:
        raise loading_error(model, f"a {task} model from", exc, command=task) from None


def _architecture(model: str, trust_remote_code: bool) -> tuple[str, str]:
    """(source to load, the architecture its config.json names), after checking it is a model folder."""
    from ..pretrained import load_model_config, model_folder

    source = model_folder(model)
    config = load_model_config(source, trust_remote_code)
    return source, (config.architectures or ["(none named in config.json)"])[0]


# What each kind of model folder is for: architecture name ending -> the command that uses it.
COMMAND_FOR = {
    "ForSequenceClassification": "predict", "ForTokenClassification": "predict",
    "ForMaskedLM": "fill-mask", "ForPreTraining": "fill-mask",
    "ForCausalLM": "generate", "LMHeadModel": "generate", "ElmoModel": "embed",
    "MTModel": "translate", "ForConditionalGeneration": "translate",  # encoder-decoders (Marian, ConvS2S, RNN)
}
_USAGE = {"predict": "toolkit predict {dir} TEXT", "fill-mask": "toolkit fill-mask {dir} TEXT_WITH_[MASK]",
          "generate": "toolkit generate {dir} --prompt TEXT", "embed": "toolkit embed {dir} TEXT",
          "translate": "toolkit translate {dir} SOURCE_TEXT"}


def command_for(architecture: str) -> str | None:
    """The toolkit command that uses a model of this architecture (None: none does)."""
    return next((command for ending, command in COMMAND_FOR.items() if architecture.endswith(ending)), None)


def refuse_other_models(model: str, command: str, wants: str, uses: str | None = None) -> None:
    """Refuse ``command`` on a folder whose config.json names an architecture another command
    uses (an ELMo biLM for generate), naming that command. ``uses``: the command whose models this
    one takes, when not its own (`toolkit attention` takes translate's). The config is read as data,
    before any loading; a folder without a readable one (a LoRA adapter) is left to the loading to judge."""
    from transformers import PretrainedConfig

    from ..pretrained import model_folder

    try:
        config, _ = PretrainedConfig.get_config_dict(model_folder(model))
    except (OSError, ValueError):
        return
    architecture = (config.get("architectures") or [""])[0]
    if command_for(architecture) not in (None, uses or command):
        raise _refuse(model, architecture, command, wants)


def _refuse(model: str, architecture: str, command: str, wants: str) -> ToolkitError:
    """Why ``command`` does not apply to this folder, and which command does."""
    fits = command_for(architecture)
    instead = f"; for this model use `{_USAGE[fits].format(dir=model)}`" if fits else ""
    return ToolkitError(f"{model} holds a {architecture}, not {wants}, so `toolkit {command}` cannot use it{instead}.")


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def _refuse_empty(texts: list[str], command: str, example: str) -> None:
    """An empty text would be classified (or filled) from the special tokens alone."""
    for number, text in enumerate(texts, start=1):
        if not text.strip():
            which = f"text {number} of {len(texts)}" if len(texts) > 1 else "the text"
            raise ToolkitError(f"`toolkit {command}`: {which} is empty or only spaces; give some text, e.g. {example}.")


def _note_unknown(tokenizer, text: str) -> None:
    from ..generation import unknown_characters_note

    # The pipelines read special tokens typed in the text ([MASK]) as such, so the check does too.
    note = unknown_characters_note(tokenizer, text, f"the model sees {tokenizer.unk_token or 'nothing'} in their place",
                                   split_special_tokens=False)
    if note:
        _note(note)


def _positions(model) -> int | None:
    """The most tokens the model takes (special tokens included); None when it has no limit."""
    return getattr(model.config, "max_position_embeddings", None)


def _cut_to_fit(tokenizer, text: str, limit: int) -> tuple[str, int]:
    """(the start of ``text`` whose tokens fit ``limit`` with the special tokens, its token count
    without them). The text is cut by its tokens' character offsets, so no token is split."""
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    room = limit - tokenizer.num_special_tokens_to_add(pair=False)
    return (text if len(offsets) <= room else text[: offsets[room - 1][1]]), len(offsets)


def _fit_for_predict(tokenizer, model, text: str) -> str:
    """The text, or its start when it is longer than the model takes (with a note)."""
    limit = _positions(model)
    if limit is None:
        return text
    kept, tokens = _cut_to_fit(tokenizer, text, limit)
    if kept != text:
        _note(f"the text has {tokens} tokens and the model takes {limit} with its special tokens: "
              f"predicting from its first {len(kept)} characters.")
    return kept


def _fit_for_fill_mask(tokenizer, model, text: str) -> str:
    """The text, or its start when longer than the model takes (with a note); refused when a
    [MASK] would be cut off."""
    limit = _positions(model)
    if limit is None:
        return text
    kept, tokens = _cut_to_fit(tokenizer, text, limit)
    if kept == text:
        return text
    mask = tokenizer.mask_token
    if text.count(mask) != kept.count(mask):
        raise ToolkitError(
            f"The text has {tokens} tokens, but the model takes {limit} with its special tokens, and a {mask} lies "
            f"past them: move each {mask} into the first {len(kept)} characters, or shorten the text.")
    _note(f"the text has {tokens} tokens and the model takes {limit} with its special tokens: filling "
          f"the {mask} from its first {len(kept)} characters.")
    return kept


def cmd_fill_mask(args) -> int:
    _refuse_empty([args.text], "fill-mask", "今天[MASK]气很好")
    source, architecture = _architecture(args.run_dir, args.trust_remote_code)
    if command_for(architecture) != "fill-mask":
        raise _refuse(args.run_dir, architecture, "fill-mask", "a masked language model (such as BertForMaskedLM)")
    fill = _pipeline("fill-mask", source, args.trust_remote_code)
    if fill.tokenizer.mask_token not in args.text:
        raise ToolkitError(f"The text has no {fill.tokenizer.mask_token} token to fill, e.g. 今天{fill.tokenizer.mask_token}气很好.")
    _note_unknown(fill.tokenizer, args.text)
    text = _fit_for_fill_mask(fill.tokenizer, fill.model, args.text)
    vocabulary = fill.model.config.vocab_size
    top_k = min(args.top_k, vocabulary)
    if top_k < args.top_k:
        _note(f"--top-k {args.top_k} is more than the {vocabulary} tokens of the vocabulary: showing all {vocabulary}.")
    results = fill(text, top_k=top_k)
    groups = results if results and isinstance(results[0], list) else [results]
    for number, group in enumerate(groups, start=1):
        if len(groups) > 1:
            print(f"mask {number}:")
        for guess in group:
            print(f"  {guess['token_str']}\t{guess['score']:.4f}\t{guess['sequence'].replace(' ', '')}")
    return 0


def cmd_predict(args) -> int:
    _refuse_empty(args.text, "predict", "这家酒店很好")
    source, architecture = _architecture(args.run_dir, args.trust_remote_code)
    if architecture.endswith("ForTokenClassification"):
        tagger = _pipeline("token-classification", source, args.trust_remote_code)
        for text in args.text:
            _note_unknown(tagger.tokenizer, text)
            text = _fit_for_predict(tagger.tokenizer, tagger.model, text)
            tags = [(item["word"], item["entity"], round(float(item["score"]), 4)) for item in tagger(text)]
            print(json.dumps({"text": text, "tags": tags}, ensure_ascii=False))
        return 0
    # Any other architecture would get a new, untrained classification head: random labels.
    if command_for(architecture) != "predict":
        raise _refuse(args.run_dir, architecture, "predict", "a sequence or token classification model")
    classify = _pipeline("text-classification", source, args.trust_remote_code)
    for text in args.text:
        _note_unknown(classify.tokenizer, text)
        best = classify(_fit_for_predict(classify.tokenizer, classify.model, text))[0]
        print(f"{best['label']}\t{best['score']:.4f}\t{text}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("generate", help="continue a prompt with a trained causal LM")
    p.add_argument("run_dir", help="run folder or model folder")
    p.add_argument("--prompt", action="append", required=True, help="prompt text (repeatable)")
    p.add_argument("--max-new-tokens", type=int, help="tokens to add, at least 1 (default 50; capped at the model's context)")
    p.add_argument("--top-k", type=int, help="sample among the k likeliest tokens, 0 for all (default 50)")
    p.add_argument("--top-p", type=float, help="nucleus sampling mass, in (0, 1] (default 0.95)")
    p.add_argument("--temperature", type=float, help="above 0: lower is safer, higher more varied (default 1.0)")
    p.add_argument("--repetition-penalty", type=float, help="above 0, 1 for none (default 1.0)")
    p.add_argument("--greedy", action="store_true", help="pick the most likely token instead of sampling")
    p.add_argument("--seed", type=whole_number(0, SEED_LIMIT, "2**32"), default=None,
                   help="seed for reproducible sampling (0 <= seed < 2**32)")
    add_trust_flag(p)
    p.set_defaults(func=cmd_generate)

    p = subparsers.add_parser("eval", help="re-evaluate a run folder on a card's split")
    p.add_argument("run_dir")
    p.add_argument("--card", default=None, help="data card (default: the run's own)")
    p.add_argument("--split", default="test", help="split to evaluate (default test)")
    p.add_argument("--max-batches", type=whole_number(1, hint=", or leave the flag out for no cap"), default=None, help="cap on evaluation batches, at least 1: that many batches' worth of examples spread evenly over the split (default: all)")
    add_trust_flag(p)
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser("fill-mask", help="top predictions for [MASK] with a BERT run folder")
    p.add_argument("run_dir")
    p.add_argument("text", help='text with [MASK], e.g. "今天[MASK]气很好"')
    p.add_argument("--top-k", type=whole_number(1), default=5,
                   help="guesses per [MASK], at least 1 (default 5; capped at the vocabulary size)")
    add_trust_flag(p)
    p.set_defaults(func=cmd_fill_mask)

    p = subparsers.add_parser("predict", help="label (and probability) of texts with a classification or tagging run folder")
    p.add_argument("run_dir")
    p.add_argument("text", nargs="+", help="one or more texts")
    add_trust_flag(p)
    p.set_defaults(func=cmd_predict)

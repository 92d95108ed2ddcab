"""`toolkit translate` and `toolkit attention`: use a seq2seq run folder (pinyin -> characters,
English -> Chinese) and look at the attention behind its output."""

from __future__ import annotations

import argparse

from .flags import add_trust_flag, whole_number

# Flag -> generation setting, where the flag is not the setting's own name.
SETTING_OF_FLAG = {"beams": "num_beams"}
FLAG_OF_SETTING = {setting: flag for flag, setting in SETTING_OF_FLAG.items()}
DECODING_FLAGS = ("beams", "max_new_tokens", "no_repeat_ngram_size", "length_penalty")
SEQ2SEQ_MODEL = "a sequence-to-sequence model (such as MarianMTModel or a toolkit rnn/conv/transformer_seq2seq run)"


def _flag(setting: str) -> str:
    return "--" + FLAG_OF_SETTING.get(setting, setting).replace("_", "-")


def _settings(args) -> dict:
    """The decoding flags given (left out: the run's eval.generation applies), checked before the
    model loads so that an error names the flag."""
    from ..generation import checked_settings

    settings = {SETTING_OF_FLAG.get(flag, flag): getattr(args, flag) for flag in DECODING_FLAGS
                if getattr(args, flag, None) is not None}
    checked_settings(settings, name=_flag)
    return settings


def cmd_translate(args) -> int:
    from ..api import translate
    from ..translation import check_sources
    from .inspect import refuse_other_models

    settings = _settings(args)
    check_sources(args.text, "translate")
    refuse_other_models(args.run_dir, "translate", SEQ2SEQ_MODEL)
    outputs = translate(args.run_dir, args.text, num_return_sequences=args.num_return_sequences,
                        trust_remote_code=args.trust_remote_code, **settings)
    per_source = args.num_return_sequences
    for number, source in enumerate(args.text):
        candidates = outputs[number * per_source: (number + 1) * per_source]
        if per_source == 1:
            print(candidates[0])
        else:
            print(source)
            for rank, text in enumerate(candidates, start=1):
                print(f"  {rank}. {text}")
    return 0


def cmd_attention(args) -> int:
    from ..api import attention
    from ..translation import check_sources
    from .inspect import refuse_other_models

    settings = _settings(args)
    check_sources([args.text], "attention")
    refuse_other_models(args.run_dir, "attention", SEQ2SEQ_MODEL, uses="translate")
    maps = attention(args.run_dir, args.text, out=args.out, layer=args.layer, head=args.head,
                     trust_remote_code=args.trust_remote_code, **settings)
    print(maps.output)
    which = f"layer {args.layer}" if args.layer else f"{len(maps.layers)} decoder layer{'s' if len(maps.layers) != 1 else ''}"
    heads = f"head {maps.head} of {maps.heads}" if maps.head else (f"{maps.heads} heads averaged" if maps.heads > 1 else "one attention per layer")
    print(f"Attention heatmap: {args.out} ({which}, {heads})")
    if maps.alignment_by_layer is not None:
        shown = [args.layer] if args.layer else range(1, len(maps.layers) + 1)
        scores = ", ".join(f"layer {n} {maps.alignment_by_layer[n - 1]:.1%}" for n in shown)
        print(f"Alignment accuracy (output tokens whose strongest attention is on their own source token, "
              f"{maps.aligned_tokens} tokens): {scores}")
    return 0


def _layer(text: str) -> int | None:
    """--layer: a 1-based layer number, or 'all' (None)."""
    if text.strip().lower() == "all":
        return None
    try:
        return whole_number(1, hint=", or all")(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("is not a whole number", "is neither a layer number nor all")) from None


def _decoding_flags(p, beams_help: str) -> None:
    p.add_argument("--beams", type=whole_number(1), help=beams_help)
    p.add_argument("--max-new-tokens", type=whole_number(1),
                   help="most output tokens, at least 1 (default: the recipe's; capped at its data.block_size)")
    p.add_argument("--no-repeat-ngram-size", type=whole_number(0), help="never repeat an n-gram of this size (0: off)")
    p.add_argument("--length-penalty", type=float, help="beam search: above 1 favours longer outputs, below 1 shorter")


def register(subparsers) -> None:
    p = subparsers.add_parser("translate", help="translate source texts with a seq2seq run folder (pinyin -> characters ...)")
    p.add_argument("run_dir", help="seq2seq run folder")
    p.add_argument("text", nargs="+", help='one or more source texts, e.g. "zhong1 guo2 ren2 min2"')
    _decoding_flags(p, "beam search with N beams, 1 for greedy (default: the recipe's eval.generation)")
    p.add_argument("--num-return-sequences", type=whole_number(1), default=1,
                   help="outputs per source, best first, at most --beams (default 1)")
    add_trust_flag(p)
    p.set_defaults(func=cmd_translate)

    p = subparsers.add_parser("attention", help="heatmap PNG of the cross-attention behind a seq2seq run's output")
    p.add_argument("run_dir", help="seq2seq run folder")
    p.add_argument("text", help='the source text, e.g. "zhong1 guo2 ren2 min2"')
    p.add_argument("--out", default="attention.png", help="PNG to write (default attention.png)")
    p.add_argument("--layer", type=_layer, default=None, help="decoder layer to show, from 1, or all (default all, one panel each)")
    p.add_argument("--head", type=whole_number(1), default=None,
                   help="attention head to show, from 1 (default: heads averaged; the RNN and ConvS2S have one)")
    _decoding_flags(p, "decode with beam search of N beams (default 1: greedy)")
    add_trust_flag(p)
    p.set_defaults(func=cmd_attention)

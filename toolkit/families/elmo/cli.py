"""ELMo's own command: `toolkit embed`, the contextual vectors of a sentence and the learned layer mix."""

from __future__ import annotations

import sys
from pathlib import Path

from ...errors import ToolkitError


def embed(model_dir: str | Path, text: str):
    """Contextual vectors of ``text`` from an ELMo folder (a biLM or a downstream run).

    Returns (layers, mixed, layer_weights): layers is (layers+1, chars, 2*dim); mixed is the
    scalar mix of a downstream model (None for a bare biLM), layer_weights its learned mix.
    """
    import torch
    from transformers import AutoModel

    from ...generation import unknown_characters_note
    from .modeling_elmo import ElmoModel
    from ...pretrained import load_model_config, model_folder, read_model_type
    from ...tokenization import load_tokenizer

    if not text.strip():  # no characters, no vectors: torch would fail on an empty id tensor
        raise ToolkitError("`toolkit embed`: the text is empty or only spaces; give a sentence, e.g. 今天天气很好.")
    model_dir = model_folder(model_dir)
    # The type first, read as data; ELMo folders then load through the toolkit's registered classes
    # (trust_remote_code=False), never through the copy of the model code inside the folder.
    try:
        model_type = read_model_type(model_dir)
    except (OSError, ValueError) as exc:
        raise ToolkitError(f"embed: cannot read the config of '{model_dir}': {str(exc).splitlines()[0]}") from None
    if model_type != "toolkit_elmo":
        raise ToolkitError(f"{model_dir} is a {model_type} model, not an ELMo biLM or ELMo downstream run.")
    config = load_model_config(model_dir, what="embed")
    tokenizer = load_tokenizer(model_dir)
    note = unknown_characters_note(tokenizer, text, f"their vectors are those of {tokenizer.unk_token or 'nothing'}")
    if note:
        print(f"note: {note}", file=sys.stderr)
    ids = torch.tensor([tokenizer.convert_tokens_to_ids(list(text))])
    architecture = (config.architectures or ["ElmoModel"])[0]
    if architecture == ElmoModel.__name__:
        model, mixed, weights = AutoModel.from_pretrained(str(model_dir), trust_remote_code=False).eval(), None, None
        with torch.no_grad():
            layers = model(input_ids=ids).layers[:, 0]
        return layers, mixed, weights
    import transformers

    from .family import AUTO_CLASSES

    auto = next(auto for auto, class_name in AUTO_CLASSES.items() if class_name == architecture)
    model = getattr(transformers, auto).from_pretrained(str(model_dir), trust_remote_code=False).eval()
    with torch.no_grad():
        states = model.elmo(ids)
        layers = torch.stack([torch.cat(pair, dim=-1) for pair in states])[:, 0]
        mixed = model.mixed_features(ids)[0]
    return layers, mixed, model.layer_weights()


def cmd_embed(args) -> int:
    layers, mixed, weights = embed(args.model_dir, args.text)
    count, chars, width = layers.shape
    print(f"{chars} characters; {count} layers (embedding + {count - 1} LSTM) of {width} dims (forward+backward): {tuple(layers.shape)}")
    if mixed is not None:
        print(f"scalar mix: {tuple(mixed.shape)}")
    if args.layer_weights:
        if weights is None:
            print("This is a bare biLM: layer weights are learned by a downstream run (task sequence_classification or token_classification).")
        else:
            print("learned layer weights: " + ", ".join(f"{name} {value:.3f}" for name, value in weights.items()))
    return 0


def register(subparsers) -> None:
    """Add ELMo's commands to the `toolkit` parser."""
    p = subparsers.add_parser("embed", help="ELMo contextual vectors of a sentence (shape, and the learned layer mix)")
    p.add_argument("model_dir", help="an ELMo biLM run folder, or an ELMo sequence_classification / token_classification run folder")
    p.add_argument("text")
    p.add_argument("--layer-weights", action="store_true", help="print the learned softmax weight of each layer and gamma")
    p.set_defaults(func=cmd_embed)

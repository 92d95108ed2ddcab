"""A ``text2text-generation`` pipeline that travels inside a model folder.

transformers 5 removed its own text2text-generation (and translation, summarization) pipelines; a
folder can still declare one as a custom pipeline (``custom_pipelines`` in config.json, the code in
the folder), which ``pipeline("text2text-generation", model=folder, trust_remote_code=True)`` loads.
``add_to_folder`` puts it there. Self-contained (transformers only) because it is copied as is;
nothing in it is specific to one model family. The seq2seq task adds it to every run folder.

A folder whose sides have a tokenizer each (a run with ``tokenizer.per_side``) holds the target
side's in ``target_tokenizer/``: the pipeline encodes with the folder's tokenizer and decodes with
that one, as ``toolkit translate`` does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from transformers import AutoTokenizer, Pipeline

TASK = "text2text-generation"
TARGET_FOLDER = "target_tokenizer"  # the target side's tokenizer, in a folder with one per side


def saved_target_tokenizer(name_or_path: str):
    """The target tokenizer saved with a model (a local folder or a Hub id), or None when it has one tokenizer."""
    folder = Path(name_or_path) / TARGET_FOLDER
    if Path(name_or_path).is_dir():
        return AutoTokenizer.from_pretrained(str(folder)) if (folder / "tokenizer_config.json").is_file() else None
    try:
        return AutoTokenizer.from_pretrained(name_or_path, subfolder=TARGET_FOLDER)
    except (OSError, ValueError):  # a Hub model without one
        return None


class Text2TextGenerationPipeline(Pipeline):
    """Source text in, ``[{"generated_text": ...}]`` out (one dict per returned sequence); the keyword
    arguments of ``generate()`` (num_beams, max_new_tokens, ...) pass through. ``target_tokenizer``
    decodes the output: by default the model folder's ``target_tokenizer/``, else the tokenizer."""

    _pipeline_calls_generate = True
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True

    def __init__(self, *args, target_tokenizer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.target_tokenizer = (target_tokenizer or saved_target_tokenizer(self.model.name_or_path)
                                 or self.tokenizer)

    def _sanitize_parameters(self, max_source_length=None, **generate_kwargs):
        preprocess = {} if max_source_length is None else {"max_source_length": max_source_length}
        return preprocess, generate_kwargs, {}

    def preprocess(self, text, max_source_length=None):
        encoded = self.tokenizer(
            text, return_tensors="pt", truncation=max_source_length is not None, max_length=max_source_length,
        )
        input_ids, attention_mask = encoded["input_ids"], encoded["attention_mask"]
        eos = self.tokenizer.eos_token_id
        if eos is not None and input_ids[0, -1].item() != eos:
            # Sources end with the end token in training; a tokenizer without a template does not add it.
            input_ids = torch.cat([input_ids, torch.tensor([[eos]])], dim=1)
            attention_mask = torch.cat([attention_mask, torch.ones_like(attention_mask[:, :1])], dim=1)
        # Only what the encoder reads: token_type_ids would be carried along generation as a decoder input.
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    def _forward(self, model_inputs, **generate_kwargs):
        return {"output_ids": self.model.generate(**model_inputs, **self._prepare_generate_kwargs(generate_kwargs))}

    def postprocess(self, model_outputs):
        return [
            {"generated_text": self.target_tokenizer.decode(ids, skip_special_tokens=True)}
            for ids in model_outputs["output_ids"]
        ]


def add_to_folder(folder: str | Path) -> None:
    """Copy this pipeline into a saved model folder and declare it in its config.json."""
    folder = Path(folder)
    shutil.copyfile(__file__, folder / Path(__file__).name)
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.setdefault("custom_pipelines", {})[TASK] = {
        "impl": f"{Path(__file__).stem}.{Text2TextGenerationPipeline.__name__}",
        "pt": ["AutoModelForSeq2SeqLM"],
        "type": "text",
    }
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")

"""A ``text2text-generation`` pipeline that travels inside a model folder.

transformers 5 removed its own text2text-generation (and translation, summarization) pipelines; a
folder can still declare one as a custom pipeline (``custom_pipelines`` in config.json, the code in
the folder), which ``pipeline("text2text-generation", model=folder, trust_remote_code=True)`` loads.
``add_to_folder`` puts it there. Self-contained (transformers only) because it is copied as is;
nothing in it is specific to one model family. The seq2seq task adds it to every run folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from transformers import Pipeline

TASK = "text2text-generation"


class Text2TextGenerationPipeline(Pipeline):
    """Source text in, ``[{"generated_text": ...}]`` out (one dict per returned sequence); the keyword
    arguments of ``generate()`` (num_beams, max_new_tokens, ...) pass through."""

    _pipeline_calls_generate = True
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True

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
            {"generated_text": self.tokenizer.decode(ids, skip_special_tokens=True)} for ids in model_outputs["output_ids"]
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

"""train.compile: validated like the other train keys, off by default, and when on the prepared
model is torch.compile'd (Accelerate's inductor backend) while the saved model is the plain one."""

from __future__ import annotations

import pytest
import torch

from toolkit.errors import RecipeError
from toolkit.registry import load_recipe


def test_compile_is_off_by_default_and_a_bool():
    assert load_recipe("gpt2/tiny_pretrain").train.compile is False
    assert load_recipe("gpt2/tiny_pretrain", ["train.compile=true"]).train.compile is True
    with pytest.raises(RecipeError, match="train.compile"):
        load_recipe("gpt2/tiny_pretrain", ["train.compile=sometimes"])
    with pytest.raises(RecipeError, match="did you mean 'compile'"):
        load_recipe("gpt2/tiny_pretrain", ["train.compiled=true"])


@pytest.mark.parametrize("compile", [False, True])
def test_prepare_compiles_only_when_asked(tmp_path, compile):
    from accelerate.utils import is_compiled_module

    from toolkit.training import make_accelerator

    recipe = load_recipe("gpt2/tiny_pretrain", [f"train.compile={str(compile).lower()}"])
    accelerator = make_accelerator(recipe.train, recipe.seed, tmp_path, track=False)
    model = accelerator.prepare(torch.nn.Linear(4, 4))
    assert is_compiled_module(model) is compile
    # What the runner saves and generates with: the module itself, never the compiled wrapper.
    assert not is_compiled_module(accelerator.unwrap_model(model, keep_torch_compile=False))

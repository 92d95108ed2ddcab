"""Every launch config parses with Accelerate's own loader."""

from __future__ import annotations

import pytest
from accelerate.commands.config.config_args import load_config_from_file

from toolkit.paths import bundled_dir

CONFIGS = sorted(bundled_dir("accelerate_configs").glob("*.yaml"))
EXPECTED = {"cpu", "multi_cpu", "single_gpu", "multi_gpu", "fsdp", "tpu"}


def test_all_expected_configs_exist():
    assert EXPECTED <= {p.stem for p in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_parses(path):
    config = load_config_from_file(str(path))
    assert config.num_processes >= 1
    assert config.distributed_type is not None

"""Every launch config parses with Accelerate's own loader."""

from __future__ import annotations

import pytest
from accelerate.commands.config.config_args import load_config_from_file

from toolkit.paths import bundled_dir

CONFIGS = sorted(bundled_dir("accelerate_configs").glob("*.yaml"))
EXPECTED = {"cpu", "multi_cpu", "single_gpu", "multi_gpu", "fsdp", "tpu", "deepspeed_zero2", "multi_node"}


def test_all_expected_configs_exist():
    assert EXPECTED <= {p.stem for p in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_parses(path):
    config = load_config_from_file(str(path))
    assert config.num_processes >= 1
    assert config.distributed_type is not None


def test_fsdp_is_fsdp2():
    config = load_config_from_file(str(bundled_dir("accelerate_configs") / "fsdp.yaml"))
    assert config.distributed_type == "FSDP" and config.fsdp_config["fsdp_version"] == 2


def test_deepspeed_zero2():
    config = load_config_from_file(str(bundled_dir("accelerate_configs") / "deepspeed_zero2.yaml"))
    assert config.distributed_type == "DEEPSPEED"
    assert config.deepspeed_config["zero_stage"] == 2
    # Left to the recipe (train.grad_accum) through DeepSpeed's "auto", so the two cannot disagree.
    assert "gradient_accumulation_steps" not in config.deepspeed_config


def test_multi_node_names_the_main_machine():
    config = load_config_from_file(str(bundled_dir("accelerate_configs") / "multi_node.yaml"))
    assert config.num_machines == 2 and config.machine_rank == 0
    assert config.main_process_ip and config.main_process_port
    assert config.num_processes % config.num_machines == 0  # the same number of processes on each machine

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


def _torchrun_on_one_machine(path) -> bool:
    config = load_config_from_file(str(path))
    return config.num_machines == 1 and config.num_processes > 1 and config.distributed_type != "XLA"


@pytest.mark.parametrize("path", [p for p in CONFIGS if _torchrun_on_one_machine(p)], ids=lambda p: p.stem)
def test_one_machine_configs_let_accelerate_pick_a_free_port(path):
    """Port 0 makes Accelerate pick a free port for the processes' rendezvous. A fixed one (or none:
    29500) sends a second run started meanwhile on the same machine down Accelerate's "port
    already in use" fallback, with a warning and a race between the two launches."""
    assert load_config_from_file(str(path)).main_process_port == 0


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

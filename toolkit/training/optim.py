"""Optimizer and learning-rate schedule from the recipe's train section."""

from __future__ import annotations

import torch
from transformers import get_scheduler

from ..recipe import TrainSection


def build_optimizer(model: torch.nn.Module, train: TrainSection) -> torch.optim.Optimizer:
    """AdamW; biases and normalisation weights (1-D tensors) get no weight decay, as usual."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    opt = train.optimizer
    groups = [
        {"params": decay, "weight_decay": opt.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=opt.lr, betas=opt.betas, eps=opt.eps)


def build_scheduler(optimizer: torch.optim.Optimizer, train: TrainSection):
    return get_scheduler(
        train.schedule.name,
        optimizer=optimizer,
        num_warmup_steps=train.schedule.warmup_steps,
        num_training_steps=train.max_steps,
    )

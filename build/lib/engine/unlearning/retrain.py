"""Retrain: the gold standard — the original training recipe, from scratch, on D_R only."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..models import build_model, prefers_channels_last
from ..training import seed_everything, train_model
from .base import UnlearnContext, Unlearner


@dataclass
class Retrain(Unlearner):
    """Train a fresh model with the run's own recipe (``RunSpec.train``) on the remain set.

    Not an approximation but the reference every other method is measured against. With the same seed it
    reproduces the pipeline's stored ``retrain`` model (same initialisation and shuffles); the seed is the
    unlearning seed, which the audit sets to the run's seed.
    """

    key = "retrain"
    label = "Retrain"
    paper = "gold standard: retraining from scratch on D − D_F"
    needs_remain = True
    requires = ("recipe",)

    def _run(self, model: nn.Module, ctx: UnlearnContext) -> list[dict]:
        spec = ctx.resources.recipe
        seed_everything(ctx.seed)
        fresh = build_model(spec.model, ctx.data.shape, ctx.num_classes).to(ctx.device)
        if prefers_channels_last(spec.model, ctx.device):
            fresh = fresh.to(memory_format=torch.channels_last)
        hist = train_model(fresh, ctx.x_remain, ctx.y_remain, spec.train, seed=ctx.seed, device=ctx.device,
                           progress=ctx.progress, cancel=ctx.cancel, stage="retrain")
        model.load_state_dict(fresh.state_dict())
        return hist.epochs

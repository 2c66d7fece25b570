"""Random Label (RL; Golatkar et al.): train on D_F with wrong random labels, mixed with D_R."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import EpochUnlearner, UnlearnContext


def relabelled_set(ctx: UnlearnContext) -> tuple[torch.Tensor, torch.Tensor]:
    """D_R (true labels) ∪ D_F (a label ≠ y drawn uniformly, re-drawn each call = each epoch).

    As the AMUN code's ``RLDataset``: one shuffled concatenation; without D_R, D_F alone.
    """
    y_rand = ctx.random_other_labels(ctx.y_forget)
    if not ctx.has_remain:
        return ctx.x_forget, y_rand
    return torch.cat([ctx.x_remain, ctx.x_forget]), torch.cat([ctx.y_remain, y_rand])


@dataclass
class RandomLabel(EpochUnlearner):
    """Fine-tune on D_R ∪ D_F with every forget label replaced by a random wrong class."""

    key = "rl"
    label = "Random Label"
    paper = "Golatkar et al., Eternal Sunshine of the Spotless Net (CVPR 2020)"

    def epoch(self, model, opt, ctx, epoch, state, hooks):
        x, y = relabelled_set(ctx)
        return {"loss": self.pass_(model, opt, ctx.batches(x, y, self.batch_size), f"epoch {epoch}", **hooks)}

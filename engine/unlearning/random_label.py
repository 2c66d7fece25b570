"""Random Label (RL; Golatkar et al.): train on D_F with wrong random labels, mixed with D_R."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import SGDConfig, Unlearner, UnlearnContext, ce, sgd_pass


def relabelled_set(ctx: UnlearnContext) -> tuple[torch.Tensor, torch.Tensor]:
    """D_R (true labels) ∪ D_F (a label ≠ y drawn uniformly, re-drawn each call = each epoch).

    As the AMUN code's ``RLDataset``: one shuffled concatenation; without D_R, D_F alone.
    """
    y_rand = ctx.random_other_labels(ctx.y_forget)
    if not ctx.has_remain:
        return ctx.x_forget, y_rand
    return torch.cat([ctx.x_remain, ctx.x_forget]), torch.cat([ctx.y_remain, y_rand])


def rl_epoch(model: nn.Module, opt: torch.optim.Optimizer, ctx: UnlearnContext, batch_size: int, where: str,
             **hooks) -> float:
    x, y = relabelled_set(ctx)
    loss, _ = sgd_pass(model, opt, ctx.batches(x, y, batch_size), ce, where, **hooks)
    return loss


@dataclass
class RandomLabel(SGDConfig, Unlearner):
    """Fine-tune on D_R ∪ D_F with every forget label replaced by a random wrong class."""

    key = "rl"
    label = "Random Label"
    paper = "Golatkar et al., Eternal Sunshine of the Spotless Net (CVPR 2020)"

    def _run(self, model: nn.Module, ctx: UnlearnContext) -> list[dict]:
        opt, sched = self.optimizer(model)
        history = []
        for epoch in range(self.epochs):
            loss = rl_epoch(model, opt, ctx, self.batch_size, f"{self.label} epoch {epoch + 1}")
            history.append({"epoch": epoch + 1, "loss": loss, "lr": opt.param_groups[0]["lr"]})
            sched.step()
            ctx.report(self.key, epoch + 1, self.epochs, history[-1])
        return history

"""Gradient Ascent (GA; Thudi et al.): maximise the loss on D_F."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn
from torch.nn import functional as F

from .base import EpochUnlearner, hp


def neg_ce(model: nn.Module, x, y):
    return -F.cross_entropy(model(x), y)


@dataclass
class GradientAscent(EpochUnlearner):
    """Each epoch: (with D_R) one CE pass over D_R in order, then gradient ascent (−CE) over D_F.

    The D_R pass is the AMUN code's variant (research/amun.md §4); the SalUn/Sparse repos ascend on D_F
    only, which is the D_F-only setting here.
    """

    key = "ga"
    label = "Gradient Ascent"
    paper = "Thudi et al., Unrolling SGD (EuroS&P 2022)"
    lr: float = hp(1e-4, "SGD learning rate (SalUn README example: 1e-4; AMUN tunes on a grid)", min=0.0, max=10.0)

    def epoch(self, model, opt, ctx, epoch, state, hooks):
        rec = {}
        if ctx.has_remain:
            rec["remain_loss"] = self.pass_(model, opt, ctx.batches(ctx.x_remain, ctx.y_remain, self.batch_size,
                                                                    shuffle=False), "D_R pass")
        rec["forget_loss"] = -self.pass_(model, opt, ctx.batches(ctx.x_forget, ctx.y_forget, self.batch_size),
                                         f"epoch {epoch}", neg_ce)
        rec["loss"] = rec["forget_loss"]
        return rec

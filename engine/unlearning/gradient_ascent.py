"""Gradient Ascent (GA; Thudi et al.): maximise the loss on D_F."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn
from torch.nn import functional as F

from .base import SGDConfig, Unlearner, UnlearnContext, ce, hp, sgd_pass


def neg_ce(model: nn.Module, x, y):
    return -F.cross_entropy(model(x), y)


@dataclass
class GradientAscent(SGDConfig, Unlearner):
    """Each epoch: (with D_R) one CE pass over D_R in order, then gradient ascent (−CE) over D_F.

    The D_R pass is the AMUN code's variant (research/amun.md §4); the SalUn/Sparse repos ascend on D_F
    only, which is the D_F-only setting here.
    """

    key = "ga"
    label = "Gradient Ascent"
    paper = "Thudi et al., Unrolling SGD (EuroS&P 2022)"
    lr: float = hp(1e-4, "SGD learning rate (SalUn README example: 1e-4; AMUN tunes on a grid)", min=0.0, max=10.0)

    def _run(self, model: nn.Module, ctx: UnlearnContext) -> list[dict]:
        opt, sched = self.optimizer(model)
        history = []
        for epoch in range(self.epochs):
            rec = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"]}
            if ctx.has_remain:
                rec["remain_loss"], _ = sgd_pass(model, opt, ctx.batches(ctx.x_remain, ctx.y_remain, self.batch_size,
                                                                         shuffle=False), ce, f"{self.label} D_R pass")
            rec["forget_loss"] = -sgd_pass(model, opt, ctx.batches(ctx.x_forget, ctx.y_forget, self.batch_size),
                                           neg_ce, f"{self.label} epoch {epoch + 1}")[0]
            rec["loss"] = rec["forget_loss"]
            history.append(rec)
            sched.step()
            ctx.report(self.key, epoch + 1, self.epochs, rec)
        return history

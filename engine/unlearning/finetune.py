"""Fine-tune (FT; Warnecke et al.): continue training on D_R alone, hoping D_F is forgotten."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .base import SGDConfig, Unlearner, UnlearnContext, ce, sgd_pass


@dataclass
class FineTune(SGDConfig, Unlearner):
    """CE on the remain set for ``epochs`` epochs (AMUN harness semantics, research/amun.md §4)."""

    key = "ft"
    label = "Fine-tune"
    paper = "Warnecke et al., Machine Unlearning of Features and Labels (NDSS 2023)"
    needs_remain = True

    def _run(self, model: nn.Module, ctx: UnlearnContext) -> list[dict]:
        opt, sched = self.optimizer(model)
        history = []
        for epoch in range(self.epochs):
            loss, _ = sgd_pass(model, opt, ctx.batches(ctx.x_remain, ctx.y_remain, self.batch_size), ce,
                               f"{self.label} epoch {epoch + 1}")
            history.append({"epoch": epoch + 1, "loss": loss, "lr": opt.param_groups[0]["lr"]})
            sched.step()
            ctx.report(self.key, epoch + 1, self.epochs, history[-1])
        return history

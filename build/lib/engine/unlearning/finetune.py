"""Fine-tune (FT; Warnecke et al.): continue training on D_R alone, hoping D_F is forgotten."""

from __future__ import annotations

from dataclasses import dataclass

from .base import EpochUnlearner


@dataclass
class FineTune(EpochUnlearner):
    """CE on the remain set for ``epochs`` epochs (AMUN harness semantics, research/amun.md §4)."""

    key = "ft"
    label = "Fine-tune"
    paper = "Warnecke et al., Machine Unlearning of Features and Labels (NDSS 2023)"
    needs_remain = True

    def epoch(self, model, opt, ctx, epoch, state, hooks):
        return {"loss": self.pass_(model, opt, ctx.batches(ctx.x_remain, ctx.y_remain, self.batch_size),
                                   f"epoch {epoch}")}

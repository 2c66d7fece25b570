"""l1-sparse (Jia, Liu et al., NeurIPS 2023): fine-tune on D_R with an L1 penalty that sparsifies the model."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .base import EpochUnlearner, hp


def alpha_schedule(alpha: float, epochs: int, schedule: str) -> list[float]:
    """Per-epoch α_t.

    * ``linear`` (Unlearn-Sparse ``FT_iter``): α_t = α · (1 − t/E).
    * ``amun`` (AMUN code): after epoch t, α ← (2 − 2t/E) · α — it compounds, so α grows to ≈ 9.7·α by
      epoch 5 of 10 (4.8e-3 from 5e-4) and then decays (research/amun.md §4).
    """
    if schedule == "linear":
        return [alpha * (1 - t / epochs) for t in range(epochs)]
    out, a = [], alpha
    for t in range(epochs):
        out.append(a)
        a *= 2 - 2 * t / epochs
    return out


@dataclass
class L1Sparse(EpochUnlearner):
    """CE on D_R + α_t·‖θ‖₁ over all parameters."""

    key = "l1_sparse"
    label = "l1-sparse"
    paper = "Jia et al., Model Sparsity Can Simplify Machine Unlearning (NeurIPS 2023)"
    needs_remain = True
    alpha: float = hp(5e-4, "L1 strength α (AMUN code default 5e-4; Unlearn-Sparse: user-supplied)", min=0.0, max=1.0)
    schedule: str = hp("amun", "α schedule: 'amun' (AMUN code, compounding) or 'linear' (Unlearn-Sparse)",
                       choices=("amun", "linear"))

    def prepare(self, model, ctx):
        return alpha_schedule(self.alpha, self.epochs, self.schedule)

    def epoch(self, model, opt, ctx, epoch, state, hooks):
        alpha = state[epoch - 1]
        params = list(model.parameters())

        def loss_fn(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(m(x), y) + alpha * sum(p.abs().sum() for p in params)

        loss = self.pass_(model, opt, ctx.batches(ctx.x_remain, ctx.y_remain, self.batch_size), f"epoch {epoch}",
                          loss_fn)
        return {"loss": loss, "alpha": alpha}

"""FGSM: one signed-gradient step (Goodfellow et al., ICLR 2015); Boundary Shrink uses it with 8-bit rounding."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .common import _bcast, _ce_grad, _check_xy, _model_device, _per_sample, eval_mode


@dataclass(frozen=True)
class FGSM:
    """Untargeted L∞ fast gradient sign method: x' = clip(x + ε·sign(∇ₓ CE(f(x), y)), 0, 1).

    Settings in the constructor, data in the call (captum / torchattacks style).

    Args:
        eps: step size, a number or one value per sample (N,).
        round_to_255: round x' to the nearest multiple of 1/255 (an 8-bit image), as Boundary Shrink does.
    """

    eps: float | torch.Tensor
    round_to_255: bool = False

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x' for inputs ``x`` (N, C, H, W) in [0, 1] with true labels ``y``; on the device of ``x``.

        The model runs in eval mode; its previous mode is restored.
        """
        _check_xy(x, y, "fgsm")
        device = _model_device(model)
        x0, yd = x.to(device).float(), y.to(device).long()
        e = _per_sample(self.eps, len(x0), device, "eps")
        with eval_mode(model):
            grad, _ = _ce_grad(model, x0, yd)
        x_adv = torch.clamp(x0 + _bcast(e, x0) * grad.sign(), 0.0, 1.0)
        if self.round_to_255:
            x_adv = torch.round(x_adv * 255.0) / 255.0
        return x_adv.to(x.device)

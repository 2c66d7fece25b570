"""SalUn (Fan et al., ICLR 2024): Random Label restricted to the most forget-salient weights."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .base import UnlearnContext, hp
from .random_label import RandomLabel


class SaliencyMask:
    """Weight saliency m = 1(|∇_θ ℓ(θ_o; D_F)| in the global top-r), with ℓ = −CE (SalUn ``generate_mask.py``).

    Gradients are accumulated over D_F batches (batch 128, the recipe's augmentation) with the model in eval
    mode; the top-r fraction is global over all parameters, BN included.

    Two ways to keep the unselected weights (mask 0) where they are:

    * ``freeze`` (default): after every optimiser step the unselected coordinates are restored to θ_o and
      their momentum is zeroed, so momentum and weight decay cannot move them (the fix of Unlearn-Saliency
      PR #33; bit-identical).
    * ``grad``: only the gradient is multiplied by the mask (the paper's and the AMUN code's behaviour);
      weight decay and momentum still move the unselected weights.
    """

    def __init__(self, model: nn.Module, masks: dict[str, torch.Tensor], mode: str = "freeze"):
        self.model, self.mode = model, mode
        named = dict(model.named_parameters())
        self.pairs = [(named[n], m) for n, m in masks.items()]
        self.frozen = [p.detach().clone() for p, _ in self.pairs]
        self.masks = masks

    @classmethod
    def compute(cls, model: nn.Module, ctx: UnlearnContext, ratio: float, mode: str = "freeze",
                batch_size: int = 128) -> SaliencyMask:
        was_training = model.training
        model.eval()
        model.zero_grad(set_to_none=True)
        for xb, yb, _ in ctx.batches(ctx.x_forget, ctx.y_forget, batch_size, shuffle=False):
            (-F.cross_entropy(model(xb), yb)).backward()
        grads = {n: (p.grad.abs() if p.grad is not None else torch.zeros_like(p)) for n, p in model.named_parameters()}
        model.zero_grad(set_to_none=True)
        model.train(was_training)
        flat = torch.cat([g.flatten() for g in grads.values()])
        k = int(round(ratio * flat.numel()))
        keep = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
        if k > 0:
            keep[torch.topk(flat, k, sorted=False).indices] = True
        masks, offset = {}, 0
        for n, g in grads.items():
            masks[n] = keep[offset : offset + g.numel()].view_as(g)
            offset += g.numel()
        return cls(model, masks, mode)

    @property
    def fraction(self) -> float:
        total = sum(m.numel() for m in self.masks.values())
        return sum(int(m.sum()) for m in self.masks.values()) / max(total, 1)

    def hooks(self, opt: torch.optim.Optimizer) -> dict[str, Callable[[], None]]:
        """``before_step`` masks gradients; in freeze mode ``after_step`` restores and zeroes momentum."""

        def before() -> None:
            for p, m in self.pairs:
                if p.grad is not None:
                    p.grad.mul_(m)

        def after() -> None:
            with torch.no_grad():
                for (p, m), p0 in zip(self.pairs, self.frozen):
                    p.copy_(torch.where(m, p, p0))
                    buf = opt.state.get(p, {}).get("momentum_buffer")
                    if buf is not None:
                        buf.mul_(m)

        return {"before_step": before, "after_step": after} if self.mode == "freeze" else {"before_step": before}


@dataclass
class SalUn(RandomLabel):
    """Random Label (D_R ∪ relabelled D_F, AMUN code semantics) under the saliency mask."""

    key = "salun"
    label = "SalUn"
    paper = "Fan et al., SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency (ICLR 2024)"
    lr: float = hp(0.013, "SGD learning rate (SalUn README, CIFAR-10: 0.013)", min=0.0, max=10.0)
    mask_ratio: float = hp(0.5, "fraction r of weights updated (global top-r saliency; SalUn README: 0.5)",
                           min=0.0, max=1.0)
    mask_mode: str = hp("freeze", "'freeze': unselected weights bit-identical; 'grad': paper's gradient-only mask",
                        choices=("freeze", "grad"))

    def prepare(self, model, ctx):
        mask = SaliencyMask.compute(model, ctx, self.mask_ratio, self.mask_mode)
        ctx.extras["mask_fraction"] = mask.fraction
        return mask

    def step_hooks(self, opt, state):
        return state.hooks(opt)

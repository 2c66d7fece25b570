"""Boundary Shrink (BS; Chen et al., CVPR 2023): relabel each forget sample as its nearest wrong class."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..attacks import FGSM
from .base import EpochUnlearner, hp


@dataclass
class BoundaryShrink(EpochUnlearner):
    """For each D_F batch: x' = FGSM-L∞(f_ref, x, y, bound) rounded to 1/255, y_nbi = argmax f_ref(x'),
    then a step on CE(f(x), y_nbi) with the **clean** x.

    f_ref is a frozen copy of the model, re-copied at the start of every epoch as in the AMUN code
    (``refresh_reference=False`` copies it once from θ_o, as the SalUn repo). With D_R, a CE pass over
    D_R precedes the BS pass each epoch (AMUN code). The original code used lr 1e-5 without weight decay.
    """

    key = "bs"
    label = "Boundary Shrink"
    paper = "Chen et al., Boundary Unlearning (CVPR 2023)"
    lr: float = hp(1e-5, "SGD learning rate (original BS code: 1e-5; AMUN tunes on a grid)", min=0.0, max=10.0)
    bound: float = hp(0.1, "FGSM L∞ bound in [0,1] pixel units (BS: 0.1)", min=0.0, max=1.0)
    refresh_reference: bool = hp(True, "re-copy the frozen reference model each epoch (AMUN code) or once (SalUn repo)")

    def prepare(self, model, ctx):
        return {"ref": None}

    def epoch(self, model, opt, ctx, epoch, state, hooks):
        if state["ref"] is None or self.refresh_reference:
            ref = copy.deepcopy(model).eval()
            for p in ref.parameters():
                p.requires_grad_(False)
            state["ref"] = ref
        ref = state["ref"]
        rec = {}
        if ctx.has_remain:
            rec["remain_loss"] = self.pass_(model, opt, ctx.batches(ctx.x_remain, ctx.y_remain, self.batch_size),
                                            "D_R pass")

        def shrink_loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            x_adv = FGSM(self.bound, round_to_255=True)(ref, x, y)
            with torch.no_grad():
                y_nbi = ref(x_adv).argmax(1)
            return F.cross_entropy(m(x), y_nbi)

        rec["loss"] = self.pass_(model, opt, ctx.batches(ctx.x_forget, ctx.y_forget, self.batch_size),
                                 f"epoch {epoch}", shrink_loss)
        return rec

"""AMUN (Ebrahimpour-Boroojeny et al., ICML 2025): fine-tune on the forget set's nearest adversarial examples.

Not all wrong is bad: for each forget sample x the nearest adversarial example x_adv (untargeted L2 PGD-50,
ε doubled until the prediction flips) is labelled with the model's own wrong prediction y_adv; fine-tuning on
D_F ∪ D_A (and D_R when available) lowers the model's confidence on D_F toward that of unseen data without
catastrophic forgetting (research/amun.md §1).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from ..attacks import AdversarialSet, NearestAdversarial, calibrate_eps_init
from .base import EpochUnlearner, UnlearnContext, hp


@dataclass
class Amun(EpochUnlearner):
    """AMUN's Algorithm 1 + fine-tuning, as the official code runs it.

    * D_A: for every forget sample, :class:`engine.attacks.NearestAdversarial` on the original model (L2
      PGD-50, step ε/10, no random start, early exit per sample, ε doubled and warm-started until it flips);
      y_adv = the model's prediction at x_adv; already-misclassified samples keep δ = 0.
    * Training set: D_R ∪ D_F ∪ D_A with D_R (D_F keeps its true labels), D_F ∪ D_A in the D_F-only setting,
      or with ``adv_only`` D_R ∪ D_A / D_A (the code's ``advonly``). One shuffled set, plain CE; D_A images
      are never augmented. SGD(0.9, 5e-4), batch 128, 10 epochs, StepLR(step, 0.1).
    * Defaults: the code's reference point lr 0.01 with StepLR step 1 (the lr decays 10x every epoch). ε_init
      0.04 is CIFAR-10's; ``calibrate_eps`` applies the paper's App. E.1 rule instead (smallest ε_init for
      which ≥ 95 % of ~100 samples flip within the first ball).
    """

    key = "amun"
    label = "AMUN"
    paper = "Ebrahimpour-Boroojeny et al., Not All Wrong is Bad: Using Adversarial Examples for Unlearning (ICML 2025)"
    lr_step: int = hp(1, "StepLR step in epochs (AMUN reference config: 1)", min=1, max=500)
    eps_init: float = hp(0.04, "initial L2 radius ε in [0,1] pixel units (AMUN, CIFAR-10: 0.04)", min=1e-6, max=100.0)
    calibrate_eps: bool = hp(False, "choose ε_init by the paper's App. E.1 rule (≥95 % of ~100 samples flip)")
    pgd_steps: int = hp(50, "PGD steps per ε (AMUN: 50)", min=1, max=1000)
    max_doublings: int = hp(12, "safety cap on ε doublings (the code has none); unflipped samples are reported",
                            min=0, max=40)
    adv_only: bool = hp(False, "train on D_R ∪ D_A (or D_A alone) without D_F (the code's 'advonly')")

    requires = ("adversarial",)

    def attack(self, eps_init: float) -> NearestAdversarial:
        return NearestAdversarial(eps_init=eps_init, steps=self.pgd_steps, max_doublings=self.max_doublings)

    def adversarial_set(self, model: nn.Module, ctx: UnlearnContext) -> AdversarialSet:
        eps = self.eps_init
        if self.calibrate_eps:
            eps = calibrate_eps_init(model, ctx.x_forget, ctx.y_forget, steps=self.pgd_steps, seed=ctx.seed)
        ctx.extras["eps_init"] = eps
        t0 = time.perf_counter()
        attack = self.attack(eps)
        if ctx.resources.adversarial is not None:
            # D_A precomputed once per original model for all of D and indexed by the forget set, as the AMUN
            # code does (build_advdataset.py); the per-sample search does not depend on the other samples.
            adv = ctx.resources.adversarial(attack)
        else:
            adv = attack(model, ctx.x_forget, ctx.y_forget, device=ctx.device, progress=ctx.progress,
                         cancel=ctx.cancel)
        ctx.extras["attack_seconds"] = time.perf_counter() - t0
        ctx.extras["adversarial"] = adv
        return adv

    def training_set(self, ctx: UnlearnContext, adv: AdversarialSet) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x, y, augment-mask) of the fine-tuning set; the adversarial part is never augmented."""
        xa, ya = adv.x_adv.to(ctx.device), adv.y_adv.to(ctx.device)
        parts = []
        if ctx.has_remain:
            parts.append((ctx.x_remain, ctx.y_remain, True))
        if not self.adv_only:
            parts.append((ctx.x_forget, ctx.y_forget, True))
        parts.append((xa, ya, False))
        x = torch.cat([p[0] for p in parts])
        y = torch.cat([p[1] for p in parts])
        aug = torch.cat([torch.full((len(p[0]),), p[2], dtype=torch.bool, device=ctx.device) for p in parts])
        return x, y, aug

    def prepare(self, model, ctx):
        mask = self.mask(model, ctx)
        adv = self.adversarial_set(model, ctx)
        ctx.extras["n_unflipped"] = int((~adv.flipped).sum())
        return {"mask": mask, "set": self.training_set(ctx, adv)}

    def mask(self, model: nn.Module, ctx: UnlearnContext):
        """Computed on θ_o before any update (AMUN + SalUn's saliency mask); plain AMUN has none."""
        return None

    def step_hooks(self, opt, state):
        return state["mask"].hooks(opt) if state["mask"] is not None else {}

    def epoch(self, model, opt, ctx, epoch, state, hooks):
        x, y, aug = state["set"]
        return {"loss": self.pass_(model, opt, ctx.batches(x, y, self.batch_size, augment=aug), f"epoch {epoch}",
                                   **hooks)}

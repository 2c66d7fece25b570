"""A per-sample nearest-adversarial ε search built on captum, for bench/bench_attacks.py (timing only).

``captum.robust.MinParamPerturbation`` searches the smallest exponent k (linear mode, arg_step 1) for which
``captum.robust.PGD`` (norm "L2", radius ε = ε₀·2^k, step ε·alpha_frac, no random start, per-sample CE loss)
returns a misclassified input — one sample per call (research/env.md §2). Two things to know:

* captum's default loss is −log(output[target]), NaN on logits; a per-sample CE ``loss_func`` is passed.
* captum's PGD takes **signed** steps (``FGSM._perturb``: x + step·sign(g)) for norm "L2" as well, then
  projects with ``torch.renorm``. The AMUN code steps along g/‖g‖₂. With ``step="l2"`` (default) the PGD's
  inner FGSM is replaced by :class:`L2StepFGSM`, whose only change is that step; captum still runs the loop,
  the L2 projection (renorm), the [0, 1] bounds and the ε search. ``step="sign"`` is stock captum.

Not the same search as :class:`engine.attacks.NearestAdversarial`: captum restarts PGD from x for every ε and
judges the last iterate (no early exit), while the engine, like the AMUN code, warm-starts after each doubling
and stops a sample at its first misclassified iterate. The engine has no restart mode any more, so the bench
reports this reference's wall time and the fraction of samples with the same ε, and claims nothing more.
Moved here from tests/ (no test uses it).
"""

from __future__ import annotations

import numpy as np
import torch
from captum.robust import FGSM, PGD, MinParamPerturbation
from torch import nn
from torch.nn import functional as F


def ce_per_sample(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out, target, reduction="none")


class L2StepFGSM(FGSM):
    """captum FGSM whose step is the AMUN L2 step x + ε·g/(‖g‖₂ + 1e-10) per sample (captum: x + ε·sign(g))."""

    def _perturb(self, inputs, grads, epsilon, targeted, masks):
        sign = -1 if targeted else 1
        out = []
        for grad, inp, mask in zip(grads, inputs, masks):
            norm = grad.flatten(1).norm(p=2, dim=1).view(-1, *([1] * (grad.dim() - 1))) + 1e-10
            out.append(inp + sign * epsilon * grad / norm * mask)
        return tuple(out)


def captum_nearest_eps(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps_init: float = 0.04,
    steps: int = 50,
    alpha_frac: float = 0.1,
    max_doublings: int = 12,
    step: str = "l2",
) -> np.ndarray:
    """ε per sample (0 if already misclassified, NaN if none up to ε₀·2^max_doublings), one sample at a time."""
    model.eval()
    pgd = PGD(model, loss_func=ce_per_sample, lower_bound=0.0, upper_bound=1.0)
    if step == "l2":
        pgd.fgsm = L2StepFGSM(model, ce_per_sample)
    elif step != "sign":
        raise ValueError(step)

    def pgd_doubling(inp: torch.Tensor, k: int, target: torch.Tensor) -> torch.Tensor:
        eps = eps_init * 2**k
        return pgd.perturb(inp, radius=eps, step_size=alpha_frac * eps, step_num=steps, target=target,
                           norm="L2", random_start=False)

    mpp = MinParamPerturbation(forward_func=model, attack=pgd_doubling, arg_name="k", arg_min=0,
                               arg_max=max_doublings + 1, arg_step=1, mode="linear")
    out = np.full(len(x), np.nan)
    for i in range(len(x)):
        xi, yi = x[i : i + 1].float(), y[i : i + 1].long()
        with torch.no_grad():
            if model(xi).argmax(1).item() != yi.item():  # AMUN: already misclassified → ε = 0
                out[i] = 0.0
                continue
        _, k = mpp.evaluate(xi, target=yi, attack_kwargs={"target": yi})
        if k is not None:
            out[i] = eps_init * 2.0**k
    return out

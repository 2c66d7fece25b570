"""Attributions of a classifier's decision (captum), for the adversarial-examples view and the report."""

from __future__ import annotations

import numpy as np
import torch

from .attacks import eval_mode
from .errors import UnlearnError


def attribution_maps(model, x, target, method: str = "integrated_gradients", n_steps: int = 32) -> np.ndarray:
    """Per-pixel attributions (summed over channels) of ``model``'s logit for ``target`` at ``x`` (captum).

    Args:
        model: classifier taking pixels in [0, 1]; evaluated in eval mode, its mode is restored afterwards.
        x: (N, C, H, W) inputs in [0, 1].
        target: (N,) classes to explain (e.g. the prediction on the clean or on the adversarial image).
        method: ``"integrated_gradients"`` (black-image baseline, ``n_steps`` Riemann steps) or ``"saliency"``
            (the raw gradient ∂logit/∂x; captum's ``Saliency`` with ``abs=False`` keeps its sign).

    Returns:
        (N, H, W) float32 signed attributions; positive pixels raise the target logit.
    """
    from captum.attr import IntegratedGradients, Saliency

    device = next(model.parameters()).device
    x = x.to(device).float()
    target = torch.as_tensor(target, device=device).long()
    with eval_mode(model):
        if method == "saliency":
            attr = Saliency(model).attribute(x.clone().requires_grad_(True), target=target, abs=False)
        elif method == "integrated_gradients":
            attr = IntegratedGradients(model).attribute(x, baselines=torch.zeros_like(x), target=target,
                                                        n_steps=n_steps, internal_batch_size=256)
        else:
            raise UnlearnError(f"unknown attribution method {method!r}; use integrated_gradients or saliency")
    return attr.detach().float().sum(1).cpu().numpy()

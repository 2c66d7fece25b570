"""Shared pieces of the attacks: eval mode, device, input checks, per-sample tensors, the gradient, the L2 step.

Everything works on raw pixels in [0, 1] (the models take un-normalised inputs, research/amun.md §1.1). Losses
are summed over the batch, so a sample's gradient does not depend on which other samples share its batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import UnlearnError
from ..training import default_device

#: Added to a gradient's L2 norm before dividing by it (the AMUN code's ``eps_for_division``).
GRAD_NORM_EPS = 1e-10


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in ``eval()`` mode for the block and restore its previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _model_device(model: nn.Module, device: torch.device | str | None = None) -> torch.device:
    """``device`` if given (the model is moved there), else the model's own device, else the default one."""
    if device is not None:
        device = torch.device(device)
        model.to(device)
        return device
    for p in model.parameters():
        return p.device
    return default_device()


def _check_xy(x: torch.Tensor, y: torch.Tensor, what: str) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise UnlearnError(f"{what}: inputs and labels must be tensors")
    if len(x) == 0:
        raise UnlearnError(f"{what}: no samples given")
    if x.dim() < 2:
        raise UnlearnError(f"{what}: inputs must have shape (N, ...), got {tuple(x.shape)}")
    if y.dim() != 1 or len(y) != len(x):
        raise UnlearnError(f"{what}: labels must have shape ({len(x)},), got {tuple(y.shape)}")


def _per_sample(value: float | torch.Tensor, n: int, device: torch.device, what: str) -> torch.Tensor:
    """A float or an (N,) tensor as an (N,) float32 tensor on ``device``."""
    t = torch.as_tensor(value, dtype=torch.float32, device=device)
    if t.dim() == 0:
        t = t.expand(n)
    if t.shape != (n,):
        raise UnlearnError(f"{what} must be a number or one value per sample ({n}), got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all() or (t < 0).any():
        raise UnlearnError(f"{what} must be finite and ≥ 0")
    return t.clone()


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(N,) → (N, 1, 1, …) to broadcast against ``like``."""
    return v.view(-1, *([1] * (like.dim() - 1)))


def _ce_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """∇ₓ Σᵢ CE(model(xᵢ), yᵢ) and the logits at ``x`` (detached)."""
    xa = x.detach().requires_grad_(True)
    logits = model(xa)
    loss = F.cross_entropy(logits.float(), y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, xa)
    return grad.detach(), logits.detach()


def _l2_step(x_adv: torch.Tensor, x0: torch.Tensor, grad: torch.Tensor, eps: torch.Tensor,
             alpha: torch.Tensor) -> torch.Tensor:
    """One L2 PGD step of the AMUN code (``pgdl2_modified.py``).

    x ← x + α·g/(‖g‖₂ + 1e-10); δ = x − x₀; δ ← δ·min(1, ε/‖δ‖₂); x ← clip(x₀ + δ, 0, 1), all per sample.
    """
    g_norm = grad.flatten(1).norm(p=2, dim=1) + GRAD_NORM_EPS
    x_new = x_adv + _bcast(alpha / g_norm, grad) * grad
    delta = x_new - x0
    d_norm = delta.flatten(1).norm(p=2, dim=1)
    factor = torch.where(d_norm > eps, eps / d_norm.clamp_min(torch.finfo(d_norm.dtype).tiny),
                         torch.ones_like(d_norm))
    return torch.clamp(x0 + delta * _bcast(factor, delta), 0.0, 1.0)

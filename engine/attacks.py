"""Adversarial attacks in pixel space [0, 1]: FGSM, PGD (L2 / L∞) and AMUN's nearest adversarial examples.

Everything here works on raw pixels in [0, 1] (the models take un-normalised inputs, research/amun.md §1.1),
runs the model in ``eval()`` mode for the attack and restores its mode afterwards, and uses the device of
the model (CUDA when the model lives there). Losses are summed over the batch, so a sample's gradient does
not depend on which other samples share its batch.

* :func:`fgsm` — one signed-gradient step (Goodfellow et al., ICLR 2015); Boundary Shrink uses it with
  pixels rounded to multiples of 1/255.
* :func:`pgd` — projected gradient ascent on the cross-entropy of the true label (Madry et al., ICLR 2018),
  with the L2 step of the AMUN code or the usual L∞ sign step.
* :func:`nearest_adversarial` — AMUN's Algorithm 1 (Adversarial Machine UNlearning, ICML 2025, §4) as the
  official ``pgdl2_modified.py`` runs it: L2 PGD-50 with step ε/10, per-sample early exit, ε doubled and
  PGD warm-started for every sample that is still classified correctly. Batched over samples.
* :func:`calibrate_eps_init` — the paper's App. E.1 rule for choosing ε_init.
* :func:`cached_nearest_adversarial` — the same search, stored in the run store under a hash of its inputs.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import config
from .errors import UnlearnError
from .store import Artifact, Store
from .training import CancelToken, Progress, check_cancel, cpu_threads_for, default_device

#: Added to a gradient's L2 norm before dividing by it (the AMUN code's ``eps_for_division``).
GRAD_NORM_EPS = 1e-10

#: Search modes of :func:`nearest_adversarial`.
MODES = ("amun", "restart")

#: Parameters of :func:`nearest_adversarial` that change its numbers, with their defaults (the store key).
SEARCH_DEFAULTS: dict[str, object] = {
    "eps_init": 0.04,
    "steps": 50,
    "alpha_frac": 0.1,
    "max_doublings": 12,
    "mode": "amun",
}


# ---------------------------------------------------------------------------------------------- helpers
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


def _linf_step(x_adv: torch.Tensor, x0: torch.Tensor, grad: torch.Tensor, eps: torch.Tensor,
               alpha: torch.Tensor) -> torch.Tensor:
    """One L∞ PGD step: x ← x + α·sign(g); δ ← clamp(δ, −ε, ε); x ← clip(x₀ + δ, 0, 1)."""
    e = _bcast(eps, x0)
    delta = x_adv + _bcast(alpha, grad) * grad.sign() - x0
    delta = torch.maximum(torch.minimum(delta, e), -e)
    return torch.clamp(x0 + delta, 0.0, 1.0)


# ---------------------------------------------------------------------------------------------- FGSM, PGD
def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float | torch.Tensor, *,
         round_to_255: bool = False) -> torch.Tensor:
    """Untargeted L∞ fast gradient sign method (Goodfellow et al., ICLR 2015).

    x' = clip(x + ε·sign(∇ₓ CE(f(x), y)), 0, 1)

    Args:
        model: classifier taking pixels in [0, 1]; run in eval mode, its mode is restored afterwards.
        x: inputs (N, C, H, W) in [0, 1].
        y: true labels (N,).
        eps: step size, a number or one value per sample (N,).
        round_to_255: round x' to the nearest multiple of 1/255 (an 8-bit image), as Boundary Shrink does.

    Returns:
        x' on the device of ``x``.
    """
    _check_xy(x, y, "fgsm")
    device = _model_device(model)
    x0, yd = x.to(device).float(), y.to(device).long()
    e = _per_sample(eps, len(x0), device, "eps")
    with eval_mode(model):
        grad, _ = _ce_grad(model, x0, yd)
    x_adv = torch.clamp(x0 + _bcast(e, x0) * grad.sign(), 0.0, 1.0)
    if round_to_255:
        x_adv = torch.round(x_adv * 255.0) / 255.0
    return x_adv.to(x.device)


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float | torch.Tensor,
    *,
    steps: int,
    alpha: float | torch.Tensor | None = None,
    norm: str = "l2",
    random_start: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Untargeted projected gradient ascent on CE(f(x'), y) inside an ε-ball (Madry et al., ICLR 2018).

    L2 (the AMUN code's step): x' ← Π_{‖x'−x‖₂≤ε}(x' + α·g/(‖g‖₂ + 1e-10)), then clip to [0, 1].
    L∞: x' ← Π_{‖x'−x‖∞≤ε}(x' + α·sign(g)), then clip to [0, 1]. g = ∇ₓ' CE(f(x'), y), per sample.

    Args:
        model: classifier taking pixels in [0, 1]; run in eval mode, its mode is restored afterwards.
        x: inputs (N, C, H, W) in [0, 1].
        y: true labels (N,).
        eps: ball radius, a number or one value per sample (N,).
        steps: number of gradient steps (no early exit).
        alpha: step size (number or (N,)); defaults to ε/10 per sample (the AMUN code's choice).
        norm: ``"l2"`` or ``"linf"``.
        random_start: start from a uniform random point of the ball (clipped to [0, 1]) instead of x.
        generator: random generator for ``random_start`` (on the model's device), for reproducibility.

    Returns:
        x' on the device of ``x``; every x' is in [0, 1] and within its ε-ball around x.
    """
    _check_xy(x, y, "pgd")
    if norm not in ("l2", "linf"):
        raise UnlearnError(f"pgd: norm must be 'l2' or 'linf', got {norm!r}")
    if steps < 0:
        raise UnlearnError(f"pgd: steps must be ≥ 0, got {steps}")
    device = _model_device(model)
    x0, yd = x.to(device).float(), y.to(device).long()
    n = len(x0)
    e = _per_sample(eps, n, device, "eps")
    a = e / 10.0 if alpha is None else _per_sample(alpha, n, device, "alpha")
    step = _l2_step if norm == "l2" else _linf_step
    x_adv = x0.clone()
    if random_start:
        if norm == "l2":
            u = torch.randn(x0.shape, generator=generator, device=device)
            u = u / _bcast(u.flatten(1).norm(dim=1).clamp_min(1e-12), u)
            d = x0[0].numel()
            r = torch.rand(n, generator=generator, device=device) ** (1.0 / d) * e  # uniform in the ball
            x_adv = torch.clamp(x0 + _bcast(r, u) * u, 0.0, 1.0)
        else:
            u = torch.rand(x0.shape, generator=generator, device=device) * 2 - 1
            x_adv = torch.clamp(x0 + _bcast(e, u) * u, 0.0, 1.0)
    with eval_mode(model):
        for _ in range(steps):
            grad, _ = _ce_grad(model, x_adv, yd)
            x_adv = step(x_adv, x0, grad, e, a)
    return x_adv.detach().to(x.device)


# ---------------------------------------------------------------------------------------------- AMUN D_A
@dataclass(frozen=True, eq=False)
class AdversarialSet:
    """Nearest adversarial examples of N samples (AMUN's D_A), as CPU tensors.

    Attributes:
        x_adv: (N, C, H, W) float32 adversarial images; ``x`` itself for samples already misclassified.
        y_adv: (N,) int64 model prediction at ``x_adv`` (the AMUN fine-tuning label).
        orig_pred: (N,) int64 model prediction at the clean ``x``.
        eps: (N,) float64 radius ε of the L2 ball in which the example was found (ε_init·2^k);
            0 for samples already misclassified; the last radius tried for samples that never flipped.
        delta_norm: (N,) float32 ‖x_adv − x‖₂.
        flipped: (N,) bool, True when ``y_adv`` differs from the true label (also for samples already
            misclassified); False only for samples the search gave up on (``max_doublings`` reached).
    """

    x_adv: torch.Tensor
    y_adv: torch.Tensor
    orig_pred: torch.Tensor
    eps: torch.Tensor
    delta_norm: torch.Tensor
    flipped: torch.Tensor

    def __len__(self) -> int:
        return len(self.y_adv)

    @property
    def already_wrong(self) -> torch.Tensor:
        """(N,) bool: the model misclassified the clean sample (ε = 0, x_adv = x)."""
        return self.flipped & (self.eps == 0)

    def subset(self, idx: Sequence[int] | np.ndarray | torch.Tensor) -> AdversarialSet:
        """The rows ``idx`` (integer indices or a boolean mask), e.g. the forget set of a whole-train D_A."""
        t = torch.as_tensor(np.asarray(idx) if not isinstance(idx, torch.Tensor) else idx)
        if t.dtype != torch.bool:
            t = t.long()
        return AdversarialSet(**{f.name: getattr(self, f.name)[t] for f in fields(self)})

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain numpy arrays (for :meth:`engine.store.Store.save`)."""
        return {f.name: getattr(self, f.name).numpy() for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> AdversarialSet:
        """Inverse of :meth:`to_arrays`."""
        missing = [f.name for f in fields(cls) if f.name not in arrays]
        if missing:
            raise UnlearnError(f"adversarial set: missing array(s) {', '.join(missing)}")
        out = cls(**{f.name: torch.from_numpy(np.array(arrays[f.name])) for f in fields(cls)})
        n = len(out.y_adv)
        if any(len(getattr(out, f.name)) != n for f in fields(cls)):
            raise UnlearnError("adversarial set: arrays of different lengths")
        return out

    def summary(self) -> dict[str, float]:
        """Counts and the median ε / ‖δ‖ of the samples that needed an attack."""
        attacked = self.flipped & (self.eps > 0)
        return {
            "n": len(self),
            "flipped": int(self.flipped.sum()),
            "not_flipped": int((~self.flipped).sum()),
            "already_wrong": int(self.already_wrong.sum()),
            "median_eps": float(self.eps[attacked].median()) if attacked.any() else float("nan"),
            "median_delta_norm": float(self.delta_norm[attacked].median()) if attacked.any() else float("nan"),
        }


def nearest_adversarial(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps_init: float = 0.04,
    steps: int = 50,
    alpha_frac: float = 0.1,
    max_doublings: int = 12,
    mode: str = "amun",
    batch_size: int = 128,
    device: torch.device | str | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> AdversarialSet:
    """Nearest adversarial example per sample by L2 PGD with a doubling radius (AMUN, ICML 2025, Alg. 1).

    As the official code (``pgdl2_modified.py``, research/amun.md §1.1) runs it, per sample:

    1. A sample the model already misclassifies keeps x_adv = x, ε = 0, y_adv = its (wrong) prediction.
    2. ε = ε_init, α = ``alpha_frac``·ε. Up to ``steps`` times: if argmax f(x') ≠ y, freeze x' (early exit);
       else x' ← clip(x + Π_ε(x' − x + α·g/‖g‖₂), 0, 1) with g = ∇ₓ' CE(f(x'), y) (no random start).
    3. Still correct after ``steps`` steps: ε ← 2ε, α ← ε/10, and PGD **continues from x'** (warm start).
    4. Repeat until every sample flips; the code has no cap, here a sample still correct after the round at
       ε_init·2^max_doublings is returned with ``flipped=False`` (its last x', ε = that last radius).

    y_adv = argmax f(x_adv) at the frozen, first misclassified iterate. The search is batched: all samples of
    a batch move together with a per-sample ε tensor, and finished samples leave the batch.

    Deviations from the official code, none of which changes which ball a sample is found in:

    * the cross-entropy is summed over the batch, not averaged, so a sample's step does not depend on the
      batch size (the direction g/‖g‖ is the same; only the 1e-10 guard is relatively smaller);
    * samples misclassified from the start get ε = 0 (the code leaves its ``smallest_eps`` at ε_init);
    * the ``max_doublings`` cap (the code loops until every sample flips, forever for a flat model);
    * ε is reported as the exact float64 ε_init·2^k.

    ``mode="restart"`` is the literal Alg. 1 and what a per-sample reference (captum's ``PGD`` inside
    ``MinParamPerturbation``) computes: every radius restarts PGD from x, runs all ``steps`` steps without
    early exit and the sample counts as flipped when the *last* iterate is misclassified. It exists to check
    the batched search against such references; AMUN uses ``"amun"``.

    Args:
        model: classifier taking pixels in [0, 1]; run in eval mode, its mode is restored afterwards.
        x: inputs (N, C, H, W) in [0, 1].
        y: true labels (N,).
        eps_init: first radius ε_init (AMUN CIFAR-10: 0.04; see :func:`calibrate_eps_init`).
        steps: PGD steps per radius (AMUN: 50).
        alpha_frac: step size as a fraction of ε (AMUN: 0.1).
        max_doublings: safety cap on the number of doublings (ε ≤ ε_init·2^max_doublings).
        mode: ``"amun"`` (warm start, early exit) or ``"restart"`` (see above).
        batch_size: samples attacked together (AMUN: 128).
        device: where to run; default: the model's device (a given device moves the model there).
        progress: ``progress("adversarial", finished_samples, N, {"eps": largest active ε})`` every step.
        cancel: checked every step; raises :class:`~engine.errors.Cancelled` when set.

    Returns:
        An :class:`AdversarialSet` of CPU tensors, in the order of ``x``.

    Raises:
        UnlearnError: empty input, mismatched shapes or invalid parameters.
    """
    _check_xy(x, y, "nearest_adversarial")
    if mode not in MODES:
        raise UnlearnError(f"nearest_adversarial: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not (eps_init > 0 and math.isfinite(eps_init)):
        raise UnlearnError(f"nearest_adversarial: eps_init must be > 0, got {eps_init}")
    if steps < 1 or max_doublings < 0 or batch_size < 1 or not alpha_frac > 0:
        raise UnlearnError("nearest_adversarial: steps ≥ 1, max_doublings ≥ 0, batch_size ≥ 1 and alpha_frac > 0 "
                           f"are required (got {steps}, {max_doublings}, {batch_size}, {alpha_frac})")
    dev = _model_device(model, device)
    n = len(x)
    parts: list[dict[str, torch.Tensor]] = []
    finished = [0]

    def report(active_eps: torch.Tensor | None) -> None:
        if progress:
            top = float(active_eps.max()) if active_eps is not None and len(active_eps) else 0.0
            progress("adversarial", finished[0], n, {"eps": top})

    with eval_mode(model), cpu_threads_for(model, dev):
        for start in range(0, n, batch_size):
            xb = x[start : start + batch_size].to(dev).float()
            yb = y[start : start + batch_size].to(dev).long()
            parts.append(_search_batch(model, xb, yb, eps_init, steps, alpha_frac, max_doublings, mode, cancel,
                                       finished, report))
    out = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    k = out.pop("doublings")
    eps = torch.where(k < 0, torch.zeros((), dtype=torch.float64), eps_init * torch.pow(2.0, k.double()))
    return AdversarialSet(eps=eps, **out)


def _search_batch(model, x0, y, eps_init, steps, alpha_frac, max_doublings, mode, cancel, finished, report):
    """:func:`nearest_adversarial` on one batch already on the device; returns CPU tensors."""
    n = len(x0)
    with torch.no_grad():
        orig_pred = model(x0).argmax(1)
    x_adv = x0.clone()
    y_adv = orig_pred.clone()
    flipped = orig_pred != y
    doublings = torch.full((n,), -1, dtype=torch.long, device=x0.device)  # -1 = already misclassified
    eps = torch.full((n,), float(eps_init), dtype=torch.float32, device=x0.device)
    active = torch.nonzero(~flipped).squeeze(1)
    doublings[active] = 0
    finished[0] += n - len(active)
    report(eps[active])

    def freeze(hit: torch.Tensor, pred: torch.Tensor) -> None:
        nonlocal active
        idx = active[hit]
        y_adv[idx] = pred[hit]
        flipped[idx] = True
        active = active[~hit]
        finished[0] += len(idx)

    for round_ in range(max_doublings + 1):
        if len(active) == 0:
            break
        if mode == "restart":
            x_adv[active] = x0[active]
        for _ in range(steps):
            check_cancel(cancel)
            xa = x_adv[active]
            grad, logits = _ce_grad(model, xa, y[active])
            if mode == "amun":  # the prediction is checked before each step; misclassified samples stop here
                pred = logits.argmax(1)
                hit = pred != y[active]
                if hit.any():
                    keep = ~hit
                    freeze(hit, pred)
                    xa, grad = xa[keep], grad[keep]
                    if len(active) == 0:
                        report(None)
                        break
            e = eps[active]
            x_adv[active] = _l2_step(xa, x0[active], grad, e, alpha_frac * e)
            report(e)
        if len(active) == 0:
            break
        with torch.no_grad():  # the last iterate of this radius
            pred = model(x_adv[active]).argmax(1)
        freeze(pred != y[active], pred)
        if round_ < max_doublings and len(active):
            eps[active] *= 2.0
            doublings[active] += 1
        report(eps[active])
    # `active` now holds the samples that never flipped: flipped=False, their last iterate and radius
    delta_norm = (x_adv - x0).flatten(1).norm(p=2, dim=1)
    return {
        "x_adv": x_adv.detach().cpu(),
        "y_adv": y_adv.cpu(),
        "orig_pred": orig_pred.cpu(),
        "doublings": doublings.cpu(),
        "delta_norm": delta_norm.float().cpu(),
        "flipped": flipped.cpu(),
    }


# ---------------------------------------------------------------------------------------------- ε_init
def calibration_sample(model: nn.Module, x: torch.Tensor, y: torch.Tensor, n: int = 100, seed: int = 0,
                       device: torch.device | str | None = None) -> np.ndarray:
    """Sorted indices of min(n, #correct) correctly classified samples, drawn at random with ``seed``."""
    _check_xy(x, y, "calibration_sample")
    from .training import predict

    _model_device(model, device)
    correct = np.flatnonzero((predict(model, x).argmax(1) == y.cpu()).numpy())
    if len(correct) == 0:
        raise UnlearnError("calibrate_eps_init: the model classifies none of the given samples correctly")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(correct, size=min(n, len(correct)), replace=False))


def calibrate_eps_init(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    target: float = 0.95,
    n: int = 100,
    candidates: Sequence[float] = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28),
    steps: int = 50,
    seed: int = 0,
    alpha_frac: float = 0.1,
    device: torch.device | str | None = None,
    cancel: CancelToken | None = None,
) -> float:
    """ε_init by the AMUN paper's rule (App. E.1): most samples should find an adversarial example at once.

    On ``n`` correctly classified samples drawn at random (``seed``, see :func:`calibration_sample`), return
    the smallest candidate ε such that at least ``target`` of them are misclassified somewhere on the
    first L2 PGD run within the ball of radius ε (``steps`` steps of ε·``alpha_frac``, early exit, no
    doubling): min{ε ∈ candidates : |{i : PGD_ε(xᵢ) flips}| ≥ target·n}. The paper ran this on about 100
    samples with target 95 % and obtained 0.04 for CIFAR-10 (ResNet-18).

    Raises:
        UnlearnError: when no candidate meets the target (offer larger candidates) or no sample is correct.
    """
    if not 0 < target <= 1:
        raise UnlearnError(f"calibrate_eps_init: target must be in (0, 1], got {target}")
    idx = calibration_sample(model, x, y, n, seed, device)
    xs, ys = x[idx], y[idx]
    rates = []
    for eps in sorted(float(c) for c in candidates):
        adv = nearest_adversarial(model, xs, ys, eps_init=eps, steps=steps, alpha_frac=alpha_frac,
                                  max_doublings=0, device=device, cancel=cancel)
        rate = int(adv.flipped.sum()) / len(adv)
        rates.append(f"{eps:g}: {rate:.0%}")
        if rate >= target:
            return eps
    raise UnlearnError(f"calibrate_eps_init: no candidate reaches {target:.0%} ({', '.join(rates)}); "
                       "offer larger candidates")


# ---------------------------------------------------------------------------------------------- store
def adversarial_key(model_key: str, data_fingerprint: str, split: str, **params: object) -> str:
    """Store key of a nearest-adversarial set; ``params`` are completed with :data:`SEARCH_DEFAULTS`."""
    unknown = sorted(set(params) - set(SEARCH_DEFAULTS))
    if unknown:
        raise UnlearnError(f"unknown attack setting(s) {', '.join(unknown)}; known: {', '.join(SEARCH_DEFAULTS)}")
    full = {**SEARCH_DEFAULTS, **params}
    return config.stable_hash({"kind": "adversarial", "model": model_key, "data": data_fingerprint,
                               "split": split, **full})


def cached_nearest_adversarial(
    store: Store,
    model_key: str,
    data_fingerprint: str,
    split: str,
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int = 128,
    device: torch.device | str | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    **params: object,
) -> AdversarialSet:
    """:func:`nearest_adversarial` of ``(x, y)``, served from the store when it was computed before.

    The key is ``config.stable_hash({"kind": "adversarial", "model": model_key, "data": data_fingerprint,
    "split": split, **params})`` with ``params`` (eps_init, steps, alpha_frac, max_doublings, mode) completed
    by their defaults. ``split`` must name exactly the rows of ``x`` (e.g. ``"train"``, or a forget set's
    fingerprint for a subset); AMUN computes D_A once for the whole training set and indexes it with
    :meth:`AdversarialSet.subset`. ``batch_size``, ``device``, ``progress`` and ``cancel`` are not part of the key.

    Raises:
        UnlearnError: if a stored set under this key has a different number of samples than ``x``.
    """
    key = adversarial_key(model_key, data_fingerprint, split, **params)
    full = {**SEARCH_DEFAULTS, **params}

    def build() -> Artifact:
        t0 = time.perf_counter()
        adv = nearest_adversarial(model, x, y, batch_size=batch_size, device=device, progress=progress,
                                  cancel=cancel, **full)
        seconds = time.perf_counter() - t0
        check_cancel(cancel)
        manifest = {
            "model": model_key,
            "data_fingerprint": data_fingerprint,
            "split": split,
            "params": full,
            "n": len(adv),
            "device": str(_model_device(model)),
            "seconds": seconds,
            "summary": adv.summary(),
        }
        return store.save("adversarial", key, manifest, arrays=adv.to_arrays())

    art = store.cached("adversarial", key, build)
    adv = AdversarialSet.from_arrays(art.arrays())
    if len(adv) != len(x):
        raise UnlearnError(f"stored adversarial set {key} has {len(adv)} samples but {len(x)} were given; "
                           "the split name must identify the samples")
    return adv

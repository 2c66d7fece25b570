"""AMUN's nearest adversarial examples (Adversarial Machine UNlearning, ICML 2025, Alg. 1) and their set D_A."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn

from ..errors import UnlearnError
from ..training import CancelToken, Progress, check_cancel, cpu_threads_for
from .common import _ce_grad, _check_xy, _l2_step, _model_device, eval_mode


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


@dataclass(frozen=True)
class NearestAdversarial:
    """Nearest adversarial example per sample by L2 PGD with a doubling radius (AMUN, ICML 2025, Alg. 1).

    Settings in the constructor, data in the call. As the official code (``pgdl2_modified.py``,
    research/amun.md §1.1) runs it, per sample:

    1. A sample the model already misclassifies keeps x_adv = x, ε = 0, y_adv = its (wrong) prediction.
    2. ε = ε_init, α = ``alpha_frac``·ε. Up to ``steps`` times: if argmax f(x') ≠ y, freeze x' (early exit);
       else x' ← clip(x + Π_ε(x' − x + α·g/‖g‖₂), 0, 1) with g = ∇ₓ' CE(f(x'), y) (no random start).
    3. Still correct after ``steps`` steps: ε ← 2ε, α ← ε/10, and PGD **continues from x'** (warm start).
    4. Repeat until every sample flips; the code has no cap, here a sample still correct after the round at
       ε_init·2^max_doublings is returned with ``flipped=False`` (its last x', ε = that last radius).

    y_adv = argmax f(x_adv) at the frozen, first misclassified iterate. The search is batched: all samples of
    a batch move together with a per-sample ε tensor, and finished samples leave the batch. A sample's
    gradient does not depend on its batch (the loss is summed), so the result is the same for any
    ``batch_size`` up to the rounding of batched float kernels, which can move a sample that sits exactly at
    a radius's boundary to the next doubling.

    Deviations from the official code, none of which changes which ball a sample is found in:

    * the cross-entropy is summed over the batch, not averaged (the direction g/‖g‖ is the same; only the
      1e-10 guard is relatively smaller);
    * samples misclassified from the start get ε = 0 (the code leaves its ``smallest_eps`` at ε_init);
    * the ``max_doublings`` cap (the code loops until every sample flips, forever for a flat model);
    * ε is reported as the exact float64 ε_init·2^k.

    Args:
        eps_init: first radius ε_init (AMUN CIFAR-10: 0.04; see :func:`engine.attacks.calibrate_eps_init`).
        steps: PGD steps per radius (AMUN: 50).
        alpha_frac: step size as a fraction of ε (AMUN: 0.1).
        max_doublings: safety cap on the number of doublings (ε ≤ ε_init·2^max_doublings).
        batch_size: samples attacked together (AMUN: 128); not part of :meth:`params`.
    """

    eps_init: float = 0.04
    steps: int = 50
    alpha_frac: float = 0.1
    max_doublings: int = 12
    batch_size: int = 128

    def __post_init__(self) -> None:
        if not (self.eps_init > 0 and math.isfinite(self.eps_init)):
            raise UnlearnError(f"nearest adversarial: eps_init must be > 0, got {self.eps_init}")
        if self.steps < 1 or self.max_doublings < 0 or self.batch_size < 1 or not self.alpha_frac > 0:
            raise UnlearnError("nearest adversarial: steps ≥ 1, max_doublings ≥ 0, batch_size ≥ 1 and alpha_frac > 0 "
                               f"are required (got {self.steps}, {self.max_doublings}, {self.batch_size}, "
                               f"{self.alpha_frac})")

    def params(self) -> dict[str, float | int]:
        """The settings that change the numbers (everything but ``batch_size``): the store key of a result."""
        out = asdict(self)
        out.pop("batch_size")
        return out

    def __call__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        device: torch.device | str | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
    ) -> AdversarialSet:
        """D_A of ``(x, y)``: inputs (N, C, H, W) in [0, 1] and true labels (N,).

        Args:
            model: classifier taking pixels in [0, 1]; run in eval mode, its mode is restored afterwards.
            x: inputs.
            y: true labels.
            device: where to run; default: the model's device (a given device moves the model there).
            progress: ``progress("adversarial", finished_samples, N, {"eps": largest active ε})`` every step.
            cancel: checked every step; raises :class:`~engine.errors.Cancelled` when set.

        Returns:
            An :class:`AdversarialSet` of CPU tensors, in the order of ``x``.
        """
        _check_xy(x, y, "nearest adversarial")
        dev = _model_device(model, device)
        n = len(x)
        parts: list[dict[str, torch.Tensor]] = []
        finished = [0]

        def report(active_eps: torch.Tensor | None) -> None:
            if progress:
                top = float(active_eps.max()) if active_eps is not None and len(active_eps) else 0.0
                progress("adversarial", finished[0], n, {"eps": top})

        with eval_mode(model), cpu_threads_for(model, dev):
            for start in range(0, n, self.batch_size):
                xb = x[start : start + self.batch_size].to(dev).float()
                yb = y[start : start + self.batch_size].to(dev).long()
                parts.append(_search_batch(model, xb, yb, self.eps_init, self.steps, self.alpha_frac,
                                           self.max_doublings, cancel, finished, report))
        out = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        k = out.pop("doublings")
        eps = torch.where(k < 0, torch.zeros((), dtype=torch.float64), self.eps_init * torch.pow(2.0, k.double()))
        return AdversarialSet(eps=eps, **out)


def _search_batch(model, x0, y, eps_init, steps, alpha_frac, max_doublings, cancel, finished, report):
    """:class:`NearestAdversarial` on one batch already on the device; returns CPU tensors."""
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
        for _ in range(steps):
            check_cancel(cancel)
            xa = x_adv[active]
            grad, logits = _ce_grad(model, xa, y[active])
            pred = logits.argmax(1)  # checked before each step: misclassified samples stop here (early exit)
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

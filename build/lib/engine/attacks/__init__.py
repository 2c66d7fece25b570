"""Adversarial attacks in pixel space [0, 1], one file per attack, settings in the constructor and data in the call.

* :class:`FGSM` — one signed-gradient step (Goodfellow et al., ICLR 2015); Boundary Shrink's.
* :class:`NearestAdversarial` — AMUN's Algorithm 1 (ICML 2025, §4) as the official ``pgdl2_modified.py`` runs
  it: L2 PGD-50 with step ε/10, per-sample early exit, ε doubled and warm-started until the prediction flips.
  Batched over samples; returns an :class:`AdversarialSet` (AMUN's D_A).
* :func:`calibrate_eps_init` — the paper's App. E.1 rule for choosing ε_init.

No attack knows the run store: :mod:`engine.run` caches D_A.
"""

from .calibrate import calibrate_eps_init, calibration_sample
from .common import GRAD_NORM_EPS, eval_mode
from .fgsm import FGSM
from .nearest import AdversarialSet, NearestAdversarial

__all__ = ["FGSM", "GRAD_NORM_EPS", "AdversarialSet", "NearestAdversarial", "calibrate_eps_init",
           "calibration_sample", "eval_mode"]

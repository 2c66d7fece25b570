"""AMUN-A (AMUN paper, §6.3 and App. H): AMUN whose adversarial set is recomputed on the current model.

In continual unlearning the forget set arrives in requests, and each request starts from the model the previous
one produced. Plain AMUN keeps the D_A searched once on the original model θ_o (indexed by each request's rows);
AMUN-A searches the request's nearest adversarial examples again on the model it is given — the model after the
previous request — so that x_adv sits at that model's boundary and y_adv is that model's wrong prediction
(the code's ``--req_mode adaptive --real_adaptive``; research/amun.md §1.5). On a single request the current
model is θ_o and AMUN-A is AMUN.
"""

from __future__ import annotations

from dataclasses import dataclass

from .amun import Amun


@dataclass
class AmunAdaptive(Amun):
    """AMUN's update rule (:class:`~engine.unlearning.amun.Amun`) on D_A of the model being unlearned.

    The only difference is the resource it declares: ``"current_adversarial"`` — the runner serves the nearest
    adversarial examples of the forget rows under the model the method starts from (stored per model and rows,
    so a rerun searches nothing). Hyperparameters: AMUN's, and AMUN's tuned defaults where AMUN-A has none of its
    own (the paper reuses the settings tuned for one-shot unlearning, §6.3).
    """

    key = "amun_a"
    label = "AMUN-A"
    paper = ("Ebrahimpour-Boroojeny et al., Not All Wrong is Bad: Using Adversarial Examples for Unlearning "
             "(ICML 2025), §6.3: adaptive D_A for continual requests")

    requires = ("current_adversarial",)
    tuned_as = "amun"

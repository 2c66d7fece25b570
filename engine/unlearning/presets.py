"""Per-data-set hyperparameter defaults chosen by a documented tuning run.

The method dataclasses carry the papers' values (tuned on CIFAR-10/ResNet-18). Where those do not transfer to
a data set, ``TUNED[dataset][method]`` overrides them; the values come from ``bench/tune_methods.py`` run on a
held-out forget split (forget seed 100; evaluation uses other seeds) and the table it writes to
``bench/results/tuning_<dataset>.md``. Users can always go back to the paper values (``paper=True``).
"""

from __future__ import annotations

from typing import Any

#: digits: `bench/tune_methods.py --seeds 0,1` (forget seed 100, MLP preset), grid lr ∈ {0.5 … 0.001} ×
#: StepLR step ∈ {1, 5, 10}, 10 epochs; criterion Avg Gap (UA, RA, TA, loss-attack AUC). Table:
#: bench/results/tuning_digits.md. The papers' CIFAR-10 values (e.g. AMUN lr 0.01 with step 1, whose lr decays
#: 10x per epoch) barely move a 300-image digits model; those rows are in the table too.
TUNED: dict[str, dict[str, dict[str, Any]]] = {
    "digits": {
        "ft": {"lr": 0.5, "lr_step": 10},
        "rl": {"lr": 0.01, "lr_step": 10},
        "ga": {"lr": 0.02, "lr_step": 10},
        "bs": {"lr": 0.001, "lr_step": 10},
        "l1_sparse": {"lr": 0.1, "lr_step": 10},
        "salun": {"lr": 0.01, "lr_step": 10},
        "amun": {"lr": 0.1, "lr_step": 5},
        "amun_salun": {"lr": 0.1, "lr_step": 5},
    },
}


def tuned_params(dataset: str, method: str) -> dict[str, Any]:
    return dict(TUNED.get(dataset, {}).get(method, {}))

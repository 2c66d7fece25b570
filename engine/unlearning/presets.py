"""Per-data-set hyperparameter defaults chosen by a documented tuning run.

The method dataclasses carry the papers' values (tuned on CIFAR-10/ResNet-18). Where those do not transfer to
a data set, ``TUNED[dataset][method]`` overrides them; the values come from ``bench/tune_methods.py`` run on a
held-out forget split (forget seed 100; evaluation uses other seeds) and the table it writes to
``bench/results/tuning_<dataset>.md``. Users can always go back to the paper values (``paper=True``).
"""

from __future__ import annotations

from typing import Any

TUNED: dict[str, dict[str, dict[str, Any]]] = {}


def tuned_params(dataset: str, method: str) -> dict[str, Any]:
    return dict(TUNED.get(dataset, {}).get(method, {}))

"""Per-sample signals of a model — the only input of every audit — and their grouping into remain / forget / test / val.

A model's logits on the train, test and val splits give, per sample, p_y, φ = log(p_y / (1 − p_y)), the
cross-entropy loss, the entropy, correctness and the prediction (:func:`signals_from_logits`). :class:`Signals`
holds them with the forget / remain split of the training set, so ``signals["forget"]["loss"]`` is the forget
set's losses and :meth:`Signals.pool_logits` the logits on RMIA's pool (train rows, then test rows).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from .errors import UnlearnError

SPLITS = ("train", "test", "val")
GROUPS = ("remain", "forget", "test", "val")


def signals_from_logits(logits: torch.Tensor, y: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-sample signals from logits (computed in float64 for stable tails).

    * ``p_y``: softmax probability of the true class.
    * ``phi``: log(p_y / (1 − p_y)) = z_y − logsumexp_{j≠y} z_j (the AMUN paper's confidence scale).
    * ``loss``: cross-entropy, logsumexp(z) − z_y.
    * ``entropy``: of the softmax, in nats.
    * ``correct``: argmax == y; ``pred``: argmax.
    """
    z = logits.double()
    y = y.long()
    zy = z.gather(1, y[:, None]).squeeze(1)
    lse = torch.logsumexp(z, 1)
    others = z.scatter(1, y[:, None], float("-inf"))
    lse_others = torch.logsumexp(others, 1)
    logp = torch.log_softmax(z, 1)
    return {
        "p_y": torch.exp(zy - lse).numpy(),
        "phi": (zy - lse_others).numpy(),
        "loss": (lse - zy).numpy(),
        "entropy": (-(logp.exp() * logp).sum(1)).numpy(),
        "correct": (z.argmax(1) == y).numpy(),
        "pred": z.argmax(1).numpy(),
    }


@dataclass(frozen=True, eq=False)
class Signals(Mapping):
    """One model's per-sample signals, read by group: ``remain``, ``forget`` (rows of train), ``test``, ``val``.

    Attributes:
        splits: ``{"train" | "test" | "val": {name: array}}``; names are ``logits`` (N, C) and the (N,) signals
            of :func:`signals_from_logits`.
        forget: forget indices into the training split.
        remain: remain indices into the training split.
    """

    splits: dict[str, dict[str, np.ndarray]]
    forget: np.ndarray
    remain: np.ndarray
    _groups: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        missing = [s for s in SPLITS if s not in self.splits]
        if missing:
            raise UnlearnError(f"signals: missing split(s) {', '.join(missing)}")

    def __getitem__(self, group: str) -> dict[str, np.ndarray]:
        if group in ("test", "val"):
            return self.splits[group]
        if group not in ("remain", "forget"):
            raise KeyError(group)
        if group not in self._groups:
            idx = self.forget if group == "forget" else self.remain
            self._groups[group] = {k: v[idx] for k, v in self.splits["train"].items()}
        return self._groups[group]

    def __iter__(self) -> Iterator[str]:
        return iter(GROUPS)

    def __len__(self) -> int:
        return len(GROUPS)

    def pool_logits(self) -> np.ndarray:
        """(N_train + N_test, C) logits in RMIA's pool order: the training split, then the test split."""
        return np.concatenate([self.splits["train"]["logits"], self.splits["test"]["logits"]])

    def accuracy(self, group: str) -> float:
        correct = self[group]["correct"]
        return float(np.mean(correct)) if len(correct) else float("nan")

    @classmethod
    def from_flat(cls, flat: Mapping[str, np.ndarray], forget: np.ndarray, remain: np.ndarray) -> Signals:
        """From stored arrays named ``split.signal`` (e.g. ``train.loss``)."""
        splits: dict[str, dict[str, np.ndarray]] = {}
        for name, value in flat.items():
            split, _, sig = name.partition(".")
            splits.setdefault(split, {})[sig] = value
        return cls(splits, np.asarray(forget), np.asarray(remain))

    @staticmethod
    def compute(logits: Mapping[str, torch.Tensor], labels: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """Flat ``split.signal`` arrays from each split's logits and labels (what the store keeps)."""
        out = {}
        for split in SPLITS:
            out[f"{split}.logits"] = logits[split].numpy()
            for name, value in signals_from_logits(logits[split], labels[split]).items():
                out[f"{split}.{name}"] = value
        return out

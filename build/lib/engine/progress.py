"""What a long run tells the person waiting for it: readable stage names and an ETA for the whole run.

Every long step of the engine reports ``progress(stage, done, total, metrics)`` (:data:`engine.training.Progress`)
for its own stage only. An audit is many stages (original, retrains, K reference models, every method per seed),
so a stage's ETA says nothing about the rest. :meth:`engine.run.Runner.plan` lists the pieces an audit still has
to build, each with its work in **sample passes** (samples × epochs: the unit a training step's cost scales with);
:class:`PlanTracker` adds to every progress report where the run stands in that plan (``piece``, ``pieces``,
``work_done``, ``work_total``), and :func:`overall_eta` turns the work done so far and the time it took into the
time left for all of it.

The ETA is an extrapolation: it assumes the work still to do runs at the rate of the work done (the stacked
reference ensemble, AMUN's adversarial search and SG-Unlearn's auditor cost more or less per sample pass than a
plain training step), and a loaded machine changes it as it goes.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from .training import Progress

#: sample passes charged per forget sample for the nearest-adversarial search (AMUN): PGD-50 with step ε/10 and,
#: typically, one or two ε doublings before the prediction flips (engine/attacks/nearest.py); a rough constant
ADVERSARIAL_PASSES_PER_SAMPLE = 100

#: stage keys that are not method keys or reference models, as a person reads them
STAGE_NAMES = {"original": "original model", "retrain": "retrained model",
               "adversarial": "nearest adversarial examples", "signals": "signals", "audit": "audit (seeds)",
               "continual": "continual requests", "forget sizes": "forget-set sizes"}


def stage_label(stage: str, metrics: dict | None = None) -> str:
    """``"bs"`` → ``"Boundary Shrink"``, ``"reference"`` → ``"reference model 3/8"``, and the engine's other stages
    in words; an unknown stage is shown as it is."""
    from .unlearning import METHODS

    metrics = metrics or {}
    if stage in METHODS:
        return METHODS[stage].label
    if stage == "reference" and "model" in metrics and "of" in metrics:
        return f"reference model {metrics['model']}/{metrics['of']}"
    if stage.startswith("reference "):  # a single training's own stage name, "reference 3/8"
        return "reference model " + stage.split(" ", 1)[1]
    return STAGE_NAMES.get(stage, stage)


@dataclass(frozen=True)
class Piece:
    """One piece of a run still to build: an id the runner names it by, a label, and its work in sample passes."""

    id: Hashable
    label: str
    work: float


class PlanTracker:
    """Wraps a progress callback so that every report also says where the run is in ``plan``.

    The runner calls :meth:`enter` with a piece's id before it builds (or loads) that piece; ids not in the plan
    (pieces the store already holds) leave the position as it is. The fraction of the current piece is the
    largest ``done / total`` reported since it was entered.
    """

    def __init__(self, plan: Sequence[Piece], outer: Progress | None):
        self.plan, self.outer = list(plan), outer
        self.total = float(sum(p.work for p in self.plan))
        self._index = {p.id: i for i, p in enumerate(self.plan)}
        self._current: int | None = None
        self._finished_work = 0.0
        self._fraction = 0.0

    def enter(self, piece_id: Hashable) -> None:
        i = self._index.get(piece_id)
        if i is None:
            return
        if self._current is not None:
            self._finished_work += self.plan[self._current].work
        self._current, self._fraction = i, 0.0

    @property
    def work_done(self) -> float:
        current = self.plan[self._current].work * self._fraction if self._current is not None else 0.0
        return min(self.total, self._finished_work + current)

    def __call__(self, stage: str, done: int, total: int, metrics: dict) -> None:
        if total:  # monotone within a piece (AMUN's piece reports its search, then its epochs)
            self._fraction = max(self._fraction, min(1.0, max(0.0, done / total)))
        if self.outer is None:
            return
        extra = {}
        if self.plan:
            piece = (self._current + 1) if self._current is not None else 0
            extra = {"piece": piece, "pieces": len(self.plan), "work_done": self.work_done,
                     "work_total": self.total}
        self.outer(stage, done, total, {**metrics, **extra})


def overall_eta(metrics: dict, elapsed: float) -> float | None:
    """Seconds left for the whole plan: ``elapsed`` seconds did ``work_done`` of ``work_total``; None before
    any work is done or without a plan."""
    done, total = metrics.get("work_done"), metrics.get("work_total")
    if not done or not total or elapsed <= 0:
        return None
    return max(0.0, elapsed / float(done) * (float(total) - float(done)))

"""The engine's vocabulary as types: one name per concept.

Each is a :class:`~enum.StrEnum` whose values are the strings the store's manifests, the tables and older code
already use, so ``Role.RETRAIN == "retrain"`` and a stored record stays valid.

* :class:`Role` — what a model is in an audit: the original (or an uploaded model in its place), **Retrain** (the
  gold standard: the recipe trained without the forget set), or an unlearned model. RMIA's K *reference models*
  are not a role: they are the membership attack's shadow models (:mod:`engine.reference_models`).
* :class:`Need` — what an unlearning method needs from the runner beyond its data (:attr:`Unlearner.requires`).
* :class:`Stage` — the engine's own progress stages (a method's stage is its key; a single reference model's is
  ``"reference 3/8"``, :func:`reference_stage`).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ORIGINAL = "original"
    RETRAIN = "retrain"
    UNLEARNED = "unlearned"
    UPLOADED = "uploaded"


class Need(StrEnum):
    #: the run's recipe (Retrain trains with the original recipe)
    RECIPE = "recipe"
    #: D_A of the forget rows under the original model θ_o (AMUN)
    ADVERSARIAL = "adversarial"
    #: D_A of the forget rows under the model the method is given (AMUN-A; θ_o in a one-shot audit)
    CURRENT_ADVERSARIAL = "current_adversarial"


def needs_adversarial(requires: tuple[str, ...] | frozenset) -> bool:
    """The method trains on a stored D_A (of the original or of the model it is given)."""
    return bool({Need.ADVERSARIAL, Need.CURRENT_ADVERSARIAL} & set(requires))


class Stage(StrEnum):
    ORIGINAL = "original"
    RETRAIN = "retrain"
    REFERENCE = "reference"  # RMIA's reference models, reported as one stage with metrics model / of
    ADVERSARIAL = "adversarial"
    SIGNALS = "signals"
    AUDIT = "audit"
    CONTINUAL = "continual"
    FORGET_SIZES = "forget sizes"
    SWEEP = "sweep"


REFERENCE_PREFIX = "reference "


def reference_stage(index: int, k: int) -> str:
    """The stage name of one reference model's own training: ``"reference 3/8"``."""
    return f"{REFERENCE_PREFIX}{index}/{k}"


def parse_reference_stage(stage: str) -> str | None:
    """``"reference 3/8"`` → ``"3/8"``; None for any other stage."""
    return stage[len(REFERENCE_PREFIX):] if stage.startswith(REFERENCE_PREFIX) else None


__all__ = ["Need", "Role", "Stage", "needs_adversarial", "parse_reference_stage", "reference_stage"]

"""The unlearning interface: a method is a dataclass of hyperparameters with one update rule.

``Unlearner.unlearn`` owns the chores — copy the input model (it is never mutated), seed, device, mode,
timing, progress, cancellation, divergence detection — and calls the subclass's ``_run`` with an
:class:`UnlearnContext` that hands out the forget set D_F, the remain set D_R (``None`` in the D_F-only
setting) and batching helpers. Each method file holds only its update rule.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..data import Dataset
from ..errors import Diverged, UnlearnError
from ..training import (
    Batch,
    CancelToken,
    LossFn,
    Progress,
    batches,
    can_augment,
    cpu_threads_for,
    cross_entropy,
    default_device,
    make_sgd,
    seed_everything,
    sgd_epoch,
)


def hp(default: Any, help: str, **limits: Any) -> Any:
    """A hyperparameter field: default, one-line help (value, unit, source) and optional UI limits."""
    return field(default=default, metadata={"help": help, **limits})


@dataclass
class UnlearnResult:
    model: nn.Module  # a new model in eval mode
    history: list[dict]  # per epoch / round: losses and whatever the rule logs
    seconds: float  # wall time of the update rule (including method-specific preprocessing)
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. AMUN's adversarial set, SG-Unlearn's game log


@dataclass
class Resources:
    """What the runner hands a method beyond its data, only where the method declares the need
    (:attr:`Unlearner.requires`).

    Attributes:
        recipe: the run's :class:`~engine.config.RunSpec` (Retrain trains with the original recipe).
        adversarial: ``adversarial(attack) -> AdversarialSet`` of the forget rows, served from the run store.
            Whose adversarial examples depends on the need the method declares: ``"adversarial"`` — under the
            *original* model θ_o (AMUN's D_A, computed once per original model for all of train, as the AMUN
            code's ``build_advdataset.py``; in continual unlearning still θ_o's, indexed by each request's rows);
            ``"current_adversarial"`` — under the model the method is given (AMUN-A: in continual unlearning the
            model after the previous request; in a one-shot audit that is θ_o too). Without it a method runs the
            attack itself on the model it is given.
    """

    recipe: Any = None
    adversarial: Callable[[Any], Any] | None = None
    #: work done once and shared by every method that uses it (e.g. the D_A search), in seconds, by what it was:
    #: filled by the runner's resources, charged beside a method's own time so every user of it pays the same
    one_time: dict[str, float] = field(default_factory=dict)


@dataclass
class UnlearnContext:
    """What a method sees. Tensors live on ``device``; the forget/remain indices refer to ``data.x_train``."""

    data: Dataset
    forget: np.ndarray
    remain: np.ndarray | None
    device: torch.device
    seed: int
    gen: torch.Generator
    augment: bool  # the run's recipe augments (and the images are large enough for crop+flip)
    progress: Progress | None
    cancel: CancelToken | None
    resources: Resources = field(default_factory=Resources)
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        x, y = self.data.x_train, self.data.y_train
        self.x_forget, self.y_forget = x[self.forget].to(self.device), y[self.forget].to(self.device)
        if self.remain is not None:
            self.x_remain, self.y_remain = x[self.remain].to(self.device), y[self.remain].to(self.device)
        else:
            self.x_remain = self.y_remain = None

    @property
    def num_classes(self) -> int:
        return self.data.num_classes

    @property
    def has_remain(self) -> bool:
        return self.remain is not None

    def batches(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool = True,
                augment: bool | torch.Tensor | None = None) -> Iterator[Batch]:
        """Mini-batches ``(xb, yb, idx)`` (:func:`engine.training.batches` with this run's generator and cancel).

        ``augment``: None → the recipe's setting; a bool tensor (N,) → augment only those samples, and only when
        the recipe augments (AMUN leaves its adversarial images un-augmented).
        """
        if augment is None:
            augment = self.augment
        elif isinstance(augment, torch.Tensor) and not self.augment:
            augment = False
        return batches(x, y, batch_size, self.gen, shuffle=shuffle, augment=augment, cancel=self.cancel)

    def report(self, stage: str, done: int, total: int, metrics: dict) -> None:
        if self.progress:
            self.progress(stage, done, total, metrics)

    def random_other_labels(self, y: torch.Tensor) -> torch.Tensor:
        """A label drawn uniformly from the classes ≠ y, per sample (RL as in the AMUN code)."""
        shift = torch.randint(1, self.num_classes, y.shape, generator=self.gen, device=self.gen.device).to(y.device)
        return (y + shift) % self.num_classes


@dataclass
class SGDConfig:
    """The optimiser every fine-tuning method in the AMUN harness uses (research/amun.md §4)."""

    epochs: int = hp(10, "passes over the method's training set (AMUN harness: 10)", min=1, max=500)
    lr: float = hp(0.01, "SGD learning rate (AMUN harness reference point: 0.01)", min=0.0, max=10.0)
    batch_size: int = hp(128, "samples per step (AMUN harness: 128)", min=1, max=4096)
    momentum: float = hp(0.9, "SGD momentum (AMUN harness: 0.9)", min=0.0, max=0.999)
    weight_decay: float = hp(5e-4, "L2 weight decay (AMUN harness: 5e-4)", min=0.0, max=0.1)
    lr_step: int = hp(10, "StepLR step in epochs (AMUN grid: 1, 5, 10)", min=1, max=500)
    lr_gamma: float = hp(0.1, "StepLR decay factor (AMUN harness: 0.1)", min=0.0, max=1.0)

    def optimizer(self, model: nn.Module) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.StepLR]:
        return make_sgd(model.parameters(), lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay,
                        lr_step=self.lr_step, lr_gamma=self.lr_gamma)


class Unlearner:
    """Base of every method. Subclasses are dataclasses whose fields are hyperparameters."""

    key: ClassVar[str] = ""
    label: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    needs_remain: ClassVar[bool] = False  # refuses to run without D_R (e.g. fine-tuning on D_R)
    uses_remain: ClassVar[bool] = True  # uses D_R when it is given; False: a D_F-only method
    #: what the method needs from the runner beyond its data (see :class:`Resources`): "recipe", "adversarial"
    #: (D_A of the original model) or "current_adversarial" (D_A of the model it is given)
    requires: ClassVar[tuple[str, ...]] = ()
    #: a method that is another one with a different resource (AMUN-A is AMUN with D_A recomputed): it takes that
    #: method's tuned defaults where it has none of its own
    tuned_as: ClassVar[str] = ""

    def unlearn(
        self,
        model: nn.Module,
        data: Dataset,
        forget: np.ndarray,
        remain: np.ndarray | None,
        *,
        seed: int = 0,
        device: torch.device | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
        augment: bool = False,
        resources: Resources | None = None,
    ) -> UnlearnResult:
        """Unlearn ``forget`` from a copy of ``model``; ``remain=None`` is the D_F-only setting.

        ``augment``: the run's recipe augments (crop + flip where the images allow it). ``resources``: what the
        runner provides for the needs the method declares in :attr:`requires`.
        """
        forget = np.asarray(forget, dtype=np.int64)
        if len(forget) == 0:
            raise UnlearnError(f"{self.label}: the forget set is empty")
        if remain is None and self.needs_remain:
            raise UnlearnError(f"{self.label} needs the remain set D_R; it cannot run in the D_F-only setting")
        if remain is not None:
            remain = np.asarray(remain, dtype=np.int64)
            if len(remain) == 0:
                raise UnlearnError(f"{self.label}: the remain set is empty")
            if np.intersect1d(forget, remain).size:
                raise UnlearnError(f"{self.label}: forget and remain sets overlap")
        self.validate()
        resources = resources or Resources()
        missing = [need for need in self.requires if need == "recipe" and resources.recipe is None]
        if missing:
            raise UnlearnError(f"{self.label} needs the run's {', '.join(missing)}; run it through engine.run")
        device = device or default_device()
        seed_everything(seed)
        work = copy.deepcopy(model).to(device)
        ctx = UnlearnContext(data, forget, remain if self.uses_remain else None, device, seed,
                             torch.Generator(device=device).manual_seed(seed),
                             augment and can_augment(tuple(data.x_train.shape)), progress, cancel, resources)
        t0 = time.perf_counter()
        with cpu_threads_for(work, device):
            history = self._run(work, ctx)
        seconds = time.perf_counter() - t0
        for name, p in work.state_dict().items():
            if p.is_floating_point() and not torch.isfinite(p).all():
                raise Diverged(f"{self.label}: parameter {name} became non-finite — lower the learning rate")
        work.eval()
        return UnlearnResult(work, history, seconds, ctx.extras)

    def validate(self) -> None:
        """Check hyperparameters against their declared limits; raise UnlearnError naming the bad one."""
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value, meta = getattr(self, f.name), f.metadata
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if "min" in meta and value < meta["min"] or "max" in meta and value > meta["max"]:
                    raise UnlearnError(f"{self.label}: {f.name}={value} is outside "
                                       f"[{meta.get('min')}, {meta.get('max')}]")
            if "choices" in meta and value not in meta["choices"]:
                raise UnlearnError(f"{self.label}: {f.name}={value!r}; choose one of {meta['choices']}")

    def _run(self, model: nn.Module, ctx: UnlearnContext) -> list[dict]:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ the epoch loop
class EpochUnlearner(SGDConfig, Unlearner):
    """A method that runs ``epochs`` passes of SGD (:class:`SGDConfig`) — every fine-tuning method but SG-Unlearn.

    The loop is written once here: :meth:`prepare` (work on θ_o before any update, e.g. a saliency mask or
    AMUN's adversarial set), the optimiser, :meth:`step_hooks`, then per epoch :meth:`epoch` (the method's
    update rule, returning what it logs), the history record, the StepLR step and the progress report.
    """

    def prepare(self, model: nn.Module, ctx: UnlearnContext) -> Any:
        """Computed on θ_o before the optimiser exists; the result is passed to every hook below."""
        return None

    def step_hooks(self, opt: torch.optim.Optimizer, state: Any) -> dict[str, Callable[[], None]]:
        """``before_step`` / ``after_step`` callables for :func:`engine.training.sgd_epoch` (masks)."""
        return {}

    def epoch(self, model: nn.Module, opt: torch.optim.Optimizer, ctx: UnlearnContext, epoch: int, state: Any,
              hooks: dict[str, Callable[[], None]]) -> dict[str, float]:
        raise NotImplementedError

    def pass_(self, model: nn.Module, opt: torch.optim.Optimizer, data: Iterator[Batch], where: str,
              loss_fn: LossFn = cross_entropy, **hooks: Callable[[], None]) -> float:
        """One SGD pass (:func:`engine.training.sgd_epoch`); returns the mean loss."""
        return sgd_epoch(model, opt, data, loss_fn, f"{self.label} {where}", **hooks)

    def _run(self, model: nn.Module, ctx: UnlearnContext) -> list[dict]:
        state = self.prepare(model, ctx)
        opt, sched = self.optimizer(model)
        hooks = self.step_hooks(opt, state)
        history = []
        for epoch in range(1, self.epochs + 1):
            rec = {"epoch": epoch, "lr": opt.param_groups[0]["lr"]}
            rec.update(self.epoch(model, opt, ctx, epoch, state, hooks))
            history.append(rec)
            sched.step()
            ctx.report(self.key, epoch, self.epochs, rec)
        return history

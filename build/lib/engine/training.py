"""Training, prediction and per-sample signals; device choice, seeding, progress and cancellation.

Data for the small sets lives on the device as tensors; augmentation (random crop with 4-pixel padding and
horizontal flip) is a batched tensor op driven by a seeded generator, so the same seed gives the same
weights on the same device.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .config import TrainConfig
from .errors import Cancelled, Diverged

#: progress(stage, done, total, metrics) — called from the worker thread.
Progress = Callable[[str, int, int, dict], None]


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


#: Models below this many parameters train faster on one CPU thread: their ops are too small to split, and
#: OpenMP's spin-waiting between threads costs more than it gains (measured on the digits MLP: fine-tuning
#: 0.77 s with 2 threads vs 0.17 s with 1 under a loaded 2-core machine; see bench/results/pipeline.md).
SMALL_MODEL_PARAMS = 2_000_000


@contextlib.contextmanager
def cpu_threads_for(model: nn.Module, device: torch.device | None = None) -> Iterator[None]:
    """One intra-op thread for small models on the CPU; unchanged otherwise (restored on exit)."""
    device = device or next(model.parameters()).device
    small = sum(p.numel() for p in model.parameters()) < SMALL_MODEL_PARAMS
    if device.type != "cpu" or not small or torch.get_num_threads() == 1:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


class CancelToken:
    """Set from any thread; long work calls :meth:`check` every batch and stops with :class:`Cancelled`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("the run was cancelled; nothing was stored")


def check_cancel(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.check()


def augment_batch(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop (zero padding ``pad``) and horizontal flip for a batch, per sample, without loops."""
    n, _, h, w = x.shape
    shifts = torch.randint(0, 2 * pad + 1, (2, n), generator=gen, device=gen.device)
    flips = torch.rand(n, generator=gen, device=gen.device) < 0.5
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = (torch.arange(h, device=x.device)[None, :] + shifts[0][:, None]).to(x.device)  # (n, h)
    cols = (torch.arange(w, device=x.device)[None, :] + shifts[1][:, None]).to(x.device)  # (n, w)
    cols = torch.where(flips.to(x.device)[:, None], cols.flip(1), cols)
    idx_n = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx_n, rows[:, :, None], cols[:, None, :]]  # (n, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous()


def can_augment(shape: tuple[int, ...]) -> bool:
    """Crop+flip is the CIFAR recipe; it is skipped for tiny images (8×8 digits) where it destroys content."""
    return min(shape[-2:]) >= 16


@dataclass
class TrainHistory:
    epochs: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def make_sgd(params, *, lr: float, momentum: float, weight_decay: float, lr_step: int, lr_gamma: float,
             cls: Callable[..., torch.optim.SGD] = torch.optim.SGD) -> tuple[torch.optim.Optimizer,
                                                                    torch.optim.lr_scheduler.StepLR]:
    """The one optimiser of the engine: SGD with momentum and weight decay, and a StepLR schedule.

    ``cls``: a subclass of ``torch.optim.SGD`` (the batched ensemble's :class:`engine.ensemble.MaskedSGD`)."""
    opt = cls(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, lr_step), gamma=lr_gamma)


def check_finite(value: torch.Tensor, where: str) -> None:
    """Raise :class:`Diverged` when ``value`` holds a NaN or an infinity."""
    if not torch.isfinite(value).all():
        raise Diverged(f"{where}: the loss became non-finite ({value.detach().flatten()[0].item():.3g}) — "
                       "lower the learning rate")


Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def batches(
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    gen: torch.Generator,
    *,
    shuffle: bool = True,
    augment: bool | torch.Tensor = False,
    cancel: CancelToken | None = None,
) -> Iterator[Batch]:
    """Mini-batches ``(xb, yb, idx)`` of tensors already on their device; cancel is checked every batch.

    ``augment``: ``True`` crops and flips every batch (where the images are large enough, see
    :func:`can_augment`); a bool tensor (N,) augments only the samples it marks (AMUN leaves its adversarial
    images un-augmented). The order and the augmentation draw from ``gen``, so a seed fixes them.
    """
    n = len(x)
    order = torch.randperm(n, generator=gen, device=gen.device).to(x.device) if shuffle else \
        torch.arange(n, device=x.device)
    whole = isinstance(augment, bool) and augment and can_augment(tuple(x.shape))
    for start in range(0, n, batch_size):
        check_cancel(cancel)
        idx = order[start : start + batch_size]
        xb = x[idx]
        if isinstance(augment, torch.Tensor):
            if bool(augment[idx].any()):
                sel = augment[idx]
                xb = xb.clone()
                xb[sel] = augment_batch(xb[sel], gen)
        elif whole:
            xb = augment_batch(xb, gen)
        yield xb, y[idx], idx


def cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(x), y)


def sgd_epoch(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    data: Iterator[Batch],
    loss_fn: LossFn = cross_entropy,
    where: str = "training",
    *,
    before_step: Callable[[], None] | None = None,
    after_step: Callable[[], None] | None = None,
) -> float:
    """One pass of SGD steps over ``data`` in train mode; returns the sample-weighted mean loss.

    The one SGD loop of the engine (training, reference models and every fine-tuning method). The loss is
    summed on the device and read once per pass; a non-finite mean raises :class:`Diverged`. ``before_step``
    runs between ``backward`` and ``step`` (gradient masks), ``after_step`` after it.
    """
    model.train()
    total, n = None, 0
    for xb, yb, _ in data:
        loss = loss_fn(model, xb, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if before_step:
            before_step()
        opt.step()
        if after_step:
            after_step()
        part = loss.detach() * len(yb)
        total = part if total is None else total + part
        n += len(yb)
    if total is None:
        return float("nan")
    mean = total / n
    check_finite(mean, where)
    return float(mean.item())


def train_model(model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig, **kw) -> TrainHistory:
    """Train ``model`` in place with SGD + momentum + weight decay + StepLR (the papers' recipe).

    Keyword arguments: ``seed`` (required), ``device``, ``progress``, ``cancel``, ``stage``. Raises
    :class:`Cancelled` when ``cancel`` is set and :class:`Diverged` on a non-finite loss. Progress is reported
    per epoch as ``progress(stage, steps_done, steps_total, {"epoch", "loss", "acc", "lr"})``.
    """
    device = kw.get("device") or default_device()
    model.to(device)
    with cpu_threads_for(model, device):
        return _train_loop(model, x, y, cfg, **{**kw, "device": device})


def _train_loop(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: TrainConfig,
    *,
    seed: int,
    device: torch.device | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    stage: str = "train",
) -> TrainHistory:
    device = device or default_device()
    x, y = x.to(device), y.to(device)
    n = len(x)
    gen = torch.Generator(device=device).manual_seed(seed)
    opt, sched = make_sgd(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                          lr_step=cfg.lr_step, lr_gamma=cfg.lr_gamma)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    history, t0 = TrainHistory(), time.perf_counter()
    for epoch in range(cfg.epochs):
        correct = torch.zeros((), device=device, dtype=torch.long)

        def loss_fn(m: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
            nonlocal correct
            out = m(xb)
            correct = correct + (out.detach().argmax(1) == yb).sum()
            return F.cross_entropy(out, yb)

        lr = opt.param_groups[0]["lr"]
        loss = sgd_epoch(model, opt, batches(x, y, cfg.batch_size, gen, augment=cfg.augment, cancel=cancel), loss_fn,
                         f"{stage} epoch {epoch + 1}")
        record = {"epoch": epoch + 1, "loss": loss, "acc": correct.item() / n, "lr": lr}
        history.epochs.append(record)
        sched.step()
        if progress:
            progress(stage, (epoch + 1) * steps_per_epoch, total, record)
    history.seconds = time.perf_counter() - t0
    return history


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024,
            device: torch.device | None = None) -> torch.Tensor:
    """Logits for ``x`` in eval mode, in batches; returned on the CPU as float32."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    with cpu_threads_for(model, device):
        outs = [model(x[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(outs) if outs else torch.zeros(0)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) == y).float().mean().item()) if len(y) else float("nan")

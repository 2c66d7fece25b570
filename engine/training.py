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


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.StepLR]:
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, cfg.lr_step), gamma=cfg.lr_gamma)
    return opt, sched


def check_finite(loss: torch.Tensor, where: str) -> None:
    if not torch.isfinite(loss).all():
        raise Diverged(f"{where}: the loss became {loss.item()} — lower the learning rate")


def train_model(model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig, **kw) -> TrainHistory:
    """Train ``model`` in place with SGD + momentum + weight decay + StepLR (the papers' recipe).

    Keyword arguments: ``seed`` (required), ``device``, ``progress``, ``cancel``, ``stage``. Raises
    :class:`Cancelled` when ``cancel`` is set and :class:`Diverged` on a non-finite loss.
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
    opt, sched = make_optimizer(model, cfg)
    augment = cfg.augment and can_augment(tuple(x.shape))
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total, done = cfg.epochs * steps_per_epoch, 0
    history, t0 = TrainHistory(), time.perf_counter()
    for epoch in range(cfg.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen, device=device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        for start in range(0, n, cfg.batch_size):
            check_cancel(cancel)
            idx = perm[start : start + cfg.batch_size]
            xb, yb = x[idx], y[idx]
            if augment:
                xb = augment_batch(xb, gen)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * len(idx)
            correct += (out.argmax(1) == yb).sum()
            done += 1
        mean_loss = (loss_sum / n).item()
        check_finite(torch.tensor(mean_loss), f"{stage} epoch {epoch + 1}")
        record = {"epoch": epoch + 1, "loss": mean_loss, "acc": correct.item() / n, "lr": opt.param_groups[0]["lr"]}
        history.epochs.append(record)
        sched.step()
        if progress:
            progress(stage, done, total, record)
    history.seconds = time.perf_counter() - t0
    return history


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024, device: torch.device | None = None) -> torch.Tensor:
    """Logits for ``x`` in eval mode, in batches; returned on the CPU as float32."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    with cpu_threads_for(model, device):
        outs = [model(x[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(outs) if outs else torch.zeros(0)


SIGNAL_NAMES = ("p_y", "phi", "loss", "entropy", "correct", "pred")


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


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) == y).float().mean().item()) if len(y) else float("nan")

"""What a training will cost before it runs: SGD steps × seconds per step, measured on this machine for this model.

The Setup page shows it before the user starts a (possibly long) training of the original and retrained model.
It is an estimate: the steps are exact, the seconds per step come from a few timed steps of a fresh model on the
real data (batch size, augmentation and device as the recipe), and the machine's load changes them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from .config import ModelSpec, RunSpec, TrainConfig
from .data import Dataset
from .models import build_model, prefers_channels_last
from .training import batches, cpu_threads_for, default_device, make_sgd, sgd_epoch


@dataclass(frozen=True)
class TrainingCost:
    """The estimated cost of training ``kinds`` (e.g. original and retrain) with one recipe.

    Attributes:
        steps: SGD steps in all (epochs × batches per epoch, summed over the models).
        seconds_per_step: measured mean wall time of one step (forward, backward, update) of this model.
        device: where it was measured (and where training runs).
    """

    steps: int
    seconds_per_step: float
    device: str

    @property
    def seconds(self) -> float:
        return self.steps * self.seconds_per_step


def training_steps(train: TrainConfig, *sizes: int) -> int:
    """SGD steps of training on sets of ``sizes`` samples with the recipe ``train`` (the last batch may be short)."""
    return sum(train.epochs * math.ceil(n / train.batch_size) for n in sizes)


def seconds_per_step(model_spec: ModelSpec, train: TrainConfig, data: Dataset, device: torch.device | str | None = None,
                     budget_s: float = 0.5, chunk: int = 5, max_chunks: int = 40) -> float:
    """Seconds of one SGD step of a fresh ``model_spec`` model on ``data``'s training images (the recipe's batch
    size and augmentation; the weights are thrown away): after three warm-up steps, chunks of ``chunk`` steps are
    timed until ``budget_s`` has passed (at least two chunks); the median chunk's mean, so a moment of load on a
    shared machine does not decide it."""
    device = torch.device(device) if device is not None else default_device()
    model = build_model(model_spec, data.shape, data.num_classes).to(device)
    if prefers_channels_last(model_spec, device):
        model = model.to(memory_format=torch.channels_last)
    n = min(len(data.y_train), train.batch_size * chunk)
    x, y = data.x_train[:n].to(device), data.y_train[:n].to(device)
    reps = max(1, math.ceil(train.batch_size * chunk / n))  # a small training set: repeat it to fill the batches
    x, y = x.repeat(reps, *([1] * (x.dim() - 1))), y.repeat(reps)
    opt, _ = make_sgd(model.parameters(), lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay,
                      lr_step=train.lr_step, lr_gamma=train.lr_gamma)
    gen = torch.Generator(device=device).manual_seed(0)

    def run(steps: int) -> float:
        data_iter = batches(x, y, train.batch_size, gen, augment=train.augment)
        todo = [b for _, b in zip(range(steps), data_iter)]
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        sgd_epoch(model, opt, iter(todo))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return (time.perf_counter() - t0) / len(todo)

    with cpu_threads_for(model, device):
        run(3)  # warm-up: allocation, kernel selection
        times, start = [], time.perf_counter()
        while len(times) < 2 or (time.perf_counter() - start < budget_s and len(times) < max_chunks):
            times.append(run(chunk))
    return float(sorted(times)[len(times) // 2])


def baseline_cost(spec: RunSpec, data: Dataset, n_remain: int, device: torch.device | str | None = None,
                  per_step: float | None = None) -> TrainingCost:
    """The cost of training the original model (all of train) and the retrained one (``n_remain`` samples).

    ``per_step``: seconds per step measured before (:func:`seconds_per_step`); measured now when None.
    """
    device = torch.device(device) if device is not None else default_device()
    if per_step is None:
        per_step = seconds_per_step(spec.model, spec.train, data, device)
    return TrainingCost(training_steps(spec.train, len(data.y_train), n_remain), per_step, str(device))


def describe_seconds(seconds: float) -> str:
    """``42 s``, ``3.5 min``, ``2.1 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"

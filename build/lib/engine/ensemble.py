"""Batched ensembles: K small models trained at once, each exactly as :func:`engine.training.train_model` would
train it alone (RMIA's reference models, issue 10 item 2).

The K models' parameters are stacked (``torch.func.stack_module_state``) and one forward pass runs all of them
(``torch.func.vmap`` over ``functional_call``); the loss is the sum of the members' losses, so one backward
gives every member its own gradient. Each member keeps what a single training has:

* its own **data** (a subset of rows of one shared ``x``: a keep-matrix row),
* its own **generator**, seeded like ``train_model(seed=…)``: the same per-epoch permutation and, where the
  recipe augments, the same crop/flip draws in the same order,
* its own **optimiser state**: SGD momentum buffers and weight decay are element-wise, so one
  ``torch.optim.SGD`` over the stacked tensors is K independent optimisers; the StepLR schedule is shared
  (same recipe, same epochs),
* its own **number of steps**: an epoch of member r has ⌈n_r / B⌉ steps with a last partial batch of
  n_r mod B samples, as in ``train_model``. Every step has the shape (K, B): a member's short last batch is
  padded with weight-0 rows (they add nothing to its loss or gradient), and a member that has run out of
  steps while others continue is *idle*: :class:`MaskedSGD` leaves its parameters and momentum untouched.

So the ensemble computes what K separate trainings compute; the results differ only by float rounding
(batched matmuls sum in another order than single ones; the loss is a weighted sum instead of a mean), about
1e-7 relative per step. Over a long recipe those differences grow the way any two runs on different hardware
do, so long trainings agree in distribution (accuracies, AUC) rather than to the last bit. Differences in
behaviour: a non-finite loss of any member stops the whole ensemble (:class:`~engine.errors.Diverged`), and a
cancel stops all members at once (no member is kept).

Only models without buffers or dropout can be stacked (:func:`supports_ensemble`): batch-norm statistics
would see the padding rows and need per-member running buffers under ``vmap``. The ResNets train singly.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator, Sequence
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from .config import TrainConfig
from .training import (
    CancelToken,
    Progress,
    TrainHistory,
    augment_batch,
    can_augment,
    check_cancel,
    cpu_threads_for,
    default_device,
    make_sgd,
    sgd_epoch,
)

#: Largest model (parameters) the runner trains as a stacked ensemble by default; larger ones train singly.
ENSEMBLE_MAX_PARAMS = 5_000_000
#: Members stacked at once; more are trained in groups of this size (bounds memory: K stacked copies of the
#: parameters, gradients, momentum and activations).
ENSEMBLE_GROUP = 16


def choose_training(model: nn.Module, device: torch.device | None = None) -> str:
    """How the runner trains K copies of ``model`` by default: ``"ensemble"`` or ``"single"``.

    The ensemble for buffer-free models up to :data:`ENSEMBLE_MAX_PARAMS` parameters — plain MLPs on any device
    (grouped layers), other models (``vmap``) on CUDA only: on the CPU the vmapped small CNN measured no faster
    than single trainings (digits, width 32, K = 8: 0.9–1.1x), while the MLP gains (bench/results/references.md).
    """
    if sum(p.numel() for p in model.parameters()) > ENSEMBLE_MAX_PARAMS or not supports_ensemble(model):
        return "single"
    if _grouped_layers(model) is not None or (device is not None and device.type == "cuda"):
        return "ensemble"
    return "single"


def supports_ensemble(model: nn.Module) -> bool:
    """True when ``model`` can be trained in a stacked ensemble: no buffers (batch norm) and no dropout."""
    if any(True for _ in model.buffers()):
        return False
    return not any(isinstance(m, nn.modules.dropout._DropoutNd) for m in model.modules())


def _grouped_layers(model: nn.Module) -> list[nn.Module] | None:
    """The layers of a plain MLP (``Flatten`` / ``Linear`` / ``ReLU`` in sequence), or None for anything else."""
    layers = [m for m in model.modules() if not list(m.children())]
    if not layers or not all(isinstance(m, (nn.Flatten, nn.Linear, nn.ReLU)) for m in layers):
        return None
    if [n for n, _ in model.named_modules() if not list(_.children())] != \
            [n for n, _ in model.named_modules() if isinstance(_, (nn.Flatten, nn.Linear, nn.ReLU))]:
        return None
    return layers


class StackedModels(nn.Module):
    """K models of one architecture as one module: parameters stacked on a leading member axis.

    ``forward(x)`` takes ``(K, B, …)`` inputs (one batch per member) and returns ``(K, B, classes)``.

    Two ways to run the stack, same function:

    * **grouped layers** for plain MLPs (``Flatten`` / ``Linear`` / ``ReLU``, e.g. the digits preset): each
      ``Linear`` becomes one ``baddbmm`` over weights stored as (K, in, out), so the gradients come out in the
      parameters' own layout (no copy per step);
    * ``torch.func.vmap`` over ``functional_call`` for any other buffer-free model (none of the built-in
      models since the small CNN gained BatchNorm; a user's own buffer-free network).
    """

    def __init__(self, models: Sequence[nn.Module]):
        super().__init__()
        if not models:
            raise ValueError("an ensemble needs at least one model")
        if not all(supports_ensemble(m) for m in models):
            raise ValueError("models with buffers (batch norm) or dropout cannot be stacked; train them singly")
        params, _ = torch.func.stack_module_state(list(models))
        self.names = list(params)
        layers = _grouped_layers(models[0])
        self.grouped = layers is not None
        if self.grouped:
            # Linear weights (K, out, in) are kept transposed as (K, in, out); biases as (K, 1, out)
            self._ops = [type(m).__name__ for m in layers]
            self._layout = [("w" if n.endswith("weight") else "b") for n in self.names]
            tensors = [params[n].transpose(1, 2) if kind == "w" else params[n][:, None, :]
                       for n, kind in zip(self.names, self._layout)]
        else:
            tensors = [params[n] for n in self.names]
            # the architecture without storage, for functional_call (not registered: it holds no parameters)
            object.__setattr__(self, "_base", copy.deepcopy(models[0]).to("meta"))
        self.stacked = nn.ParameterList([nn.Parameter(t.detach().contiguous()) for t in tensors])

    @property
    def k(self) -> int:
        return int(self.stacked[0].shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.grouped:
            h, i = x, 0
            for op in self._ops:
                if op == "Flatten":
                    h = h.flatten(2)
                elif op == "ReLU":
                    h = torch.relu(h)
                else:
                    w, b = self.stacked[i], self.stacked[i + 1]
                    h = torch.baddbmm(b, h, w)
                    i += 2
            return h

        def one(weights: tuple[torch.Tensor, ...], xb: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(self._base, dict(zip(self.names, weights)), (xb,))

        return torch.func.vmap(one)(tuple(self.stacked), x)

    def member_state(self, r: int) -> dict[str, torch.Tensor]:
        """Member ``r``'s parameters as a state dict of the original architecture."""
        if self.grouped:
            return {n: (w[r].t() if kind == "w" else w[r, 0]).detach().contiguous().clone()
                    for n, kind, w in zip(self.names, self._layout, self.stacked)}
        return {n: w[r].detach().clone() for n, w in zip(self.names, self.stacked)}


class MaskedSGD(torch.optim.SGD):
    """``torch.optim.SGD`` over stacked parameters that leaves idle members untouched.

    Set :attr:`active` (a (K,) bool tensor) before :meth:`step`; members marked False keep their parameters and
    momentum buffers exactly (a single training would simply not step). The update is torch's own SGD (built
    with ``fused=True``: one pass over parameter, gradient and buffer, which matters once K stacked models
    outgrow the CPU caches); momentum and weight decay are element-wise, so this is K independent optimisers.
    """

    active: torch.Tensor | None = None

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001 - torch's signature
        act = self.active
        if act is None or bool(act.all()):
            return super().step(closure)
        idle = torch.nonzero(~act).squeeze(1)
        saved = []
        for group in self.param_groups:
            for p in group["params"]:
                buf = self.state[p].get("momentum_buffer") if p in self.state else None
                saved.append((p, p[idle].clone(), None if buf is None else buf[idle].clone()))
        out = super().step(closure)
        for p, old, old_buf in saved:
            p[idle] = old
            buf = self.state[p].get("momentum_buffer")
            if buf is not None:  # a buffer born in this step starts at 0 for idle members: 0.9·0 + g = g later
                buf[idle] = old_buf if old_buf is not None else 0.0
        return out


class _StepState:
    """What the batch iterator tells the loss and the optimiser about the current step."""

    def __init__(self, k: int, device: torch.device):
        self.weights: torch.Tensor | None = None  # (K, B) bool: real rows of each member's batch
        self.loss_sum = torch.zeros(k, device=device, dtype=torch.float64)
        self.correct = torch.zeros(k, device=device, dtype=torch.long)


def _ensemble_batches(x: torch.Tensor, y: torch.Tensor, subsets: list[torch.Tensor], batch_size: int,
                      gens: list[torch.Generator], opt: MaskedSGD, state: _StepState, *, augment: bool,
                      cancel: CancelToken | None) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One epoch of stacked batches ``(xb (K,B,…), yb (K,B), idx (K,B))``.

    Member r's order is ``subsets[r][randperm(n_r, generator=gens[r])]`` — what ``engine.training.batches``
    draws for ``x[subsets[r]]`` — cut into ⌈n_r / B⌉ batches; rows past n_r are padding (weight 0).
    """
    k, dev = len(subsets), x.device
    sizes = [len(s) for s in subsets]
    steps = max(math.ceil(n / batch_size) for n in sizes)
    width = steps * batch_size
    idx = torch.zeros(k, width, dtype=torch.long, device=dev)
    real = torch.zeros(k, width, dtype=torch.bool, device=dev)
    for r, (sub, gen) in enumerate(zip(subsets, gens)):
        order = torch.randperm(len(sub), generator=gen, device=gen.device).to(dev)
        idx[r, : len(sub)] = sub[order]
        real[r, : len(sub)] = True
    whole = augment and can_augment(tuple(x.shape))
    for s in range(steps):
        check_cancel(cancel)
        cols = slice(s * batch_size, (s + 1) * batch_size)
        bi, w = idx[:, cols], real[:, cols]
        xb = x[bi]
        if whole:
            for r in range(k):
                m = min(batch_size, max(0, sizes[r] - s * batch_size))
                if m:
                    xb[r, :m] = augment_batch(xb[r, :m], gens[r])
        state.weights = w
        opt.active = w.any(1)
        yield xb, y[bi], bi


def train_ensemble(models: Sequence[nn.Module], x: torch.Tensor, y: torch.Tensor, subsets: Sequence,
                   cfg: TrainConfig, seeds: Sequence[int], *, device: torch.device | None = None,
                   progress: Progress | None = None, cancel: CancelToken | None = None,
                   stage: str = "ensemble") -> list[TrainHistory]:
    """Train ``models[r]`` on ``x[subsets[r]], y[subsets[r]]`` with ``seeds[r]``, all at once, in place.

    Equivalent to ``train_model(models[r], x[subsets[r]], y[subsets[r]], cfg, seed=seeds[r])`` for every r
    (module docstring: same permutations, augmentation draws, optimiser state and number of steps; float
    rounding aside). ``subsets[r]`` are row indices (sorted as ``np.flatnonzero`` of a keep row gives them, for
    the same order as a single training on ``x[subsets[r]]``). Progress counts the ensemble's steps:
    ``progress(stage, steps_done, steps_total, {"epoch", "loss", "acc", "lr"})`` with the members' mean loss
    and accuracy. Returns one :class:`TrainHistory` per member; each member's ``seconds`` is its share (the
    wall time / K).
    """
    k = len(models)
    if not (k == len(subsets) == len(seeds)) or k == 0:
        raise ValueError(f"{k} models, {len(subsets)} subsets and {len(seeds)} seeds: give one of each per member")
    device = device or default_device()
    x, y = x.to(device), y.to(device)
    subs = [torch.as_tensor(s, dtype=torch.long).to(device) for s in subsets]
    if any(len(s) == 0 for s in subs):
        raise ValueError("every ensemble member needs at least one training row")
    sizes = torch.tensor([len(s) for s in subs], device=device, dtype=torch.float64)
    gens = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
    for m in models:
        m.to(device)
    stacked = StackedModels(models).to(device)
    opt, sched = make_sgd(stacked.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                          lr_step=cfg.lr_step, lr_gamma=cfg.lr_gamma, cls=partial(MaskedSGD, fused=True))
    steps = max(math.ceil(len(s) / cfg.batch_size) for s in subs)
    total = cfg.epochs * steps
    histories = [TrainHistory() for _ in range(k)]
    t0 = time.perf_counter()
    with cpu_threads_for(models[0], device):
        for epoch in range(cfg.epochs):
            state = _StepState(k, device)

            def loss_fn(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor, state: _StepState = state):
                out = model(xb)  # (K, B, C)
                ce = F.cross_entropy(out.flatten(0, 1), yb.flatten(), reduction="none").view(yb.shape)
                w = state.weights
                n = w.sum(1)
                per = torch.where(w, ce, torch.zeros((), device=ce.device, dtype=ce.dtype)).sum(1) / n.clamp(min=1)
                state.loss_sum += (per.detach() * n).double()
                state.correct += ((out.detach().argmax(-1) == yb) & w).sum(1)
                return per.sum()

            lr = opt.param_groups[0]["lr"]
            sgd_epoch(stacked, opt, _ensemble_batches(x, y, subs, cfg.batch_size, gens, opt, state,
                                                      augment=cfg.augment, cancel=cancel),
                      loss_fn, f"{stage} epoch {epoch + 1}")
            losses = (state.loss_sum / sizes).tolist()
            accs = (state.correct.double() / sizes).tolist()
            for r in range(k):
                histories[r].epochs.append({"epoch": epoch + 1, "loss": losses[r], "acc": accs[r], "lr": lr})
            sched.step()
            if progress:
                progress(stage, (epoch + 1) * steps, total, {"epoch": epoch + 1, "loss": sum(losses) / k,
                                                              "acc": sum(accs) / k, "lr": lr})
    seconds = time.perf_counter() - t0
    for r, m in enumerate(models):
        m.load_state_dict(stacked.member_state(r))
        histories[r].seconds = seconds / k
    return histories


__all__ = ["ENSEMBLE_GROUP", "ENSEMBLE_MAX_PARAMS", "MaskedSGD", "StackedModels", "choose_training",
           "supports_ensemble", "train_ensemble"]

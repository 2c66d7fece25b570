"""SG-Unlearn (Di, Yu, Vorobeychik, Liu; ICLR 2025): unlearning as a Stackelberg game against an auditor.

The unlearner (leader) fine-tunes on D_R and, once per round, takes one gradient step that lowers the
success of a membership-inference auditor (follower) that separates forget samples (label 1) from
validation samples (label 0) by the model's outputs; the gradient runs through the auditor's optimum
(implicit function theorem) — research/sgunlearn.md §1.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import Diverged, UnlearnError
from ..training import CancelToken, accuracy, check_cancel, check_finite, make_sgd, predict, sgd_epoch
from .auditors import Auditor, AuditorError, LogRegAuditor, SVMAuditor, fit_many
from .base import SGDConfig, UnlearnContext, Unlearner, hp


class GameLog(dict):
    """Per-round arrays of the game (``ctx.extras["game"]``): a dict of numpy arrays, stored as arrays."""

    def to_arrays(self) -> dict[str, np.ndarray]:
        return dict(self)


def auditor_features(model: nn.Module, x: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    """The auditor's per-sample features, with grad: [logits ‖ CE loss] (C+1 dims) or the CE loss alone.

    As the code's ``_generate_scores`` (``--dim`` C → logits ⊕ loss; ``--dim`` 1 → loss); raw logits, no softmax.
    """
    logits = model(x)
    loss = F.cross_entropy(logits, y, reduction="none")[:, None]
    return loss if kind == "loss" else torch.cat([logits, loss], 1)


@dataclass
class SGUnlearn(SGDConfig, Unlearner):
    """SG-Unlearn: fine-tune on D_R, then one auditor step per round (= epoch), as the code's ``DefenderOPT``.

    Each round (research/sgunlearn.md §1.3):

    1. **FT**: one pass over D_R, mean CE, SGD (lr ``lr``, momentum 0.9, wd 5e-4, batch 128).
    2. **Auditor step**: lr ← ``attacker_lr``, gradients zeroed. The forget set and the validation split
       (``data.x_val``, carved from the test split) are shuffled and zipped in batches of ``auditor_batch``;
       per batch pair, in **train mode** (BatchNorm uses batch statistics and updates its running stats with
       the forget/val images, as the code), features [logits ‖ CE] are computed with grad, both sides are cut
       to ns = min(sizes) (labels forget = 1, val = 0), shuffled, classes with fewer than 2 samples dropped,
       and split by ``StratifiedShuffleSplit(n_splits=cv, test_size=heldout, random_state=seed)`` stratified on
       the *class* label. In each fold a separate auditor is fit per class (Shokri-style) on that class's
       training-fold samples and scored on its held-out samples. M = Σ_{folds, classes} utility / (2·ns), and
       u = M·α·(B/N) (B = ns, N = min(|D_F|, |val|)) is back-propagated, accumulating over batches. Then
       **one** ``optimizer.step()`` on the same optimiser (its momentum buffer and weight decay included).
       Minimising M makes the auditor's held-out loss larger.
    3. lr ← ``lr`` again (the code's cosine schedule is overwritten each epoch → a constant lr).

    Deviations from the code (``marsplus/SG-Unlearn`` ``src/models.py``), all documented here:

    * Auditor: ``"svm"`` is the paper's/code's hinge SVM (cvxpylayers; Clarabel by default instead of the
      code's SCS, selectable); ``"logreg"`` (default here, for speed on a CPU) is an L2-regularised logistic
      regression with −Σ held-out BCE as utility — not the paper's auditor. ``"none"`` is the code's
      ``--with_attacker 0`` (plain FT at a constant lr).
    * (class, fold) groups whose training fold holds a single membership label are skipped (the code fits the
      unregularised SVM anyway; its optimum is then an unbounded set and its gradient arbitrary); their
      count is logged as ``skipped``. A batch whose stratified split is impossible (fewer held-out samples than
      classes) is skipped and counted the same way (the code would raise).
    * Logged auditor accuracy = pooled held-out accuracy (Σ correct / Σ held-out over classes, folds and
      batches). The code prints Σ correct / (2·ns), which is cv·heldout = 0.9 times that.
    * The code's data loaders reshuffle with the global RNG; here the auditor has its own generator (seeded
      from the run seed) so the FT pass sees exactly the batches plain FT would see.
    * The FT pass runs in train mode every round. In the code, the per-epoch evaluation leaves the net in
      eval mode, so its FT passes from epoch 2 on run with frozen BN statistics (only matters with BN).
    * ``lr_step``/``lr_gamma`` (from SGDConfig) decay the FT lr; the default γ = 1 is the code's effective
      constant lr. The auditor step always uses ``attacker_lr``.
    * If no auditor contributed a gradient (α = 0, or every group skipped), parameters get a zero gradient
      and the step still runs, as in the code at α = 0: it applies only momentum and weight decay. So α = 0
      equals FT exactly only without momentum and weight decay (tested); ``auditor="none"`` always equals FT.
    * The code evaluates (and saves) at epochs 5, 10, …, 30; here forget/val accuracy (eval mode) is recorded
      in the history every ``checkpoint_every`` rounds and at the last round; full metrics are computed
      elsewhere. No checkpoint weights are kept (the code's epoch selection by val acc − MIA is not done).
    * Cancellation is checked per FT batch and per auditor batch; the code has none.

    Logged per round (history and ``ctx.extras["game"]``): ``auditor_acc`` and ``utility`` are measured at
    the round's auditor step, i.e. after the FT pass and before the adversarial update; ``ft_loss`` is the
    mean FT loss; ``seconds``/``auditor_seconds`` the round's and its auditor step's wall time.

    Small data (measured on the digits preset: |D_F| = 60, |val| = 450 → per class and fold ~8 training
    samples with 11 features): the per-class folds are linearly separable, so the code's λ = 0 hinge SVM has
    an unbounded, non-unique optimum and a huge derivative (round-1 gradient norm 36 with Clarabel, 461 with
    SCS, against 1.2 for the logreg auditor). With ``auditor="svm"`` at the code's defaults the digits MLP
    collapses (val accuracy 0.93 → 0.21 in 30 rounds); ``svm_reg=0.01`` keeps it stable (0.88). The
    logreg auditor (regularised, unique optimum) is stable at α = 1 (val 0.93 → 0.91) and lowers the auditor's
    accuracy relative to plain FT (tests/test_sg_unlearn.py, bench/results/sg.md).
    """

    key = "sg_unlearn"
    label = "SG-Unlearn"
    paper = "Di, Yu, Vorobeychik, Liu, Adversarial Machine Unlearning (ICLR 2025, arXiv 2406.07687)"
    needs_remain = True

    epochs: int = hp(30, "game rounds = epochs, each one FT pass + one auditor step (code num_epoch 30)", min=1,
                     max=500)
    lr: float = hp(0.01, "FT (defender) learning rate (code defender_lr 0.01)", min=0.0, max=10.0)
    batch_size: int = hp(128, "FT samples per step (code 128)", min=1, max=4096)
    momentum: float = hp(0.9, "SGD momentum, shared by FT and the auditor step (code 0.9)", min=0.0, max=0.999)
    weight_decay: float = hp(5e-4, "L2 weight decay, shared by FT and the auditor step (code 5e-4)", min=0.0, max=0.1)
    lr_step: int = hp(10, "StepLR step of the FT lr in rounds (inactive at lr_gamma 1)", min=1, max=500)
    lr_gamma: float = hp(1.0, "StepLR factor of the FT lr: 1 = constant, the code's effective schedule", min=0.0,
                         max=1.0)
    attacker_lr: float = hp(0.01, "lr of the one auditor step per round (code attacker_lr 0.01)", min=0.0, max=10.0)
    alpha: float = hp(1.0, "auditor weight α (code attacker_strength 1; paper sweep 0.05-5; 0 = FT)", min=0.0,
                      max=100.0)
    auditor: str = hp("logreg", "follower: 'svm' = the paper's hinge SVM (cvxpylayers, slow); 'logreg' = "
                      "implicit logistic regression (fast, not the paper's); 'none' = code --with_attacker 0",
                      choices=("logreg", "svm", "none"))
    features: str = hp("logits+loss", "auditor features: logits ⊕ CE loss (code --dim C, the scripts) or loss "
                       "only (--dim 1)", choices=("logits+loss", "loss"))
    cv: int = hp(3, "StratifiedShuffleSplit folds per batch (code cv 3)", min=1, max=20)
    heldout: float = hp(0.3, "held-out fraction of each fold (code test_size 0.3)", min=0.05, max=0.95)
    auditor_batch: int = hp(1000, "forget/val samples per auditor batch (code |test|/mem_save = 1000 on CIFAR; "
                            "larger than the sets = one batch of min(|D_F|, |val|) pairs)", min=2, max=100000)
    logreg_c: float = hp(1.0, "logreg auditor inverse L2 strength C (sklearn default 1; not in the paper)",
                         min=1e-6, max=1e6)
    svm_solver: str = hp("Clarabel", "svm auditor solver: Clarabel (faster) or SCS (the code's)",
                         choices=("Clarabel", "SCS"))
    svm_reg: float = hp(0.0, "svm auditor L1 weight λ (code attacker_reg 0)", min=0.0, max=10.0)
    checkpoint_every: int = hp(5, "record forget/val accuracy every k rounds (code: epochs 5, 10, …, 30)",
                               min=1, max=500)

    def make_auditor(self) -> Auditor | None:
        if self.auditor == "logreg":
            return LogRegAuditor(C=self.logreg_c)
        if self.auditor == "svm":
            return SVMAuditor(reg=self.svm_reg, solver=self.svm_solver)
        return None

    def _run(self, model: nn.Module, ctx: UnlearnContext) -> list[dict]:
        data = ctx.data
        if len(data.x_val) == 0:
            raise UnlearnError(f"{self.label} needs the validation split (data.x_val) for its auditor; it is empty")
        x_val, y_val = data.x_val.to(ctx.device), data.y_val.to(ctx.device)
        auditor = self.make_auditor()
        # the lr is set by hand each round (FT lr, then attacker_lr for the auditor step): no scheduler steps
        opt, _ = make_sgd(model.parameters(), lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay,
                          lr_step=self.lr_step, lr_gamma=1.0)
        # The auditor's shuffles draw from their own generator so that FT's batch order is plain FT's.
        aud_gen = torch.Generator(device=ctx.device).manual_seed(ctx.seed + 7919)
        history: list[dict] = []
        game: dict[str, list[float]] = {k: [] for k in
                                        ("round", "auditor_acc", "utility", "ft_loss", "seconds", "auditor_seconds")}
        for rnd in range(1, self.epochs + 1):
            t0 = time.perf_counter()
            lr = self.lr * self.lr_gamma ** ((rnd - 1) // self.lr_step)
            for group in opt.param_groups:
                group["lr"] = lr
            ft_loss = sgd_epoch(model, opt, ctx.batches(ctx.x_remain, ctx.y_remain, self.batch_size),
                                where=f"{self.label} round {rnd}")
            t1 = time.perf_counter()
            rec = {"epoch": rnd, "loss": ft_loss, "lr": lr}
            if auditor is not None:
                for group in opt.param_groups:
                    group["lr"] = self.attacker_lr
                opt.zero_grad(set_to_none=True)
                rec.update(auditor_pass(model, auditor, ctx.x_forget, ctx.y_forget, x_val, y_val, aud_gen,
                                        weight=self.alpha, features=self.features, cv=self.cv,
                                        heldout=self.heldout, batch=self.auditor_batch, seed=ctx.seed,
                                        cancel=ctx.cancel))
                for p in model.parameters():  # a zero gradient still steps momentum and wd (the code at α = 0)
                    if p.requires_grad and p.grad is None:
                        p.grad = torch.zeros_like(p)
                opt.step()  # the one adversarial step of the round
                for group in opt.param_groups:
                    group["lr"] = lr
            t2 = time.perf_counter()
            rec["seconds"], rec["auditor_seconds"] = t2 - t0, t2 - t1
            if rnd % self.checkpoint_every == 0 or rnd == self.epochs:
                rec["forget_acc"] = accuracy(predict(model, ctx.x_forget), ctx.y_forget.cpu())
                rec["val_acc"] = accuracy(predict(model, x_val), y_val.cpu())
            history.append(rec)
            for k, v in (("round", rnd), ("auditor_acc", rec.get("auditor_acc", float("nan"))),
                         ("utility", rec.get("utility", float("nan"))), ("ft_loss", ft_loss),
                         ("seconds", rec["seconds"]), ("auditor_seconds", rec["auditor_seconds"])):
                game[k].append(v)
            ctx.report(self.key, rnd, self.epochs, rec)
        ctx.extras["game"] = GameLog({k: np.asarray(v, dtype=np.int64 if k == "round" else np.float64)
                                      for k, v in game.items()})
        return history



def auditor_pass(model: nn.Module, auditor: Auditor, x_forget: torch.Tensor, y_forget: torch.Tensor,
                 x_val: torch.Tensor, y_val: torch.Tensor, gen: torch.Generator, *, weight: float,
                 features: str = "logits+loss", cv: int = 3, heldout: float = 0.3, batch: int = 1000, seed: int = 0,
                 cancel: CancelToken | None = None) -> dict:
    """One pass of the auditor over zipped forget/val batches (the code's loop in ``DefenderOPT.unlearn``).

    Per batch pair: features in train mode, balanced to ns, shuffled, classes with < 2 samples dropped,
    ``StratifiedShuffleSplit(cv, heldout, random_state=seed)`` on the class label, one auditor per (fold,
    class). M = Σ utility / (2·ns); ``weight`` · M · (ns/N) is back-propagated into the model's ``.grad``
    (accumulating; nothing when ``weight`` = 0). No optimiser step. Returns the pooled held-out accuracy
    (``auditor_acc``), Σ M·(ns/N) (``utility``), the number of auditors fit and of groups skipped.

    With ``weight`` = 0 it is a measurement: the same auditors on the same kind of batches, no gradient.
    """
    from sklearn.model_selection import StratifiedShuffleSplit

    model.train()  # the code's _generate_scores(mode='train'): BN batch statistics
    n_f, n_v = len(x_forget), len(x_val)
    n_total = min(n_f, n_v)
    perm_f = torch.randperm(n_f, generator=gen, device=gen.device).to(x_forget.device)
    perm_v = torch.randperm(n_v, generator=gen, device=gen.device).to(x_val.device)
    pairs = min(math.ceil(n_f / batch), math.ceil(n_v / batch))
    splitter = StratifiedShuffleSplit(n_splits=cv, test_size=heldout, random_state=seed)
    want_grad = weight != 0
    utility_sum, correct, n_heldout, fitted, skipped = 0.0, 0, 0, 0, 0
    for k in range(pairs):
        check_cancel(cancel)
        fi, vi = perm_f[k * batch:(k + 1) * batch], perm_v[k * batch:(k + 1) * batch]
        ns = min(len(fi), len(vi))
        with torch.set_grad_enabled(want_grad):
            # Features of the whole batches (BN batch statistics as the code), then cut to ns each.
            feat = torch.cat([auditor_features(model, x_forget[fi], y_forget[fi], features)[:ns],
                              auditor_features(model, x_val[vi], y_val[vi], features)[:ns]])
        member = np.r_[np.ones(ns), np.zeros(ns)]
        cls = torch.cat([y_forget[fi][:ns], y_val[vi][:ns]]).cpu().numpy()
        order = torch.randperm(2 * ns, generator=gen, device=gen.device).cpu().numpy()
        counts = np.bincount(cls)
        order = order[counts[cls[order]] >= 2]  # classes with fewer than 2 samples cannot be stratified
        cls_o, mem_o = cls[order], member[order]
        try:
            folds = list(splitter.split(np.zeros((len(order), 1)), cls_o))
        except ValueError:  # too few samples for a stratified held-out fold of every class
            skipped += 1
            continue
        order_t = torch.as_tensor(order, device=feat.device)
        x_all = feat[order_t]
        m_all = torch.as_tensor(mem_o, dtype=torch.float64, device=feat.device)
        problems = []
        for tr, te in folds:
            for c in np.unique(cls_o[tr]):
                tr_c, te_c = tr[cls_o[tr] == c], te[cls_o[te] == c]
                if len(np.unique(mem_o[tr_c])) < 2:  # one membership label: no auditor to fit
                    skipped += 1
                    continue
                tr_t, te_t = torch.as_tensor(tr_c, device=feat.device), torch.as_tensor(te_c, device=feat.device)
                problems.append((x_all[tr_t], m_all[tr_t], x_all[te_t], m_all[te_t]))
        try:
            with torch.set_grad_enabled(want_grad):
                outs = fit_many(auditor, problems)
        except AuditorError as exc:
            raise Diverged(f"SG-Unlearn: {exc} — the features degenerated; lower attacker_lr or alpha, or set "
                           "svm_reg > 0") from exc
        if not outs:
            continue
        fitted += len(outs)
        correct += sum(o.correct for o in outs)
        n_heldout += sum(o.n_heldout for o in outs)
        m = torch.stack([o.utility for o in outs]).sum() / (2 * ns)  # the code divides by the batch's count
        check_finite(m.detach(), "SG-Unlearn auditor")
        utility_sum += float(m.detach()) * ns / n_total
        if want_grad and m.requires_grad:
            (m * weight * (ns / n_total)).backward()
    return {"auditor_acc": correct / n_heldout if n_heldout else float("nan"), "utility": utility_sum,
            "auditors": fitted, "skipped": skipped}

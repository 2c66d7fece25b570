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

    Small data (bench/results/sg.md sections 1–4, the digits preset: |D_F| = 120, |val| = 450 → per class and fold
    14–19 training samples with 11 features): the per-class folds are linearly separable, so the code's λ = 0 hinge
    SVM has an unbounded, non-unique optimum and a huge derivative (round-1 gradient norm 36 with Clarabel, 461
    with SCS, against 1.2 for the logreg auditor, measured on the earlier |D_F| = 60 preset). With
    ``auditor="svm"`` at the code's defaults the digits MLP diverges (a NaN loss at round 14 of 30; on the earlier
    preset it collapsed to val accuracy 0.21); ``svm_reg=0.01`` keeps it stable (val 0.93 → 0.90). The logreg
    auditor (regularised, unique optimum) is stable at α = 1 (val 0.93 → 0.92) and lowers the auditor's
    accuracy relative to plain FT (tests/test_sg_unlearn.py, bench/results/sg.md).

    Does the auditor see anything? (Issue 19; bench/results/sg.md §5.) Not in the paper: before the game,
    :func:`auditor_probe` measures the auditor's held-out accuracy on the original model with a 95 % interval
    (``probe_passes``, stored in the extras), and :func:`auditor_blind` / :func:`blind_note` give the sentence every
    view shows where it is not above chance — then the game is fine-tuning plus a gradient of noise. On the digits
    preset (|D_F| = 120) the code's per-class auditor and the pooled one (``per_class=False``) are both at chance on
    the original (≈ 0.48–0.53 ± 0.06): its members and test samples have nearly the same losses and logits (test
    accuracy 93 %), and RMIA's signal (FT AUC 71) comes from calibrating each sample against reference models,
    which this auditor does not have. On Fashion-MNIST (|D_F| = 250, test accuracy 83 %) the pooled auditor sees the
    membership (≈ 0.57–0.60 ± 0.04), the per-class one mostly not (≈ 35 training samples per auditor): the tuning
    grid therefore uses ``per_class=False`` — a deviation from the code's Shokri-style per-class attackers, which
    were sized for CIFAR's ~140 samples per class and fold.
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
    per_class: bool = hp(True, "one auditor per class and fold (the code's Shokri-style default, classwise=0); off: "
                         "one auditor per fold over all classes (more training samples per auditor)")
    probe_passes: int = hp(5, "auditor passes on the original model before the game (no gradient) that measure the "
                           "auditor's strength (not in the paper; 0 = no probe)", min=0, max=100)
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
        if auditor is not None and self.probe_passes > 0:  # the auditor's strength on the model before the game
            ctx.extras.update(auditor_probe(model, auditor, ctx.x_forget, ctx.y_forget, x_val, y_val,
                                            features=self.features, cv=self.cv, heldout=self.heldout,
                                            batch=self.auditor_batch, per_class=self.per_class, seed=ctx.seed,
                                            passes=self.probe_passes, cancel=ctx.cancel))
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
                                        per_class=self.per_class, cancel=ctx.cancel))
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
                 per_class: bool = True, cancel: CancelToken | None = None) -> dict:
    """One pass of the auditor over zipped forget/val batches (the code's loop in ``DefenderOPT.unlearn``).

    Per batch pair: features in train mode, balanced to ns, shuffled, classes with < 2 samples dropped,
    ``StratifiedShuffleSplit(cv, heldout, random_state=seed)`` on the class label, one auditor per (fold,
    class). M = Σ utility / (2·ns); ``weight`` · M · (ns/N) is back-propagated into the model's ``.grad``
    (accumulating; nothing when ``weight`` = 0). No optimiser step. Returns the pooled held-out accuracy
    (``auditor_acc``, and its ``correct`` / ``n_heldout`` counts), Σ M·(ns/N) (``utility``), the number of
    auditors fit and of groups skipped, and ``n_samples`` (the distinct forget + val samples used, 2·ns summed).
    ``per_class`` False: one auditor per fold over every class (the split is still stratified on the class).

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
    utility_sum, correct, n_heldout, fitted, skipped, n_samples = 0.0, 0, 0, 0, 0, 0
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
        n_samples += len(order)
        order_t = torch.as_tensor(order, device=feat.device)
        x_all = feat[order_t]
        m_all = torch.as_tensor(mem_o, dtype=torch.float64, device=feat.device)
        problems = []
        for tr, te in folds:
            for c in np.unique(cls_o[tr]) if per_class else [None]:
                tr_c, te_c = (tr[cls_o[tr] == c], te[cls_o[te] == c]) if per_class else (tr, te)
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
            "auditors": fitted, "skipped": skipped, "correct": correct, "n_heldout": n_heldout,
            "n_samples": n_samples}


#: the auditor's accuracy by chance (balanced forget / val pairs)
CHANCE = 0.5


def auditor_probe(model: nn.Module, auditor: Auditor, x_forget: torch.Tensor, y_forget: torch.Tensor,
                  x_val: torch.Tensor, y_val: torch.Tensor, *, features: str = "logits+loss", cv: int = 3,
                  heldout: float = 0.3, batch: int = 1000, per_class: bool = True, seed: int = 0, passes: int = 5,
                  cancel: CancelToken | None = None) -> dict[str, float]:
    """The auditor's strength on ``model`` before the game: its pooled held-out accuracy over ``passes`` fresh
    shuffles of :func:`auditor_pass` (no gradient), with a 95 % interval.

    Not in the paper or its code (they log the auditor's accuracy during the game only): a game against an
    auditor that finds no membership signal in the original model is fine-tuning plus a gradient of noise, and the
    user should be told (:func:`auditor_blind`). Runs on a copy of ``model`` (``auditor_pass`` uses train mode, which
    would move BatchNorm's running statistics) with its own generator, so the game itself is unchanged.

    Interval: a binomial 95 % half-width on the distinct samples that were scored (2·ns per pass's batches, the
    same samples in every pass — the passes re-split them, they add no new samples), 1.96·√(p(1 − p)/n). It
    counts the sampling noise of the forget / val samples; the spread of the auditor's fits over shuffles is
    smaller on the presets (it is averaged over the passes).

    Returns the ``extras`` scalars ``auditor_probe_acc``, ``auditor_probe_halfwidth``, ``auditor_probe_n`` (distinct
    samples), ``auditor_probe_passes`` and ``auditor_chance``.
    """
    import copy

    net = copy.deepcopy(model)
    gen = torch.Generator(device=x_forget.device).manual_seed(seed + 104729)
    correct, n_heldout, n_samples = 0, 0, 0
    for _ in range(passes):
        out = auditor_pass(net, auditor, x_forget, y_forget, x_val, y_val, gen, weight=0.0, features=features,
                           cv=cv, heldout=heldout, batch=batch, seed=seed, per_class=per_class, cancel=cancel)
        correct, n_heldout, n_samples = correct + out["correct"], n_heldout + out["n_heldout"], out["n_samples"]
    acc = correct / n_heldout if n_heldout else float("nan")
    half = 1.959963984540054 * math.sqrt(acc * (1 - acc) / n_samples) if n_samples and n_heldout else float("nan")
    return {"auditor_probe_acc": float(acc), "auditor_probe_halfwidth": float(half),
            "auditor_probe_n": int(n_samples), "auditor_probe_passes": int(passes), "auditor_chance": CHANCE}


#: what the dashboard says where SG-Unlearn's auditor found nothing to play against
BLIND = ("the auditor finds no membership signal here (its held-out accuracy on the original model, {acc:.3f} ± "
         "{half:.3f}, is not above chance, 0.5, beyond its 95 % interval): SG-Unlearn reduces to fine-tuning, and its "
         "result is not evidence of a game won")


def auditor_blind(extras: dict | None) -> str | None:
    """A sentence for every view that shows an SG-Unlearn result whose auditor was blind — its probe accuracy on
    the original model (:func:`auditor_probe`, stored in the unlearned model's manifest ``extras``) not above
    chance beyond its 95 % interval — or None when the auditor saw a signal or no probe was stored (another
    method, an older run, ``probe_passes`` = 0, ``auditor`` = "none")."""
    if not extras or "auditor_probe_acc" not in extras:
        return None
    acc, half = float(extras["auditor_probe_acc"]), float(extras.get("auditor_probe_halfwidth", float("nan")))
    if not math.isfinite(acc):
        return None
    if math.isfinite(half) and acc - half > float(extras.get("auditor_chance", CHANCE)):
        return None
    return BLIND.format(acc=acc, half=half if math.isfinite(half) else float("nan"))


def blind_note(models: dict) -> str | None:
    """One sentence for a table of results with SG-Unlearn rows whose auditor was blind on some seed: ``models``
    maps (method, seed) to a trained model whose ``artifact.manifest["extras"]`` holds the probe
    (:class:`engine.audit.compare.Comparison`'s ``models``). None when there is no SG-Unlearn row, no probe was
    stored, or the auditor saw a signal on every seed."""
    blind, probed = [], []
    for (method, seed), tm in sorted(models.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if method != SGUnlearn.key:
            continue
        extras = ((getattr(getattr(tm, "artifact", None), "manifest", None) or {}).get("extras") or {})
        if "auditor_probe_acc" not in extras:
            continue
        probed.append(seed)
        if auditor_blind(extras):
            blind.append((seed, float(extras["auditor_probe_acc"]), float(extras["auditor_probe_halfwidth"])))
    if not blind:
        return None
    accs = ", ".join(f"{a:.3f} ± {h:.3f} (seed {s})" for s, a, h in blind)
    which = "every seed" if len(blind) == len(probed) else f"{len(blind)} of {len(probed)} seeds"
    return (f"SG-Unlearn: on {which} the auditor finds no membership signal here — its held-out accuracy on the "
            f"original model before the game, {accs}, is not above chance (0.5) beyond its 95 % interval — so "
            "SG-Unlearn reduces to fine-tuning; its row is not evidence of a game won.")

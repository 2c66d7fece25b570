"""Differentiable membership-inference auditors for SG-Unlearn (the follower of the Stackelberg game).

An auditor is fit on one fold of an auditing set — feature vectors computed *from the model*, labelled
forget = 1 ("member") / held-out = 0 — and scored on another fold. Its score ``utility`` is a torch scalar
that carries gradients to **both** folds' features:

* to ``x_heldout`` directly (the term reviewer 1 of the ICLR paper says Eq. 4 omits; the code has it), and
* to ``x_train`` through the auditor's optimum θ_a(x_train), by the implicit function theorem.

Higher utility = a better auditor. The unlearner (leader) descends on it, i.e. it makes the auditor worse.

Two auditors share the :class:`Auditor` interface:

* :class:`SVMAuditor` (``"svm"``) — the paper's/code's attacker: the hinge-loss linear SVM
  min (1/n) Σ max(0, 1 − y_i(x_iᵀβ − b)) + λ‖β‖₁ with λ = ``attacker_reg`` = 0, solved and differentiated
  by a cvxpylayers ``CvxpyLayer`` (diffcp). Utility = −Σ_heldout hinge (the code's ``_attacker_likelihood_SVM``).
* :class:`LogRegAuditor` (``"logreg"``) — L2-regularised logistic regression fit by Newton's method in plain
  PyTorch and differentiated implicitly (research/env.md §3, research/sgunlearn.md §5.2): deterministic, no
  solver; 14x faster than the SVM on one digits round (bench/results/sg.md). Utility = −Σ_heldout logistic loss
  (BCE on the decision value), which is what the
  code's own earlier logistic attacker (``_attacker_likelihood_LR``, removed later) used.

References: Di, Yu, Vorobeychik, Liu, "Adversarial Machine Unlearning", ICLR 2025 (arXiv 2406.07687);
code github.com/marsplus/SG-Unlearn ``src/models.py`` (research/sgunlearn.md §1.3).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch.nn import functional as F


@dataclass
class AuditorOutput:
    """One auditor fit (on the training fold) and score (on the held-out fold).

    Attributes:
        utility: differentiable torch scalar (float64), higher = better auditor; gradients reach the
            training-fold features (through the optimum) and the held-out features (directly).
        accuracy: 0/1 accuracy on the held-out fold (``nan`` when it is empty); for logging only.
        correct: number of correctly classified held-out samples (for pooling over auditors).
        n_heldout: number of held-out samples.
        weights: the fitted (w, b), detached, decision value x·w + b (> 0 ⇒ "member"); for tests/inspection.
    """

    utility: torch.Tensor
    accuracy: float
    correct: int
    n_heldout: int
    weights: tuple[torch.Tensor, torch.Tensor]


class AuditorError(RuntimeError):
    """The auditor could not be fit (e.g. the conic solver failed on degenerate features)."""


Problem = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # x_train, y_train, x_heldout, y_heldout


class Auditor(Protocol):
    """Fit on (x_train, y_train), score on (x_heldout, y_heldout); labels in {0, 1} (forget = 1)."""

    name: str

    def fit_and_score(self, x_train: torch.Tensor, y_train: torch.Tensor, x_heldout: torch.Tensor,
                      y_heldout: torch.Tensor) -> AuditorOutput: ...


def _check(x_train: torch.Tensor, y_train: torch.Tensor, x_heldout: torch.Tensor, y_heldout: torch.Tensor) -> None:
    if x_train.ndim != 2 or x_heldout.ndim != 2 or x_train.shape[1] != x_heldout.shape[1]:
        raise ValueError(f"auditor: features must be (n, d) matrices, got {tuple(x_train.shape)} and "
                         f"{tuple(x_heldout.shape)}")
    if len(y_train) != len(x_train) or len(y_heldout) != len(x_heldout):
        raise ValueError("auditor: features and labels differ in length")
    labels = torch.unique(y_train)
    if len(labels) != 2:
        # Logistic regression has no finite optimum on one label and the unregularised hinge SVM's optimum
        # is then an unbounded set; SG-Unlearn skips such (class, fold) groups.
        raise ValueError("auditor: the training fold must hold both labels (0 and 1)")


def _score(z: torch.Tensor, y: torch.Tensor) -> tuple[int, float]:
    correct = int(((z >= 0) == (y > 0.5)).sum().item())
    return correct, (correct / len(y) if len(y) else float("nan"))


# --------------------------------------------------------------------------------------------- logistic
#: Added to the Hessian's diagonal (Newton steps and the adjoint solve) so that the systems stay solvable when
#: every sample saturates (σ(1−σ) underflows, e.g. on a diverged model's huge logits); it does not move the
#: optimum (the stopping test is on the exact gradient) and changes the adjoint by ~1e-12 relative.
_RIDGE = 1e-12


def _logreg_newton(xt: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, lam: torch.Tensor, max_iter: int,
                   tol: float) -> torch.Tensor:
    """Batched argmin_w (1/n_k) Σ_i m_ki [softplus(x̃_kiᵀw) − y_ki x̃_kiᵀw] + ½ Σ_j lam_kj w_j², one per problem k.

    Damped Newton with per-problem Armijo backtracking; padded rows (m_ki = 0) contribute nothing, so each
    problem's solution is exactly that of its unpadded data. Shapes: xt (K, n, p), y/mask (K, n), lam (K, p).
    """
    n = mask.sum(1)  # (K,)

    def objective(w: torch.Tensor) -> torch.Tensor:
        z = (xt @ w[:, :, None]).squeeze(-1)
        return ((F.softplus(z) - y * z) * mask).sum(1) / n + 0.5 * (lam * w * w).sum(1)

    k, p = lam.shape
    w = torch.zeros(k, p, dtype=xt.dtype, device=xt.device)
    f = objective(w)
    eye = torch.diag_embed(lam + _RIDGE)
    active = torch.ones(k, dtype=torch.bool, device=xt.device)
    for _ in range(max_iter):
        s = torch.sigmoid((xt @ w[:, :, None]).squeeze(-1))
        g = (xt.transpose(1, 2) @ ((s - y) * mask)[:, :, None]).squeeze(-1) / n[:, None] + lam * w
        r = s * (1 - s) * mask / n[:, None]
        h = (xt.transpose(1, 2) * r[:, None, :]) @ xt + eye
        step = torch.linalg.solve(h, g[:, :, None]).squeeze(-1)
        decrease = (g * step).sum(1)  # the squared Newton decrement gᵀH⁻¹g ≥ 0
        # Converged: tiny gradient, or a decrement below what float64 can resolve in the objective.
        active &= ~((g.abs().amax(1) < tol) | (decrease < 1e-20))
        if not bool(active.any()):
            break
        step = torch.where(active[:, None], step, torch.zeros_like(step))
        decrease = torch.where(active, decrease, torch.zeros_like(decrease))
        slack = 1e-14 * (1 + f.abs())  # rounding noise of f: a full step near the optimum must not be refused
        t = torch.ones(k, dtype=xt.dtype, device=xt.device)
        for _ in range(30):  # Armijo backtracking, per problem
            f_new = objective(w - t[:, None] * step)
            ok = f_new <= f - 1e-4 * t * decrease + slack
            if bool(ok.all()):
                break
            t = torch.where(ok, t, t / 2)
        active &= ok  # no acceptable step: float64 resolution reached, stop this problem
        t = torch.where(ok, t, torch.zeros_like(t))
        w = w - t[:, None] * step
        f = torch.where(ok, f_new, f)
    return w


class _LogRegFit(torch.autograd.Function):
    """w*(X) = argmin F(w; X) per problem; backward by the implicit function theorem on ∇_w F(w*, X) = 0.

    With g(w, X) = (1/n) X̃ᵀ(σ(X̃w) − y) + λPw and H = ∂g/∂w (the Hessian), dw*/dX = −H⁻¹ ∂g/∂X, so the
    vector–Jacobian product for an upstream ḡ is −(∂g/∂X)ᵀ v with H v = ḡ, row-wise
    −(1/n)[(σ_i − y_i) v_{1:d} + σ_i(1−σ_i)(x̃_iᵀv) w*_{1:d}] (research/sgunlearn.md §5.2). Batched over a
    leading problem axis; padded rows have mask 0 and get a zero gradient.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, lam: torch.Tensor, max_iter: int,
                tol: float) -> torch.Tensor:
        xt = torch.cat([x, torch.ones(*x.shape[:2], 1, dtype=x.dtype, device=x.device)], 2)
        w = _logreg_newton(xt, y, mask, lam, max_iter, tol)
        ctx.save_for_backward(xt, y, mask, lam, w)
        return w

    @staticmethod
    def backward(ctx: Any, grad_w: torch.Tensor) -> tuple:
        xt, y, mask, lam, w = ctx.saved_tensors
        d = xt.shape[2] - 1
        n = mask.sum(1)[:, None]
        s = torch.sigmoid((xt @ w[:, :, None]).squeeze(-1))
        r = s * (1 - s) * mask / n
        h = (xt.transpose(1, 2) * r[:, None, :]) @ xt + torch.diag_embed(lam + _RIDGE)
        v = torch.linalg.solve(h, grad_w[:, :, None]).squeeze(-1)  # (K, p)
        xv = (xt @ v[:, :, None]).squeeze(-1)  # (K, n)
        grad_x = -(((s - y) * mask / n)[:, :, None] * v[:, None, :d] + (r * xv)[:, :, None] * w[:, None, :d])
        return grad_x, None, None, None, None, None


def _pad(tensors: list[torch.Tensor], length: int) -> torch.Tensor:
    """Stack (n_k, ...) tensors into (K, length, ...) with zero padding (differentiable)."""
    return torch.stack([F.pad(t, (0, 0) * (t.ndim - 1) + (0, length - len(t))) for t in tensors])


@dataclass
class LogRegAuditor:
    """L2-regularised logistic regression, Newton-fit in float64, implicitly differentiated (fast default).

    Inner problem (sklearn's parametrisation, intercept not penalised):
    min_w C Σ_i logloss(y_i, x_iᵀw_{1:d} + b) + ½‖w_{1:d}‖², i.e. (1/n)Σ logloss + (λ/2)‖w_{1:d}‖², λ = 1/(C n).
    The regulariser makes the optimum unique even for the small, often separable per-class folds (the
    code's hinge SVM has λ = 0 and then a non-unique optimum).

    Utility = −Σ_heldout BCE(x·w + b, y) (summed, as the code's hinge; −Σ BCE is the utility of the code's
    earlier ``_attacker_likelihood_LR``). Deviation from the paper/code: this auditor is not the paper's
    SVM; its gradients are exact for its own problem and the Newton solve is deterministic.

    :meth:`fit_and_score_many` fits many independent problems (the per-class × per-fold auditors of one
    batch) as one batched Newton solve on zero-padded tensors; the result is that of separate fits.

    Args:
        C: inverse regularisation strength (sklearn's ``C``; default 1.0 = sklearn's default).
        max_iter: Newton iterations at most (it typically converges in 5-10).
        tol: stop when max |∇F| < tol (every problem).
    """

    C: float = 1.0
    max_iter: int = 50
    tol: float = 1e-10
    name: str = field(default="logreg", init=False)

    def fit_and_score(self, x_train: torch.Tensor, y_train: torch.Tensor, x_heldout: torch.Tensor,
                      y_heldout: torch.Tensor) -> AuditorOutput:
        return self.fit_and_score_many([(x_train, y_train, x_heldout, y_heldout)])[0]

    def fit_and_score_many(self, problems: list[Problem]) -> list[AuditorOutput]:
        if not problems:
            return []
        for prob in problems:
            _check(*prob)
        n_tr = [len(p[0]) for p in problems]
        n_te = [len(p[2]) for p in problems]
        nmax, mmax = max(n_tr), max(max(n_te), 1)
        x = _pad([p[0].double() for p in problems], nmax)
        y = _pad([p[1].double() for p in problems], nmax)
        mask = _pad([torch.ones(n, dtype=torch.float64, device=x.device) for n in n_tr], nmax)
        xh = _pad([p[2].double() for p in problems], mmax)
        yh = _pad([p[3].double() for p in problems], mmax)
        mh = _pad([torch.ones(n, dtype=torch.float64, device=x.device) for n in n_te], mmax)
        d = x.shape[2]
        lam = torch.zeros(len(problems), d + 1, dtype=torch.float64, device=x.device)
        lam[:, :d] = 1.0 / (self.C * torch.tensor(n_tr, dtype=torch.float64, device=x.device))[:, None]
        w = _LogRegFit.apply(x, y, mask, lam, self.max_iter, self.tol)
        z = (xh @ w[:, :d, None]).squeeze(-1) + w[:, d:]
        # −Σ BCE(z, y) per problem; F.binary_cross_entropy_with_logits was ~1000x slower in float64 on this CPU.
        utility = -((F.softplus(z) - yh * z) * mh).sum(1)
        zd, wd = z.detach(), w.detach()
        outs = []
        for k, m in enumerate(n_te):
            correct, acc = _score(zd[k, :m], yh[k, :m])
            outs.append(AuditorOutput(utility[k], acc, correct, m, (wd[k, :d], wd[k, d])))
        return outs


# -------------------------------------------------------------------------------------------------- SVM
@dataclass
class SVMAuditor:
    """The code's hinge-loss SVM attacker as a cvxpylayers layer (faithful, slow).

    min_{β,b} (1/n) Σ_i max(0, 1 − y_i(x_iᵀβ − b)) + λ‖β‖₁,  y_i ∈ {±1},  λ = ``reg`` (code: attacker_reg = 0).

    DPP form: the data enter as the parameter Z = diag(y)X (built in torch, so gradients reach X) and the
    parameter y (for the bias term): 1 − y_i(x_iᵀβ − b) = 1 − z_iᵀβ + y_i b. The λ‖β‖₁ term is kept even at
    λ = 0: in cvxpylayers 1.2.0 / cvxpy 1.9.3 the pure-LP objective fails at layer construction with
    "The solver DIFFCP cannot solve this problem" (research/sgunlearn.md §4). Layers are cached per (n, d)
    — deviation from the code, which rebuilds a layer (with the labels baked in as constants) for every
    class × fold × batch × epoch; the solution is the same problem.

    With λ = 0 and separable data (few samples per class, e.g. the per-class folds of small sets) the optimum
    is not unique, and the derivative depends on the point the solver returns (as in the code).

    Utility = −Σ_heldout max(0, 1 − y(xᵀβ − b)) (the code's ``_attacker_likelihood_SVM``). The layer's
    output is float64; the inputs are cast to float64 and gradients are cast back by autograd.

    Args:
        reg: λ of the L1 term (code ``attacker_reg`` default 0).
        solver: diffcp ``solve_method``: "Clarabel" (default here: faster, interior point, high accuracy)
            or "SCS" (the code's choice, first-order, default eps).
        solver_args: extra keyword arguments for the solver (e.g. SCS ``eps_abs``).
        max_cached_layers: layers kept per (n, d) shape (least recently used dropped).
    """

    reg: float = 0.0
    solver: str = "Clarabel"
    solver_args: dict | None = None
    max_cached_layers: int = 256
    name: str = field(default="svm", init=False)
    _layers: OrderedDict = field(default_factory=OrderedDict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.solver not in ("Clarabel", "SCS"):
            raise ValueError(f"SVMAuditor: solver must be 'Clarabel' or 'SCS', got {self.solver!r}")

    def _layer(self, n: int, d: int) -> Any:
        key = (n, d)
        if key in self._layers:
            self._layers.move_to_end(key)
            return self._layers[key]
        try:  # lazy: cvxpy/cvxpylayers cost ~1 s to import, and they are an optional extra
            import cvxpy as cp
            from cvxpylayers.torch import CvxpyLayer
        except ImportError:
            from ..errors import UnlearnError

            raise UnlearnError("the SVM auditor needs cvxpy and cvxpylayers: pip install -e '.[svm]' (or use "
                               "auditor=logreg, the default)") from None

        z, yv = cp.Parameter((n, d)), cp.Parameter(n)
        beta, b = cp.Variable(d), cp.Variable()
        hinge = cp.sum(cp.pos(1 - (z @ beta - cp.multiply(yv, b)))) / n
        prob = cp.Problem(cp.Minimize(hinge + self.reg * cp.norm(beta, 1)))
        assert prob.is_dpp()
        layer = CvxpyLayer(prob, parameters=[z, yv], variables=[beta, b])
        self._layers[key] = layer
        while len(self._layers) > self.max_cached_layers:
            self._layers.popitem(last=False)
        return layer

    def fit_and_score(self, x_train: torch.Tensor, y_train: torch.Tensor, x_heldout: torch.Tensor,
                      y_heldout: torch.Tensor) -> AuditorOutput:
        _check(x_train, y_train, x_heldout, y_heldout)
        x, xh = x_train.double(), x_heldout.double()
        ys, ysh = 2 * y_train.double() - 1, 2 * y_heldout.double() - 1
        n, d = x.shape
        args = {"solve_method": self.solver, **(self.solver_args or {})}
        try:
            beta, b = self._layer(n, d)(ys[:, None] * x, ys, solver_args=args)
        except Exception as exc:  # diffcp/cvxpy SolverError, or a failed derivative set-up
            raise AuditorError(f"the SVM auditor's solver ({self.solver}) failed: {exc}") from exc
        t = xh @ beta - b
        utility = -torch.clamp(1 - ysh * t, min=0).sum()
        correct, acc = _score(t.detach(), ysh)
        return AuditorOutput(utility, acc, correct, len(ysh), (beta.detach(), -b.detach()))


def fit_many(auditor: Auditor, problems: list[Problem]) -> list[AuditorOutput]:
    """Fit and score independent problems: batched when the auditor can (logreg), else one by one."""
    many = getattr(auditor, "fit_and_score_many", None)
    return many(problems) if many is not None else [auditor.fit_and_score(*p) for p in problems]




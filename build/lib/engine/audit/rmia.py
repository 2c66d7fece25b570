"""RMIA with reference models: the AMUN paper's main membership audit, "FT AUC" (AMUN §5.2, App. C).

Pipeline (AMUN ``rmia_evaluate.py`` / ``signals.py`` / ``evaluation/RMIA.py``, online RMIA of Zarifzadeh et
al., ICML 2024):

1. **Reference models** (trained by :meth:`engine.run.Runner.references`): K models of the target's
   architecture and training recipe, each trained on a random half of the *pool* P = train ∪ test. The keep
   matrix (:func:`keep_matrix`) puts every point IN for exactly K/2 models. Their logits on P make a
   :class:`ReferenceSet`; the same set serves every method, forget set and target seed.
2. **Signal** (:func:`taylor_soft_margin`): with T = 2, m = 0.6 and the Taylor polynomial of exp of order
   n = 4, t(u) = 1 + u + u²/2 + u³/6 (terms u^i/i! for i < n, as ``get_taylor`` in the RMIA code),

       s(x) = t(z_y/T − m) / [Σ_{j≠y} t(z_j/T) + t(z_y/T − m)],

   on the target's logits and on every reference model's logits alike.
3. **Likelihood ratio**: prior p(x) = mean of s over *all* K reference models (IN and OUT mixed,
   ``exclusive_flag=False``); LR_x = s_θ(x) / p(x).
4. **Score** (:func:`scores_from_lr`):
   Score(x) = |{z ∈ population, z ≠ x : LR_x / LR_z > γ}| / (|population| − 1), γ = 2, population = P.
   Computed by sorting γ·LR_z once and binary-searching every LR_x, O(N log N), instead of the reference
   code's O(N²) double loop (:func:`_score_naive`, kept for tests and the benchmark).
5. **FT AUC** (:func:`rmia`): draw n = min(|D_T|, |D_F|, |D_R|) points from D_F and from D_T, ROC-AUC with
   D_F = 1, D_T = 0, averaged over subsampling seeds 0, 1, 2. Stored ×1 (0..1); tables print ×100. The ideal
   is the retrained model's value, about 0.5. FR AUC (D_R = 1 vs D_F = 0) uses the same scores.

Comparison semantics (documented deviation, exact by construction): "LR_x / LR_z > γ" is evaluated
sign-aware as a product, LR_x > γ·LR_z for LR_z > 0, LR_x < γ·LR_z for LR_z < 0, and LR_x > 0 for
LR_z = 0 (x/0 = +∞); NaN never counts. The Taylor polynomial is odd-degree, so a signal (and a ratio) can
be negative for very negative logits; the reference code then divides as is, which this reproduces up to
the rounding of the division at the exact boundary. Both scoring paths use this one predicate, so they
agree bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from ..errors import UnlearnError
from .mia import AttackResult, from_scores

#: Default number of reference models. AMUN used 128 on CIFAR-10 (GPU). On the digits preset the FT AUC of
#: the original model stays at 0.661–0.674 for K = 4, 8, 16, 32 (bench/results/rmia_k.md), inside the
#: protocol's own subsampling noise (±0.03), while the cost grows linearly (about 3 s per reference model on
#: an idle 2-core CPU). 8 keeps the one-off reference set near half a minute with a less coarse prior than 4.
DEFAULT_K = 8
TEMPERATURE = 2.0  # AMUN / RMIA CIFAR-10 config: temperature 2
MARGIN = 0.6  # taylor_m
TAYLOR_ORDER = 4  # taylor_n: t(u) = Σ_{i<n} u^i / i!
GAMMA = 2.0  # RMIA's γ
AUC_SEEDS = (0, 1, 2)  # AMUN averages the subsampled AUC over these seeds


# ------------------------------------------------------------------------------------------ signal
def taylor(u: np.ndarray, order: int = TAYLOR_ORDER) -> np.ndarray:
    """Truncated Taylor series of exp: t(u) = Σ_{i=0}^{order−1} u^i / i! (order 4: 1 + u + u²/2 + u³/6).

    This is the RMIA code's ``get_taylor(u, n)``, whose loop stops at i = n − 1.
    """
    if order < 1:
        raise ValueError(f"Taylor order must be at least 1, got {order}")
    u = np.asarray(u, dtype=np.float64)
    out = np.ones_like(u)
    term = np.ones_like(u)
    for i in range(1, order):
        term = term * u / i
        out = out + term
    return out


def taylor_soft_margin(
    logits: np.ndarray,
    labels: np.ndarray,
    *,
    temperature: float = TEMPERATURE,
    margin: float = MARGIN,
    order: int = TAYLOR_ORDER,
) -> np.ndarray:
    """RMIA's "taylor-soft-margin" signal (AMUN App. C; RMIA ``TaylorSoftMargin``).

        s(x) = t(z_y/T − m) / [Σ_{j≠y} t(z_j/T) + t(z_y/T − m)]

    a softmax with exp replaced by its Taylor polynomial and a margin m taken off the true class.

    Args:
        logits: (..., N, C) logits; leading axes (e.g. one per reference model) are broadcast.
        labels: (N,) true classes.
        temperature: T.
        margin: m.
        order: Taylor order n (terms up to u^(n−1)).

    Returns:
        (..., N) float64 signal.
    """
    z = np.asarray(logits, dtype=np.float64) / temperature
    y = np.asarray(labels, dtype=np.int64)
    if z.shape[-2] != len(y):
        raise ValueError(f"{z.shape[-2]} logit rows for {len(y)} labels")
    t = taylor(z, order)
    zy = np.take_along_axis(z, np.broadcast_to(y[:, None], z.shape[:-1] + (1,)), axis=-1)[..., 0]
    ty_plain = np.take_along_axis(t, np.broadcast_to(y[:, None], t.shape[:-1] + (1,)), axis=-1)[..., 0]
    ty = taylor(zy - margin, order)
    return ty / (t.sum(-1) - ty_plain + ty)


def likelihood_ratio(target_signal: np.ndarray, reference_signals: np.ndarray) -> np.ndarray:
    """LR_x = s_θ(x) / p(x) with p(x) the mean signal over all reference models (IN and OUT mixed)."""
    prior = np.mean(np.asarray(reference_signals, dtype=np.float64), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(target_signal, dtype=np.float64) / prior


# ------------------------------------------------------------------------------------------ scores
def _dominates(x: np.ndarray, z: np.ndarray, gamma: float) -> np.ndarray:
    """The predicate "x / z > γ", sign-aware and division-free (see the module docstring)."""
    gz = gamma * z
    return np.where(z > 0, x > gz, np.where(z < 0, x < gz, (z == 0) & (x > 0)))


def _prepare(lr: np.ndarray, gamma: float, targets, population):
    if not gamma > 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    lr = np.asarray(lr, dtype=np.float64).ravel()
    targets = np.arange(len(lr)) if targets is None else np.asarray(targets, dtype=np.int64).ravel()
    population = np.arange(len(lr)) if population is None else np.asarray(population, dtype=np.int64).ravel()
    if len(np.unique(population)) != len(population):
        raise ValueError("the population holds duplicate indices")
    in_pop = np.zeros(len(lr), dtype=bool)
    in_pop[population] = True
    return lr, targets, population, in_pop[targets]


def scores_from_lr(
    lr: np.ndarray,
    gamma: float = GAMMA,
    targets: np.ndarray | None = None,
    population: np.ndarray | None = None,
) -> np.ndarray:
    """RMIA score of every target: the fraction of population points z ≠ x with LR_x / LR_z > γ.

    O((N + M) log N): the population's γ·LR_z are split by sign and sorted once; for each x,
    ``searchsorted`` counts the z with γ·LR_z < LR_x among positive LR_z and γ·LR_z > LR_x among negative
    ones, plus the zeros when LR_x > 0. The pair (x, x) is removed when x is in the population.

    Args:
        lr: likelihood ratios of all points (indexed by pool position).
        gamma: γ > 0.
        targets: indices of the points to score (default: all).
        population: indices of the reference population z (default: all; no duplicates).

    Returns:
        (len(targets),) scores in [0, 1].
    """
    lr, targets, population, self_in = _prepare(lr, gamma, targets, population)
    pop = lr[population]
    pos = np.sort(gamma * pop[pop > 0])
    neg = np.sort(gamma * pop[pop < 0])
    n_zero = int(np.count_nonzero(pop == 0))
    x = lr[targets]
    counts = (np.searchsorted(pos, x, side="left")
              + (len(neg) - np.searchsorted(neg, x, side="right"))
              + n_zero * (x > 0))
    counts = np.where(np.isnan(x), 0, counts)
    counts = counts - (self_in & _dominates(x, x, gamma))
    denom = len(population) - self_in.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, counts / np.maximum(denom, 1), 0.0)


def _score_naive(
    lr: np.ndarray,
    gamma: float = GAMMA,
    targets: np.ndarray | None = None,
    population: np.ndarray | None = None,
) -> np.ndarray:
    """The reference code's O(N²) scoring, one target at a time (tests and benchmark only)."""
    lr, targets, population, self_in = _prepare(lr, gamma, targets, population)
    pop_lr = lr[population]
    out = np.empty(len(targets))
    for i, t in enumerate(targets):
        hit = _dominates(lr[t], pop_lr, gamma) & (population != t)
        denom = len(population) - int(self_in[i])
        out[i] = hit.sum() / denom if denom > 0 else 0.0
    return out


# ------------------------------------------------------------------------------------------ reference set
def keep_matrix(n: int, k: int, seed: int = 0) -> np.ndarray:
    """(k, n) boolean IN/OUT matrix: each point is IN for exactly ⌊k/2⌋ models (pkeep = 0.5).

    Built as in LiRA/RMIA's ``get_data`` (``uniform(size=(k, n)).argsort(0) < pkeep·k``): a random
    permutation of the k model slots per point, IN for the first k/2. For even k every point is IN for
    exactly k/2 models; a model's training set has n/2 points on average (not exactly). For odd k a point
    is IN for (k − 1)/2 models.

    Args:
        n: pool size.
        k: number of reference models (≥ 2).
        seed: seed of ``numpy.random.default_rng``.
    """
    if k < 2:
        raise UnlearnError(f"RMIA needs at least 2 reference models, got {k}")
    rng = np.random.default_rng(seed)
    order = rng.random((k, n)).argsort(axis=0)
    return order < k // 2


@dataclass
class ReferenceSet:
    """K reference models' logits on the pool, with the keep matrix.

    Attributes:
        logits: (K, N_pool, C) float32 logits of every reference model on the pool (train rows, then test).
        keep: (K, N_pool) bool, True where the point was in that model's training set.
        labels: (N_pool,) true classes of the pool.
        n_train: pool rows 0..n_train−1 are the training split, the rest the test split.
        seed: the keep-matrix seed.
        keys: store keys of the K artifacts.
        seconds: total training time of the K models as stored (whenever they were trained).
        built: how many models this call trained (0 = all served from the store).
    """

    logits: np.ndarray
    keep: np.ndarray
    labels: np.ndarray
    n_train: int
    seed: int
    keys: tuple[str, ...]
    seconds: float
    built: int

    @property
    def k(self) -> int:
        return int(self.logits.shape[0])

    @property
    def n_pool(self) -> int:
        return int(self.logits.shape[1])

    def signals(self, **kw) -> np.ndarray:
        """(K, N_pool) taylor-soft-margin signals of every reference model."""
        return taylor_soft_margin(self.logits, self.labels, **kw)


# ------------------------------------------------------------------------------------------ the audit
@dataclass
class RmiaResult(AttackResult):
    """RMIA audit of one model: :class:`AttackResult` fields plus the AMUN protocol's details.

    ``auc`` is the paper's FT AUC (subsampled, averaged over :data:`AUC_SEEDS`), ×1. ``fpr``/``tpr`` and the
    TPR at low FPR come from all forget vs all test scores; ``member_scores`` are every forget sample's score
    (input order), ``nonmember_scores`` every test sample's.

    Attributes (beyond AttackResult):
        auc_runs: the FT AUC of each subsampling seed.
        auc_all: ROC-AUC of all forget vs all test scores (no subsampling).
        fr_auc: FR AUC, remain = 1 vs forget = 0, same subsampling (None without remain).
        remain_scores: scores of the remain samples (None without remain).
        n_subsample: n = min(|D_T|, |D_F|, |D_R|) drawn per side.
        k: number of reference models.
        gamma: γ.
    """

    auc_runs: tuple[float, ...] = ()
    auc_all: float = float("nan")
    fr_auc: float | None = None
    remain_scores: np.ndarray | None = None
    n_subsample: int = 0
    k: int = 0
    gamma: float = GAMMA


def rmia(
    target_logits: np.ndarray,
    ref: ReferenceSet,
    forget: np.ndarray,
    test: np.ndarray | None = None,
    remain: np.ndarray | None = None,
    *,
    gamma: float = GAMMA,
    temperature: float = TEMPERATURE,
    margin: float = MARGIN,
    order: int = TAYLOR_ORDER,
    seeds: tuple[int, ...] = AUC_SEEDS,
    population: np.ndarray | None = None,
) -> RmiaResult:
    """RMIA FT AUC of one model against a reference set (AMUN §5.2; RMIA, Zarifzadeh et al. 2024).

    s = taylor_soft_margin(z), LR_x = s_θ(x) / mean_k s_k(x), Score(x) = Pr_z[LR_x / LR_z > γ] over the
    population (default: the whole pool), then

        FT AUC = (1/|S|) Σ_{s∈S} AUC(Score(D_F^s) as 1, Score(D_T^s) as 0),

    with D_F^s, D_T^s random n-subsets, n = min(|D_T|, |D_F|, |D_R|) (|D_R| only when ``remain`` is given).

    Args:
        target_logits: (N_pool, C) logits of the audited model on the pool
            (:meth:`engine.signals.Signals.pool_logits`).
        ref: the reference set (same pool).
        forget: forget indices into the training split.
        test: indices into the test split (default: all of it).
        remain: remain indices into the training split (optional: enables FR AUC and caps n).
        gamma: γ.
        temperature: T of the signal.
        margin: m of the signal.
        order: Taylor order of the signal.
        seeds: subsampling seeds averaged for the AUC.
        population: pool indices of the z population (default: all of the pool).

    Returns:
        :class:`RmiaResult`.
    """
    z = np.asarray(target_logits)
    if z.shape[0] != ref.n_pool:
        raise UnlearnError(f"target logits have {z.shape[0]} rows but the reference pool has {ref.n_pool}")
    kw = dict(temperature=temperature, margin=margin, order=order)
    lr = likelihood_ratio(taylor_soft_margin(z, ref.labels, **kw), ref.signals(**kw))
    f_idx = np.asarray(forget, dtype=np.int64)
    t_idx = ref.n_train + (np.arange(ref.n_pool - ref.n_train) if test is None else np.asarray(test, dtype=np.int64))
    r_idx = None if remain is None else np.asarray(remain, dtype=np.int64)
    if len(f_idx) == 0 or len(t_idx) == 0:
        raise UnlearnError("RMIA needs a non-empty forget set and test set")
    groups = [f_idx, t_idx] + ([r_idx] if r_idx is not None else [])
    sizes = [len(g) for g in groups]
    allscores = scores_from_lr(lr, gamma, np.concatenate(groups), population)
    parts = np.split(allscores, np.cumsum(sizes)[:-1])
    s_f, s_t = parts[0], parts[1]
    s_r = parts[2] if r_idx is not None else None
    n = min(sizes)
    labels = np.r_[np.ones(n), np.zeros(n)]
    runs, fr_runs = [], []
    for s in seeds:
        rng = np.random.default_rng(s)
        fi = rng.choice(len(s_f), n, replace=False)
        ti = rng.choice(len(s_t), n, replace=False)
        runs.append(float(roc_auc_score(labels, np.r_[s_f[fi], s_t[ti]])))
        if s_r is not None and len(s_r) > 0:
            ri = rng.choice(len(s_r), n, replace=False)
            fr_runs.append(float(roc_auc_score(labels, np.r_[s_r[ri], s_f[fi]])))
    full = from_scores("RMIA", s_f, s_t)
    return RmiaResult(
        name="RMIA (FT AUC)", auc=float(np.mean(runs)), tpr_at_1pct=full.tpr_at_1pct, tpr_at_01pct=full.tpr_at_01pct,
        fpr=full.fpr, tpr=full.tpr, member_scores=s_f, nonmember_scores=s_t, auc_runs=tuple(runs),
        auc_all=full.auc, fr_auc=float(np.mean(fr_runs)) if fr_runs else None, remain_scores=s_r,
        n_subsample=n, k=ref.k, gamma=gamma,
    )

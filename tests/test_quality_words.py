"""The forgetting-quality result in words (engine/audit/quality_words.py), on synthetic outputs with known answers:
a method whose forget outputs come from Retrain's distribution vs one that keeps them far off."""

from types import SimpleNamespace

import numpy as np

from engine.audit.quality import epsilon_ceiling, forgetting_quality
from engine.audit.quality_words import (
    headline,
    like_retrain_eps,
    not_forgotten,
    separated,
    separated_pairs,
    share_like_retrain,
)
from engine.audit.ulira import ulira

N, E = 16, 60


def _row(key, label, phi, phi_r, seed=0):
    acc = np.full(len(phi), 0.9)
    q = forgetting_quality(phi, phi_r, ra_unlearned=acc, ra_retrained=acc[: len(phi_r)], ta_unlearned=acc,
                           ta_retrained=acc[: len(phi_r)], n_boot=100, seed=seed)
    return SimpleNamespace(key=key, label=label, quality=q, ulira=ulira(phi, phi_r, seed=seed))


def _rows():
    rng = np.random.default_rng(0)
    mu = rng.normal(0, 2, E)
    draw = lambda shift=0.0: mu + shift + rng.normal(0, 1, (N, E))  # noqa: E731
    phi_r = draw()
    far = draw()
    far[:, :20] += 8.0  # the first 20 forget examples stay remembered: far above Retrain's outputs
    return [_row("retrain", "Retrain (N other retrains)", draw(), phi_r), _row("like", "Like-Retrain", draw(), phi_r),
            _row("far", "Far", far, phi_r), _row("original", "Original (no unlearning)", np.repeat(mu[None] + 9, N, 0),
                                                  phi_r)]


def test_a_method_from_retrains_distribution_beats_one_that_remembers_beyond_the_intervals():
    rows = _rows()
    by = {r.key: r for r in rows}
    assert separated(by["like"], by["far"]) and not separated(by["like"], by["retrain"])
    assert separated_pairs(rows) == [("Like-Retrain", "Far")]
    # ε between two sets of N = 16 retrains is not 0 (a maximum over rules): the words use that noise floor
    like = like_retrain_eps(rows)
    assert 1.0 < like < 2.7 and share_like_retrain(by["retrain"].quality, 1.0) < 0.05
    assert share_like_retrain(by["like"].quality, like) > 0.8 > 0.7 > share_like_retrain(by["far"].quality, like)
    # the examples the far method fails to forget are the 20 shifted ones
    missed = not_forgotten(by["far"], n=20, eps_like=like)
    assert len(missed) == 20 and set(missed) == set(range(20))
    assert all(i < 20 for i in not_forgotten(by["far"], n=5, eps_like=like))


def test_headline_names_a_winner_only_when_it_is_separated():
    rows = _rows()
    words = headline(rows, N, epsilon_ceiling(N))
    text = " ".join(words)
    assert "N other retrains score" in text and f"ln(N − 1) = {epsilon_ceiling(N):.2f}" in text
    assert "Like-Retrain scores highest, separated from every other method" in text
    assert text.index("Like-Retrain:") < text.index("Far:")  # best first
    assert "The original model (no unlearning) scores 0.000" in text and "100 % of its forget examples" in text
    # two methods from the same distribution: no winner
    rng = np.random.default_rng(1)
    mu = rng.normal(0, 2, E)
    phi_r = mu + rng.normal(0, 1, (N, E))
    twins = [_row("a", "A", mu + rng.normal(0, 1, (N, E)), phi_r, 1),
             _row("b", "B", mu + rng.normal(0, 1, (N, E)), phi_r, 2)]
    text = " ".join(headline(twins, N, epsilon_ceiling(N)))
    assert "no winner" in text or "No single best" in text
    assert "scores highest" not in text and separated_pairs(twins) == []


def test_the_order_of_rows_does_not_change_the_words():
    rows = _rows()
    assert headline(rows, N, 2.7) == headline(rows[::-1], N, 2.7)


def test_the_epsilon_buckets_and_ulira_roc_show_every_method():
    from engine.figures_quality import epsilon_bins, epsilon_buckets, ulira_roc

    rows = _rows()
    fig = epsilon_buckets(rows, N)
    assert [t.name for t in fig.data] == [r.label for r in rows]
    for t in fig.data:
        assert abs(sum(t.y) - 100) < 1e-6  # every forget example in one bar
    assert len(fig.data[0].x) == len(epsilon_bins(N)) and fig.data[-1].y[-1] == 100  # the original: all told apart
    roc = ulira_roc(rows)
    assert roc.layout.xaxis.type == "log" and len(roc.data) == len(rows) + 1  # + chance
    assert "AUC" in roc.data[0].name

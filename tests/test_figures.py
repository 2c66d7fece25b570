"""What reaches the plotly traces of every figure in engine/figures.py (hand-made inputs, no training)."""

import numpy as np

from engine import figures


def _game() -> dict[str, np.ndarray]:
    """A game log as SG-Unlearn stores it (``ctx.extras["game"]``), three rounds."""
    return {"round": np.array([1, 2, 3]), "auditor_acc": np.array([0.9, 0.7, 0.55]),
            "utility": np.array([0.4, 0.25, 0.1]), "ft_loss": np.array([1.5, 1.2, 1.1]),
            "seconds": np.array([2.0, 2.1, 2.2]), "auditor_seconds": np.array([0.5, 0.6, 0.7])}


def test_game_plot_draws_auditor_accuracy_and_utility():
    game = _game()
    fig = figures.game_plot(game)
    panels = {t.xaxis: t for t in fig.data}
    assert set(panels) == {"x", "x2"}, [(t.name, t.xaxis) for t in fig.data]
    np.testing.assert_array_equal(panels["x"].y, game["auditor_acc"])
    np.testing.assert_array_equal(panels["x2"].y, game["utility"])
    for t in fig.data:
        np.testing.assert_array_equal(t.x, game["round"])
    assert [t.name for t in fig.data] == ["auditor held-out accuracy", "auditor utility"]
    assert [a.text for a in fig.layout.annotations] == ["auditor held-out accuracy", "auditor utility"]
    assert fig.layout.xaxis.title.text == fig.layout.xaxis2.title.text == "round"
    titles = [fig.layout.yaxis.title.text, fig.layout.yaxis2.title.text]
    assert all(titles) and not set(titles) & set(game), titles  # readable, not column names


def test_game_plot_never_draws_another_series_in_a_missing_panel():
    game = {k: v for k, v in _game().items() if k not in ("round", "utility")}  # ft_loss must not stand in
    fig = figures.game_plot(game)
    assert len(fig.data) == 1 and fig.data[0].xaxis == "x"
    np.testing.assert_array_equal(fig.data[0].x, [1, 2, 3])  # rounds counted from 1 without a "round" key
    assert any("not in this game log" in a.text and a.xref == "x2 domain" for a in fig.layout.annotations)

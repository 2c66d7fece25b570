"""ui/cached.py: the only st.cache_* wrappers; bounded, and keyed by the store root (no Streamlit server)."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.attacks import AdversarialSet

ROOT = Path(__file__).resolve().parents[1]
KEY = "0123abcd"


def _adv_set(value: float) -> AdversarialSet:
    n = 2
    return AdversarialSet(x_adv=torch.full((n, 1, 2, 2), value), y_adv=torch.zeros(n, dtype=torch.long),
                          orig_pred=torch.ones(n, dtype=torch.long), eps=torch.full((n,), value, dtype=torch.float64),
                          delta_norm=torch.full((n,), value), flipped=torch.ones(n, dtype=torch.bool))


def test_streamlit_caches_live_only_in_ui_cached():
    offenders = [str(p.relative_to(ROOT)) for d in ("ui", "pages") for p in (ROOT / d).glob("*.py")
                 if re.search(r"\bst\.cache_(data|resource)\b", p.read_text()) and p.name != "cached.py"]
    offenders += ["app.py"] if "st.cache_" in (ROOT / "app.py").read_text() else []
    assert offenders == []


def test_view_caches_are_bounded():
    from ui import cached

    views = [cached._store, cached._baseline, cached._comparison, cached._adversarial, cached._probabilities,
             cached._attributions, cached._data_uris, cached._built_report, cached.jobs, cached._continual,
             cached._theorem, cached._forget_sizes]
    assert all(f._info.max_entries for f in views), [f._info.func.__name__ for f in views if not f._info.max_entries]


@pytest.fixture
def two_stores(tmp_path, monkeypatch):
    """Two stores holding different adversarial sets under the same key; ``use(i)`` makes store i current."""
    from engine.store import Store

    roots = [tmp_path / "a", tmp_path / "b"]
    for i, r in enumerate(roots):
        Store(r / "store").save("adversarial", KEY, {}, arrays=_adv_set(float(i + 1)).to_arrays())

    def use(i: int) -> None:  # no cache clearing: the store is looked up by $UNLEARN_HOME
        monkeypatch.setenv("UNLEARN_HOME", str(roots[i]))

    yield use


def test_two_stores_never_share_entries(two_stores):
    from ui import cached, tiles

    two_stores(0)
    first = cached.store()
    assert cached.root().endswith(str(Path("a") / "store")) and cached.store() is first
    two_stores(1)
    assert cached.root().endswith(str(Path("b") / "store")) and cached.store() is not first
    assert cached.store().load("adversarial", KEY).arrays()["eps"][0] == 2.0
    two_stores(0)
    assert cached.store() is first  # still cached per root

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x = np.random.default_rng(0).random((2, 1, 2, 2)).astype(np.float32)
    p = cached.probabilities("model-key", net, x)
    assert p.shape == (2, 3) and np.allclose(p.sum(1), 1)
    with torch.no_grad():
        net[1].weight.zero_(), net[1].bias.zero_()  # a different model under the same key, in the other store
    two_stores(1)
    np.testing.assert_allclose(cached.probabilities("model-key", net, x), 1 / 3, rtol=1e-6)
    black, white = np.zeros((1, 1, 2, 2), dtype=np.float32), np.ones((1, 1, 2, 2), dtype=np.float32)
    in_b = cached.data_uris("fp", white, 4)
    assert cached.data_uris("fp", black, 4) == in_b  # cached per key (the images themselves are not hashed)
    two_stores(0)
    assert cached.data_uris("fp", black, 4) == tiles.data_uris(black, 4) != in_b  # the other store: its own entry

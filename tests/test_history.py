"""Issue 12, sharing and history: the list of stored audits and the comparison of two, on the History page
(AppTest) and in ui/history.py; two small audits stored once for the module."""

from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from apptest import APP

ROOT = Path(__file__).resolve().parents[1]


def _spec(epochs: int):
    from engine.presets import default_spec

    spec = default_spec("digits")
    return replace(spec, train=replace(spec.train, epochs=epochs))


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """Two audits: A = FT and Random Label at 20 epochs; B = FT and SalUn at 10 epochs (a different spec); and a
    record of a method that no longer exists (listed, not openable)."""
    from engine.paths import unlearn_home
    from engine.run import AuditRequest, Runner
    from engine.store import Store

    root = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UNLEARN_HOME", str(root))
        store = Store(unlearn_home() / "store")
        Runner(store).compare(AuditRequest.build(_spec(20), ["ft", "rl"], [0], k=2))
        Runner(store).compare(AuditRequest.build(_spec(10), ["salun", "ft"], [0], k=2))
        store.save("comparison", "0000000000000000", {"spec": {"data": {"dataset": "digits"}},
                                                      "methods": {"gone": {}}, "seeds": [0], "use_remain": True,
                                                      "k": 2, "rows": []})
    return root


@pytest.fixture(autouse=True)
def _pages_see_the_store(home, monkeypatch):
    monkeypatch.setenv("UNLEARN_HOME", str(home))


def test_records_list_every_audit_newest_first_in_the_order_it_ran():
    from ui import cached, history

    recs = history.records(cached.store())
    assert len(recs) == 3
    readable = [r for r in recs if r.request is not None]
    assert len(readable) == 2 and "gone" in [r for r in recs if r.request is None][0].problem
    assert [r.created for r in recs] == sorted((r.created for r in recs), reverse=True)
    b = next(r for r in readable if r.request.spec.train.epochs == 10)
    assert [m.key for m in b.request.methods] == ["salun", "ft"]  # as run, not the record's sorted keys
    table = history.overview(recs)
    assert list(table.columns) == ["when", "data", "model", "forget set", "seeds", "methods", "K", "setting",
                                   "like Retrain"]
    # the methods judged like Retrain on every measure (engine/audit/verdict.py), never one point-estimate winner
    from engine.audit import verdict

    for r, cell in zip(recs, table["like Retrain"]):
        if r.request is None:
            continue
        like = [v.label for v in verdict.verdicts(cached.comparison(r.request)) if v.like_retrain]
        assert cell == (", ".join(like) if like else f"none of {len(r.request.methods)}")
    assert set(table["data"]) >= {"digits · 300 images · 20 epochs", "digits · 300 images · 10 epochs"}


def test_differences_name_what_changed():
    from engine.run import AuditRequest
    from engine.unlearning import get_method
    from ui import history

    tuned = get_method("ft", dataset="digits").lr
    other = 0.005 if tuned != 0.005 else 0.05  # an lr that differs from the tuned one, whatever tuning chose
    a = AuditRequest.build(_spec(20), ["ft", "rl"], [0], k=2)
    b = AuditRequest.build(_spec(10), ["ft"], [0, 1], k=4, overrides={"ft": {"lr": other}})
    diff = history.differences(a, b)
    assert "train.epochs: 20 → 10" in diff and "seeds: [0] → [0, 1]" in diff
    assert "K (RMIA reference models): 2 → 4" in diff and f"Fine-tune lr: {tuned:g} → {other:g}" in diff
    assert history.differences(a, AuditRequest.build(_spec(20), ["ft"], [0], k=2)) == []


def _history(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("pages/9_History.py").run()
    assert not at.exception, at.exception
    return at


def test_history_page_lists_the_audits_and_compares_two_side_by_side():
    at = _history()
    assert at.title[0].value == "Stored audits"
    listing = at.dataframe[0].value
    assert len(listing) == 3
    a, b = at.selectbox(key="w_view_a"), at.selectbox(key="w_view_b")
    assert a.value != b.value
    assert len(set(a.options)) == len(a.options) == 3  # every audit told apart in the selection box
    # the two newest are the unreadable record and B; compare the two real audits
    from ui import cached, history

    recs = [r for r in history.records(cached.store()) if r.request is not None]
    at.selectbox(key="w_view_a").set_value(recs[1].key).run()
    at.selectbox(key="w_view_b").set_value(recs[0].key).run()
    assert not at.exception, at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "different settings" in warning and "train.epochs: 20 → 10" in warning
    gaps = at.dataframe[1].value
    assert {"Fine-tune", "Random Label", "SalUn", "Original"} <= set(gaps.index)
    assert list(gaps.columns) == ["Avg Gap A", "Avg Gap B", "B − A"]
    assert gaps.loc["Random Label", "Avg Gap B"] != gaps.loc["Random Label", "Avg Gap B"]  # NaN: B did not run it
    assert at.get("plotly_chart")  # the paired Avg Gap bars
    tables = [d.value for d in at.dataframe[2:]]  # per audit: forgetting; utility and distances; cost
    assert len(tables) == 6
    assert {"Fine-tune", "Random Label"} <= set(tables[0].index) and {"SalUn"} <= set(tables[3].index)
    # the comparison's view is in the address: a fresh session shows the same two
    a_key, b_key = at.query_params["a"], at.query_params["b"]
    a_key, b_key = (a_key if isinstance(a_key, str) else a_key[0]), (b_key if isinstance(b_key, str) else b_key[0])
    fresh = _history(a=a_key, b=b_key)
    assert fresh.selectbox(key="w_view_a").value == recs[1].key
    assert fresh.selectbox(key="w_view_b").value == recs[0].key


def test_a_new_audit_moves_a_and_b_to_the_newest(home):
    """Issue 20, defect 8: a session that looked at History with one audit kept A and B on that old audit after a
    newer one was stored."""
    from engine.run import AuditRequest, Runner
    from ui import cached, history

    at = _history()
    before = at.selectbox(key="w_view_a").value
    Runner(cached.store()).compare(AuditRequest.build(_spec(5), ["ft"], [0], k=2))
    at.run()
    assert not at.exception, at.exception
    recs = history.records(cached.store())
    assert at.selectbox(key="w_view_a").value == recs[0].key != before
    assert at.selectbox(key="w_view_b").value == recs[1].key


def test_history_opens_an_audit_on_the_compare_page():
    from ui import cached, history

    recs = history.records(cached.store())
    rec = next(r for r in recs if r.request is not None and r.request.spec.train.epochs == 20)
    at = _history(a=rec.key)
    at.button(key="open_A").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Compare methods"
    assert not at.info or "No audit" not in at.info[0].value
    assert {"Fine-tune", "Random Label"} <= set(at.dataframe[0].value.index)
    params = {k: (v if isinstance(v, str) else v[0]) for k, v in at.query_params.items()}
    assert params["methods"] == "ft,rl" and params["epochs"] == "20" and params["k"] == "2"


def test_history_with_an_empty_store_points_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("UNLEARN_HOME", str(tmp_path))
    at = _history()
    assert "No finished audit" in at.info[0].value

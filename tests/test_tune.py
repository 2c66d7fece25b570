"""engine tune: the grid on a held-out forget split, scored by the audit's Avg Gap; winners become tuned defaults."""

import json

import numpy as np
import pytest

from engine import presets
from engine.errors import UnlearnError
from engine.plan import seed_spec
from engine.run import HELDOUT, AuditRequest, Runner
from engine.store import Store
from engine.tune import GRIDS, candidates, tune, write_tuned


def test_candidates_enumerate_the_grid_in_order():
    got = candidates("amun", {"lr": (0.1, 0.01), "adv_only": (False, True)})
    assert got == [{"lr": 0.1, "adv_only": False}, {"lr": 0.1, "adv_only": True},
                   {"lr": 0.01, "adv_only": False}, {"lr": 0.01, "adv_only": True}]
    assert len(candidates("amun", GRIDS["amun"])) == 7 * 3 * 2  # the AMUN code's lr × step grid, and advonly
    with pytest.raises(UnlearnError, match="unknown hyperparameter"):
        candidates("ft", {"learning_rate": (0.1,)})


def test_tune_scores_a_tiny_grid_on_the_held_out_split(tiny_spec, tmp_path, monkeypatch):
    store = Store(tmp_path / "store")
    runner = Runner(store)
    grids = {"ft": {"lr": (0.5, 0.001), "lr_step": (10,)}, "amun": {"lr": (0.1,), "lr_step": (5,)}}
    seen = []
    result = tune(tiny_spec, ["retrain", "ft", "amun"], runner, seeds=(0,), k=2, retrains=2, grids=grids,
                  progress=lambda *a: seen.append(a[1]), command="test")
    g = result.grid
    # FT: two candidates + the paper's default (lr 0.01, step 10); AMUN: one + the paper's (lr 0.01, step 1)
    assert list(g["method"]) == ["ft"] * 3 + ["amun"] * 2
    assert g["is_paper_default"].tolist() == [False, False, True, False, True]
    assert seen == list(range(1, 6))
    for key in ("ft", "amun"):
        rows = g[g.method == key]
        assert result.winners[key]["score"] == pytest.approx(rows["avg_gap"].min())
        assert result.winners[key]["candidates"] == len(rows)
    # tuning ran on its own part of the data with its own seeds: own originals, retrains and forget draws
    heldout = runner.prepare(seed_spec(result_request(tiny_spec), 0))
    evaluation = runner.prepare(tiny_spec)
    assert heldout.spec.data.tuning and heldout.spec.seed == heldout.spec.forget_seed == HELDOUT
    retrain_forgets = {a.manifest["forget_fingerprint"] for a in store.list("retrain")}
    assert retrain_forgets == {heldout.forget_key} and heldout.forget_key != evaluation.forget_key
    assert heldout.data.fingerprint != evaluation.data.fingerprint
    assert "its own model and forget seeds (1000" in result.table_markdown()
    assert result.setting == "with_dr/random"
    # the winners become the data set's tuned defaults, with their provenance
    monkeypatch.setattr(presets, "TUNED_DIR", tmp_path / "tuned")
    presets._tuned_record.cache_clear()
    try:
        path = write_tuned(result, tmp_path / "tuned")
        record = json.loads(path.read_text())
        assert record["heldout_forget_seeds"] == [HELDOUT] and record["methods"]["ft"]["params"]["lr_step"] == 10
        assert record["model_seeds"] == [HELDOUT] and record["setting"] == "with_dr/random"
        assert record["settings"]["with_dr/random"]["methods"] == record["methods"]
        assert presets.tuned_params(tiny_spec.data.dataset, "ft") == result.winners["ft"]["params"]
        prov = presets.tuned_provenance(tiny_spec.data.dataset, "ft")
        assert "model and forget seeds [1000]" in prov and "with D_R, random" in prov
        req = AuditRequest.build(tiny_spec, ["ft"], [0])
        assert req.method("ft").lr == result.winners["ft"]["params"]["lr"]
    finally:
        presets._tuned_record.cache_clear()
    # a repeated tune is served from the store: every model and reference is there
    before = {kind: len(store.list(kind)) for kind in ("original", "retrain", "unlearned", "reference")}
    again = tune(tiny_spec, ["ft"], Runner(store), seeds=(0,), k=2, retrains=2, grids=grids)
    assert {kind: len(store.list(kind)) for kind in before} == before
    assert np.allclose(again.grid["avg_gap"], g[g.method == "ft"]["avg_gap"])


def result_request(spec):
    return AuditRequest(spec, (), (0,), heldout=True)


def test_no_audit_forget_set_of_the_default_seeds_meets_a_tuning_forget_set():
    """Issue 19.3: for both CPU presets, every audit forget set of seeds 0–9 (random 10–60 % and class forgetting)
    and every tuning forget set (seeds 1000–1004) are disjoint in the raw training split, by construction: tuning
    trains on the rows the audit's subset leaves out."""
    from dataclasses import replace

    from engine.data import load_dataset
    from engine.forget import select_forget
    from engine.presets import PRESETS

    for name in ("digits", "fashion-mnist"):
        spec = PRESETS[name]
        try:
            audit_data = load_dataset(spec.data)
        except UnlearnError:  # Fashion-MNIST's files are not on every machine
            continue
        tune_data = load_dataset(replace(spec.data, tuning=True))
        assert len(tune_data.y_train) == len(audit_data.y_train)
        assert not set(audit_data.train_rows.tolist()) & set(tune_data.train_rows.tolist())
        for forget in ("random:0.1", "random:0.4", "random:0.6", "class:3", spec.forget):
            audit_rows = set()
            for seed in range(10):
                f = select_forget(forget, audit_data.y_train, audit_data.num_classes, seed=seed)
                audit_rows |= set(audit_data.train_rows[f].tolist())
            for seed in range(HELDOUT, HELDOUT + 5):
                f = select_forget(forget, tune_data.y_train, tune_data.num_classes, seed=seed)
                assert not audit_rows & set(tune_data.train_rows[f].tolist()), (name, forget, seed)


def test_audits_refuse_tuning_seeds(tiny_spec):
    from engine.continual import ContinualRequest

    with pytest.raises(UnlearnError, match="belong to tuning"):
        AuditRequest.build(tiny_spec, ["ft"], [0, HELDOUT])
    with pytest.raises(UnlearnError, match="belong to tuning"):
        ContinualRequest.build(tiny_spec, ["ft"], [HELDOUT + 1])
    assert AuditRequest.build(tiny_spec, ["ft"], [HELDOUT - 1]).seeds == (HELDOUT - 1,)
    from dataclasses import replace

    with pytest.raises(UnlearnError, match="data.tuning"):
        AuditRequest.build(replace(tiny_spec, data=replace(tiny_spec.data, tuning=True)), ["ft"], [0])


def test_tune_refuses_nothing_to_tune(tiny_spec, tmp_path):
    with pytest.raises(UnlearnError, match="nothing to tune"):
        tune(tiny_spec, ["retrain"], Runner(Store(tmp_path)), seeds=(0,), k=2)
    with pytest.raises(UnlearnError, match="no tuning grid"):
        tune(tiny_spec, ["ft"], Runner(Store(tmp_path)), seeds=(0,), k=2, grids={})


@pytest.mark.slow
def test_tune_through_ray_scores_the_same_grid(tiny_spec, tmp_path):
    """The tuning grid as Ray tasks (engine.sweep.run_grid): the same candidates, the same scores, the winners."""
    import ray

    from engine.sweep import run_grid

    grids = {"ft": {"lr": (0.5, 0.001), "lr_step": (10,)}}
    local = tune(tiny_spec, ["ft"], Runner(Store(tmp_path / "a")), seeds=(0,), k=2, retrains=2, grids=grids)
    store = Store(tmp_path / "b")

    def on_ray(reqs):
        run_grid(reqs, store, num_cpus=2)
        reader = Runner(store, build=False)
        return [reader.compare(r) for r in reqs]

    try:
        remote = tune(tiny_spec, ["ft"], Runner(store), seeds=(0,), k=2, retrains=2, grids=grids,
                      run_requests=on_ray)
    finally:
        if ray.is_initialized():
            ray.shutdown()
    assert np.allclose(remote.grid["avg_gap"], local.grid["avg_gap"])
    assert remote.winners["ft"]["params"] == local.winners["ft"]["params"]


def test_winners_are_stored_and_served_per_setting(tiny_spec, tmp_path, monkeypatch):
    """Issue 19.3: each setting keeps its own winners; a run in a setting that was not tuned gets the with-D_R
    random winners and the provenance says they are reused."""
    import pandas as pd

    from engine.tune import TuneResult, setting_key

    def result(use_remain, lr):
        return TuneResult("digits", tiny_spec, (0, 1), 8, 2, pd.DataFrame(), 1.0, "test",
                          {"amun": {"params": {"lr": lr}, "score": 1.0, "candidates": 3, "paper_score": 2.0}},
                          use_remain)

    assert setting_key("random:0.4", True) == "with_dr/random" and setting_key("class:3", False) == "df_only/class"
    monkeypatch.setattr(presets, "TUNED_DIR", tmp_path)
    presets._tuned_record.cache_clear()
    try:
        write_tuned(result(True, 0.05), tmp_path)
        path = write_tuned(result(False, 0.001), tmp_path)
        record = json.loads(path.read_text())
        assert set(record["settings"]) == {"with_dr/random", "df_only/random"}
        assert record["methods"]["amun"]["params"] == {"lr": 0.05}  # the top level: with D_R, random
        assert record["settings"]["df_only/random"]["model_seeds"] == [HELDOUT, HELDOUT + 1]
        presets._tuned_record.cache_clear()
        assert presets.tuned_params("digits", "amun") == {"lr": 0.05}
        assert presets.tuned_params("digits", "amun", setting="df_only/random") == {"lr": 0.001}
        assert presets.tuned_params("digits", "amun", setting="with_dr/class") == {"lr": 0.05}
        assert "reused here for with D_R, class" in presets.tuned_provenance("digits", "amun", setting="with_dr/class")
        assert "D_F only, random" in presets.tuned_provenance("digits", "amun", setting="df_only/random")
    finally:
        presets._tuned_record.cache_clear()


def test_a_run_takes_its_own_settings_winners(tiny_spec, tmp_path, monkeypatch):
    from dataclasses import replace

    from engine.tune import setting_key

    record = {"dataset": "digits", "setting": "with_dr/random", "methods": {"amun": {"params": {"lr": 0.05}}},
              "settings": {"df_only/class": {"setting": "df_only/class",
                                             "methods": {"amun": {"params": {"lr": 0.002}}}}}}
    (tmp_path / "digits.json").write_text(json.dumps(record))
    monkeypatch.setattr(presets, "TUNED_DIR", tmp_path)
    presets._tuned_record.cache_clear()
    try:
        assert AuditRequest.build(tiny_spec, ["amun"]).method("amun").lr == 0.05
        cls = replace(tiny_spec, forget="class:3")
        assert setting_key(cls.forget, False) == "df_only/class"
        assert AuditRequest.build(cls, ["amun"], use_remain=False).method("amun").lr == 0.002
        assert AuditRequest.build(cls, ["amun"]).method("amun").lr == 0.05  # with D_R, class: not tuned → reused
    finally:
        presets._tuned_record.cache_clear()

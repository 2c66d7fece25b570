import time

import pytest

from engine.errors import Cancelled, UnlearnError
from engine.jobs import CANCELLED, DONE, FAILED, JobManager


def test_job_runs_with_progress():
    jm = JobManager()

    def work(progress, cancel):
        for i in range(3):
            progress("stage", i + 1, 3, {"i": i})
        return 42

    job = jm.wait(jm.submit("work", work), timeout=10)
    assert job.state == DONE and job.result == 42 and job.fraction == 1.0


def test_job_error_and_cancel():
    jm = JobManager()
    bad = jm.wait(jm.submit("bad", lambda progress, cancel: (_ for _ in ()).throw(UnlearnError("no data"))), 10)
    assert bad.state == FAILED and bad.error == "no data"

    def slow(progress, cancel):
        for i in range(500):
            cancel.check()
            progress("loop", i, 500, {})
            time.sleep(0.01)

    job = jm.submit("slow", slow)
    while job.state != "running":
        time.sleep(0.01)
    job.cancel()
    assert jm.wait(job, 10).state == CANCELLED


def test_queued_job_cancelled_before_start_never_runs():
    jm = JobManager()
    ran = []
    first = jm.submit("first", lambda progress, cancel: time.sleep(0.3))
    second = jm.submit("second", lambda progress, cancel: ran.append(1))
    second.cancel()
    jm.wait(first, 10)
    jm.wait(second, 10)
    assert second.state == CANCELLED and ran == []
    assert isinstance(Cancelled("x"), UnlearnError)


# ------------------------------------------------------------------------------------------ several sessions
def _until(cond, seconds: float = 10) -> None:
    deadline = time.time() + seconds
    while not cond():
        assert time.time() < deadline, "timed out"
        time.sleep(0.01)


def test_the_same_key_is_one_job_for_every_session():
    import threading

    jm = JobManager()
    gate, runs = threading.Event(), []

    def work(progress, cancel):
        runs.append(1)
        gate.wait(10)
        return "done"

    a = jm.submit("Train", work, key="spec-1", owner="session-a")
    b = jm.submit("Train", work, key="spec-1", owner="session-b")
    other = jm.submit("Train", lambda progress, cancel: "other", key="spec-2", owner="session-b")
    assert a is b and other is not a and a.owners == {"session-a", "session-b"}
    assert jm.find("spec-1") is a and jm.find("nope") is None
    gate.set()
    assert jm.wait(a, 10).result == "done" and jm.wait(other, 10).result == "other"
    assert runs == [1]
    # a finished job is not reused: asking again queues new work (the page finds the result in the store first)
    again = jm.submit("Train", lambda progress, cancel: "again", key="spec-1", owner="session-a")
    assert again is not a and jm.wait(again, 10).result == "again"


def test_a_queued_job_knows_its_place_and_when_it_starts():
    import threading

    jm = JobManager()
    gate = threading.Event()

    def first(progress, cancel):
        for i in range(1, 101):
            progress("train", i, 100, {})
            if i == 25:
                gate.wait(10)  # a quarter done, then held: the ETA of what is left is 3 × the time so far
            time.sleep(0.002)
        return 1

    a = jm.submit("A", first, key="a")
    b = jm.submit("B", lambda progress, cancel: 2, key="b")
    c = jm.submit("C", lambda progress, cancel: 3, key="c")
    _until(lambda: a.done == 25)
    time.sleep(0.2)
    assert jm.place(a).ahead == 0
    pb, pc = jm.place(b), jm.place(c)
    assert pb.ahead == 1 and pb.unknown == 0
    elapsed = time.time() - a._stage_started
    assert pb.known_s == pytest.approx(3 * elapsed, rel=0.2)
    assert pc.ahead == 2 and pc.unknown == 1 and pc.known_s == pytest.approx(pb.known_s, rel=0.2)
    c.cancel()  # a cancelled queued job is skipped: it no longer holds anyone up
    d = jm.submit("D", lambda progress, cancel: 4, key="d")
    assert jm.place(d).ahead == 2
    gate.set()
    assert jm.wait(b, 10).result == 2 and jm.wait(d, 10).result == 4  # the waiting ones run once A ends
    assert jm.wait(c, 10).state == CANCELLED


def test_cancel_by_one_owner_leaves_the_job_to_the_others():
    import threading

    jm = JobManager()
    gate = threading.Event()

    def work(progress, cancel):
        while not gate.is_set():
            cancel.check()
            time.sleep(0.01)
        return "kept"

    job = jm.submit("Audit", work, key="req", owner="a")
    jm.submit("Audit", work, key="req", owner="b")
    assert not jm.cancel(job, owner="a")  # b still waits for it
    assert job.active and not job.cancel_token.cancelled and job.owners == {"b"}
    assert jm.cancel(job, owner="b")  # the last one out stops it
    assert jm.wait(job, 10).state == CANCELLED
    # the cancelled job is not handed to a newcomer: the key queues fresh work
    fresh = jm.submit("Audit", lambda progress, cancel: "fresh", key="req", owner="c")
    assert fresh is not job and jm.wait(fresh, 10).result == "fresh"


def test_the_dashboard_config_turns_off_streamlits_forced_gc_and_polls_at_most_every_second():
    """Issue 12, item 1: Streamlit's gc.collect(2) after every (fragment) run held the GIL for 0.15-0.4 s with the
    app's libraries loaded; at a 0.5 s poll it starved the training thread. bench/bench_watch.py measures it."""
    import tomllib
    from pathlib import Path

    from ui import jobs

    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
    assert config["server"]["fileWatcherType"] == "none"
    assert 1.0 <= jobs.POLL_S <= 2.0  # live (≤ 2 s) but not a busy loop


# ------------------------------------------------------------------------------------------ the pages' jobs
def _requests():
    """One request of every job kind (small fakes where the key reads a few attributes only)."""
    from types import SimpleNamespace

    import numpy as np

    from engine.continual import ContinualRequest
    from engine.presets import default_spec
    from engine.quality import QualityRequest
    from engine.run import AuditRequest
    from ui import jobs

    spec = default_spec("digits")
    req = AuditRequest.build(spec, ["ft", "amun"], [0, 1], k=2, retrains=1)
    rows = SimpleNamespace(groups={g: (None, np.arange(3) + i) for i, g in enumerate(("forget", "remain", "test"))})
    trained = {"original": SimpleNamespace(key="k-orig"), "amun": SimpleNamespace(key="k-amun")}
    return spec, req, {
        jobs.Kind.BASELINE: spec,
        jobs.Kind.HARDEST: jobs.Hardest(spec, 12, "eps"),
        jobs.Kind.AUDIT: req,
        jobs.Kind.YOUR_AUDIT: req,
        jobs.Kind.ADVERSARIAL: jobs.Adversarial(trained, None, rows),
        jobs.Kind.CONTINUAL: ContinualRequest.build(spec, ["ft"], [0], requests=2, size=0.04),
        jobs.Kind.THEOREM: jobs.Theorem(req, None, "amun"),
        jobs.Kind.FORGET_SIZES: jobs.ForgetSizes(req, ("random:0.2", "random:0.4")),
        jobs.Kind.QUALITY: QualityRequest.build(spec, ["ft"], runs=4),
    }


def test_every_job_kind_keeps_the_key_the_pages_built():
    """Issue 16, item 3: the key formulas moved from the pages into ui.jobs unchanged (jobs are shared by key across
    sessions; a changed key would run an audit twice). The expected values are the pages' former expressions."""
    from engine import config
    from ui import cached, jobs

    spec, req, requests = _requests()
    assert set(requests) == set(jobs.Kind)
    expected = {
        jobs.Kind.BASELINE: cached.spec_key(spec),  # Setup and train
        jobs.Kind.HARDEST: f"hardest-{cached.spec_key(spec)}-eps-12",  # Setup and train
        jobs.Kind.AUDIT: req.key(),  # Run
        jobs.Kind.YOUR_AUDIT: req.key(),  # Your model
        jobs.Kind.ADVERSARIAL: config.stable_hash({"kind": "adversarial-page", "models": ["k-orig", "k-amun"],
                                                   "rows": [[0, 1, 2], [1, 2, 3], [2, 3, 4]]}),  # Adversarial
        jobs.Kind.CONTINUAL: requests[jobs.Kind.CONTINUAL].key(),  # Continual
        jobs.Kind.THEOREM: config.stable_hash({"kind": "theorem-page", "audit": req.key(), "method": "amun"}),
        jobs.Kind.FORGET_SIZES: config.stable_hash({"kind": "forget-sizes", "audit": req.key(),
                                                    "sizes": ["random:0.2", "random:0.4"]}),
        jobs.Kind.QUALITY: requests[jobs.Kind.QUALITY].key(),  # Forgetting quality (new with the page)
    }
    assert {k: jobs.key(k, r) for k, r in requests.items()} == expected
    assert len({jobs.key(k, r) for k, r in requests.items()}) == len(jobs.Kind) - 1  # the upload's audit = an audit


def test_start_submits_the_runner_flow_with_the_jobs_callbacks_under_its_key_and_label(monkeypatch, tmp_path):
    """jobs.start builds the store's runner with the job's progress and cancel callbacks and calls the kind's flow."""
    from engine.run import Runner
    from engine.store import Store
    from ui import cached, jobs

    spec, req, requests = _requests()
    monkeypatch.setattr(cached, "store", lambda: Store(tmp_path / "store"))
    submitted = []
    monkeypatch.setattr(jobs, "submit", lambda key, label, fn: submitted.append((key, label, fn)) or "job")
    monkeypatch.setattr(jobs, "watch", lambda job: None)
    calls = []
    for flow in ("baseline", "hardest", "compare", "continual", "theorem", "forget_sizes"):
        monkeypatch.setattr(Runner, flow, lambda self, *a, _f=flow: calls.append((_f, self, a)) or _f)
    monkeypatch.setattr("ui.images.compute_missing", lambda *a: calls.append(("adversarial", None, a)) or "adv")
    monkeypatch.setattr("engine.quality.run_quality", lambda runner, r: calls.append(("quality", runner, (r,))) or "q")

    progress, cancel = (lambda *a: None), object()
    results = {}
    for kind, request in requests.items():
        assert jobs.start(kind, request) == "job"
        key, label, fn = submitted[-1]
        assert key == jobs.key(kind, request) and label == kind.value
        results[kind] = fn(progress, cancel)
    assert results == {
        jobs.Kind.BASELINE: "baseline", jobs.Kind.HARDEST: "hardest", jobs.Kind.AUDIT: "compare",
        jobs.Kind.YOUR_AUDIT: "compare", jobs.Kind.ADVERSARIAL: "adv", jobs.Kind.CONTINUAL: "continual",
        jobs.Kind.THEOREM: "theorem", jobs.Kind.FORGET_SIZES: "forget_sizes", jobs.Kind.QUALITY: "q"}
    runners = [runner for _, runner, _ in calls if runner is not None]
    assert all(r.progress is progress and r.cancel is cancel and r.store.root == tmp_path / "store" for r in runners)
    assert ("hardest", runners[1], (spec, 12, "eps")) in calls
    assert calls[4][2][3:] == (progress, cancel)  # the adversarial search reports to the job too
    with pytest.raises(ValueError):
        jobs.start(jobs.Kind.CONTINUAL, requests[jobs.Kind.CONTINUAL], on_ray=True)

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

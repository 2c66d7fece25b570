import time

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

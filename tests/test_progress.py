"""Progress a person can read: stage names in words, where an audit is in its plan, and an ETA for all of it
(issue 12, finding 6: internal keys, "reference: 792/19400 steps" without the model, ": 0/0 steps", an ETA of the
current stage only)."""

import time

import pytest
import torch

from engine.jobs import RUNNING, Job
from engine.plan import pieces as plan_pieces
from engine.progress import ADVERSARIAL_PASSES_PER_SAMPLE, Piece, PlanTracker, overall_eta, stage_label
from engine.run import AuditRequest, Runner
from engine.store import Store
from ui.jobs import progress_text

CPU = torch.device("cpu")


def test_stage_labels_are_words():
    assert stage_label("bs") == "Boundary Shrink"
    assert stage_label("amun_salun") == "AMUN + SalUn"
    assert stage_label("reference", {"model": 3, "of": 8}) == "reference model 3/8"
    assert stage_label("reference 2/4") == "reference model 2/4"
    assert stage_label("adversarial") == "nearest adversarial examples"
    assert stage_label("original") == "original model"
    assert stage_label("something new") == "something new"


def test_tracker_counts_work_across_pieces():
    seen = []
    plan = [Piece("a", "A", 100.0), Piece("b", "B", 300.0)]
    track = PlanTracker(plan, lambda *a: seen.append(a))
    track.enter("stored already")  # not in the plan: nothing moves
    track("x", 1, 2, {})
    assert seen[-1][3]["piece"] == 0 and seen[-1][3]["work_done"] == 0
    track.enter("a")
    track("x", 1, 2, {"loss": 1.0})
    assert seen[-1][3] == {"loss": 1.0, "piece": 1, "pieces": 2, "work_done": 50.0, "work_total": 400.0}
    track("y", 0, 5, {})  # a second stage inside the same piece does not move the work back
    assert seen[-1][3]["work_done"] == 50.0
    track.enter("b")
    track("z", 1, 3, {})
    assert seen[-1][3]["piece"] == 2 and seen[-1][3]["work_done"] == pytest.approx(200.0)


def test_overall_eta_extrapolates_the_rate_of_the_work_done():
    assert overall_eta({"work_done": 100.0, "work_total": 400.0}, elapsed=10.0) == pytest.approx(30.0)
    assert overall_eta({"work_done": 0.0, "work_total": 400.0}, elapsed=10.0) is None
    assert overall_eta({}, elapsed=10.0) is None
    job = Job(1, "audit", lambda: None, state=RUNNING, started=time.time() - 20.0)
    job.progress("reference", 10, 40, {"model": 1, "of": 8, "piece": 3, "pieces": 9, "work_done": 200.0,
                                       "work_total": 1000.0})
    assert job.overall_eta_seconds == pytest.approx(80.0, rel=0.05)  # 20 s for 200 of 1000: 80 s left
    text = progress_text(job)
    assert "reference model 1/8: 10/40 steps" in text and "piece 3 of 9" in text and "in all" in text
    assert "about 80 s left in all" in text or "about 81 s left in all" in text
    job.progress("audit", 1, 3, {"piece": 9, "pieces": 9, "work_done": 1000.0, "work_total": 1000.0})
    assert progress_text(job).endswith("models done, auditing")  # not "about 0 s left" while audits run


def test_progress_text_before_the_first_report_and_for_a_method():
    job = Job(2, "Audit", lambda: None, state=RUNNING, started=time.time())
    assert progress_text(job) == "Audit: starting…"  # not ": 0/0 steps"
    job.progress("bs", 2, 10, {"loss": 0.5})
    text = progress_text(job)
    assert text.startswith("Audit — Boundary Shrink: 2/10 epochs · loss 0.5") and " bs" not in text


def test_progress_text_counts_a_trainings_epochs_not_its_steps():
    """Issue 20 defect 7: "Retrain: 24/1200 epochs" counted SGD steps as epochs; and "models done, auditing" was
    shown while a method still trained (the plan's estimate of the work used up)."""
    job = Job(3, "Audit", lambda: None, state=RUNNING, started=time.time() - 5.0)
    job.progress("retrain", 24, 1200, {"epoch": 4, "loss": 0.3})  # 6 steps per epoch, 200 epochs
    assert "Retrain: epoch 4/200" in progress_text(job)
    job.progress("amun", 3, 10, {"epoch": 3, "piece": 5, "pieces": 9, "work_done": 1000.0, "work_total": 1000.0})
    text = progress_text(job)
    assert "AMUN: epoch 3/10" in text and "models done" not in text


def test_runner_plans_what_the_store_lacks_and_reports_where_it_is(tiny_spec, tmp_path):
    store = Store(tmp_path)
    req = AuditRequest.build(tiny_spec, ["ft", "amun"], [0, 1], k=2, retrains=2)
    plan = Runner(store, device=CPU).plan(req)
    by_id = {p.id: p for p in plan_pieces(req)}
    kinds = [(str(by_id[p.id].kind), by_id[p.id].seed, by_id[p.id].replica,
              by_id[p.id].method.key if by_id[p.id].method else None) for p in plan]
    assert kinds == [("original", 0, 0, None), ("retrain", 0, 0, None), ("retrain", 0, 1, None),
                     ("references", None, 0, None), ("unlearned", 0, 0, "ft"), ("adversarial", 0, 0, None),
                     ("unlearned", 0, 0, "amun"),
                     ("original", 1, 0, None), ("retrain", 1, 0, None), ("retrain", 1, 1, None),
                     ("unlearned", 1, 0, "ft"), ("adversarial", 1, 0, None), ("unlearned", 1, 0, "amun")]
    assert all(p.work > 0 for p in plan)
    search = next(p for p in plan if by_id[p.id].kind == "adversarial")
    n_forget = len(Runner(store, device=CPU).prepare(by_id[search.id].spec).forget)
    assert search.work == ADVERSARIAL_PASSES_PER_SAMPLE * n_forget  # AMUN's search: its own piece
    reports = []
    Runner(store, device=CPU, progress=lambda *a: reports.append(a)).compare(req)
    pieces = [m["piece"] for *_, m in reports if "piece" in m]
    done = [m["work_done"] for *_, m in reports if "work_done" in m]
    assert pieces and pieces == sorted(pieces) and max(pieces) == len(plan)
    assert done == sorted(done) and done[-1] == pytest.approx(reports[-1][3]["work_total"])
    assert Runner(store, device=CPU).plan(req) == []  # everything is stored now
    # one more method: only its pieces are left
    more = AuditRequest.build(tiny_spec, ["ft", "amun", "ga"], [0, 1], k=2, retrains=2)
    by_id = {p.id: p for p in plan_pieces(more)}
    left = [by_id[p.id] for p in Runner(store, device=CPU).plan(more)]
    assert [(str(p.kind), p.seed, p.method.key) for p in left] == [("unlearned", 0, "ga"), ("unlearned", 1, "ga")]

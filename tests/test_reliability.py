"""Reliability: what goes wrong on a real machine and a real network of users (issue 12, "What to build" 7).

Damaged store files are detected and rebuilt; a writer killed mid-write leaves nothing half-done and the next run
rebuilds; the same request made twice at once (threads or processes) builds once; a cancelled job stores nothing
and frees the worker; a diverging run fails clearly and stores nothing; malformed forget specs fail with one line;
hostile class and file names reach the pages and the HTML report escaped. Fast and on the CPU.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import clirun
from engine.config import DataSpec, ModelSpec, RunSpec, TrainConfig
from engine.errors import Diverged, UnlearnError
from engine.jobs import CANCELLED, DONE, FAILED, JobManager
from engine.run import AuditRequest, NotStored, Runner
from engine.store import ARRAYS, MANIFEST, WEIGHTS, Store
from engine.unlearning import get_method

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, *args: str, **kw) -> subprocess.Popen:
    """A child Python running ``code`` in the repository (engine importable), stdout/stderr piped."""
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, **kw)


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the child ended early ({proc.returncode}): {proc.stderr.read()[-2000:]}")
        if time.time() > deadline:
            proc.kill()
            raise AssertionError(f"{path.name} never appeared")
        time.sleep(0.02)


def _left_in_tmp(store: Store) -> list[Path]:
    return sorted((store.root / ".tmp").iterdir())


def _weights(tm) -> list[np.ndarray]:
    return [v.cpu().numpy() for v in tm.model.state_dict().values()]


# ------------------------------------------------------------------------------------------ damaged store files
def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flipped":  # same length, one byte changed in the middle: only the checksum can tell
        mid = len(data) // 2
        path.write_bytes(data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "deleted":
        path.unlink()
    else:
        raise ValueError(how)


@pytest.mark.parametrize("how", ["truncated", "flipped", "empty", "deleted"])
@pytest.mark.parametrize("kind, name", [("original", WEIGHTS), ("signals", ARRAYS), ("original", MANIFEST),
                                        ("signals", MANIFEST)])
def test_damaged_store_files_are_detected_and_rebuilt(tiny_spec, tmp_path, kind, name, how):
    store = Store(tmp_path)
    first = Runner(store).baseline(tiny_spec)
    art = first.original.artifact if kind == "original" else \
        next(a for a in store.list("signals") if a.manifest["model"] == first.original.key)
    _damage(art.path / name, how)
    # a page (the store-only runner) finds it absent instead of crashing on it
    with pytest.raises(NotStored):
        Runner(store, build=False).baseline(tiny_spec)
    again = Runner(store).baseline(tiny_spec)
    rebuilt = again.original
    assert rebuilt.key == first.original.key
    if kind == "original":
        assert not rebuilt.artifact.from_cache  # trained again: the same seed gives the same weights
        for a, b in zip(_weights(first.original), _weights(rebuilt)):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(again.signals["original"]["forget"]["loss"],
                                  first.signals["original"]["forget"]["loss"])
    assert Runner(store, build=False).baseline(tiny_spec).original.artifact.from_cache
    assert not [p for p in (store.root / kind).iterdir() if p.name.startswith(".")]  # no half-deleted leftovers


@pytest.mark.parametrize("manifest", ['[1, 2, 3]', '{"files": "nope"}', '{"kind": "original"}', "\x00\x01binary",
                                      '{"files": {"../../etc/passwd": "0"}}'])
def test_manifests_that_are_valid_files_but_wrong_are_absent(tmp_path, manifest):
    store = Store(tmp_path)
    art = store.save("thing", "k1", {"x": 1}, arrays={"a": np.arange(5)})
    (art.path / MANIFEST).write_text(manifest)
    assert store.load("thing", "k1") is None and not art.path.exists()
    assert store.cached("thing", "k1", lambda: store.save("thing", "k1", {"x": 2})).manifest["x"] == 2


# ------------------------------------------------------------------------------------------ killed mid-write
_KILLED_IN_SAVE = """
import os, sys, time
import numpy as np, torch
from engine import store as S
root, marker = sys.argv[1], sys.argv[2]
def stuck_fsync(fd):  # the files are written into the temporary directory; stop before the rename
    open(marker, "w").close()
    time.sleep(600)
S.os.fsync = stuck_fsync
S.Store(root).save("model", "abc", {"x": 1}, tensors={"w": torch.ones(1000, 100)}, arrays={"a": np.arange(10**5)})
"""


def test_a_writer_killed_in_save_leaves_no_artifact(tmp_path):
    root, marker = tmp_path / "store", tmp_path / "in-save"
    proc = _python(_KILLED_IN_SAVE, str(root), str(marker))
    _wait_for(marker, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert not (root / "model" / "abc").exists()
    left = list((root / ".tmp").iterdir())
    assert len(left) == 1 and (left[0] / WEIGHTS).exists()  # the half-written temporary, never renamed into place
    store = Store(root)  # opening the store sweeps temporaries of writers that are gone
    assert store.load("model", "abc") is None and _left_in_tmp(store) == []
    art = store.cached("model", "abc", lambda: store.save("model", "abc", {"x": 2}, tensors={"w": torch.zeros(3)}))
    assert not art.from_cache and art.manifest["x"] == 2


_KILLED_IN_TRAINING = """
import sys, time
from engine.config import DataSpec, ModelSpec, RunSpec, TrainConfig
from engine.run import Runner
from engine.store import Store
root, marker = sys.argv[1], sys.argv[2]
spec = RunSpec(data=DataSpec("digits", train_size=200), model=ModelSpec("mlp", 32),
               train=TrainConfig(epochs=4, batch_size=64, lr=0.1, augment=False), forget="random:0.1")
def progress(stage, done, total, metrics):
    if 0 < done < total:  # after the first epoch: mid-training, inside the store's lock for this model
        open(marker, "w").close()
        time.sleep(600)
Runner(Store(root), progress=progress).original(spec)
"""


def test_a_run_killed_while_training_leaves_nothing_and_the_next_run_rebuilds(tmp_path):
    """SIGKILL during a training (inside the store's per-key lock): nothing is stored, and the next run of the same
    model neither waits on the dead process's lock nor finds a half artifact: it trains and stores the model."""
    root, marker = tmp_path / "store", tmp_path / "training"
    proc = _python(_KILLED_IN_TRAINING, str(root), str(marker))
    _wait_for(marker, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    spec = RunSpec(data=DataSpec("digits", train_size=200), model=ModelSpec("mlp", 32),
                   train=TrainConfig(epochs=4, batch_size=64, lr=0.1, augment=False), forget="random:0.1")
    store = Store(root)
    assert store.list() == [] and list((root / ".locks").iterdir())  # the dead process's lock file is left
    got: list = []
    worker = threading.Thread(target=lambda: got.append(Runner(store).original(spec)), daemon=True)
    worker.start()
    worker.join(120)  # a lock still held by the dead process would block here
    assert got, "the next run hung on the killed run's lock"
    assert not got[0].artifact.from_cache and store.exists("original", got[0].key)
    assert _left_in_tmp(store) == []


# ------------------------------------------------------------------------------------------ the same request twice
def test_two_threads_asking_for_the_same_model_build_it_once(tiny_spec, tmp_path, monkeypatch):
    import engine.artifacts as run  # the artifact builders train the models

    calls: list[int] = []
    real = run.train_model

    def counting(*a, **kw):
        calls.append(1)
        time.sleep(0.3)  # a slow build: the other thread must wait for it, not start its own
        return real(*a, **kw)

    monkeypatch.setattr(run, "train_model", counting)
    store = Store(tmp_path)
    results: list = []
    barrier = threading.Barrier(2)

    def ask() -> None:
        barrier.wait()
        results.append(Runner(store).original(tiny_spec))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(calls) == 1 and len(results) == 2
    assert {r.key for r in results} == {results[0].key}
    assert sorted(r.artifact.from_cache for r in results) == [False, True]


def test_two_processes_training_the_same_model_train_it_once(tmp_path):
    args = [sys.executable, "-m", "engine", "train", "--kind", "original", "--store", str(tmp_path / "store"),
            "--set", "train.epochs=30", "--set", "data.train_size=200", "--width", "32"]
    procs = [subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-1000:] for o in outs]
    said = [next(line for line in o[0].splitlines() if line.startswith("original:")) for o in outs]
    assert sum("trained in" in s for s in said) == 1 and sum("from store" in s for s in said) == 1, said
    assert len(Store(tmp_path / "store").list("original")) == 1


def test_two_sessions_submitting_the_same_job_share_it():
    jm = JobManager()
    runs: list[int] = []
    gate = threading.Event()

    def work(progress, cancel):
        runs.append(1)
        gate.wait(10)
        return "model"

    barrier = threading.Barrier(2)
    jobs: list = []

    def submit(owner: str) -> None:
        barrier.wait()
        jobs.append(jm.submit("Train", work, key="spec-1", owner=owner))

    threads = [threading.Thread(target=submit, args=(o,)) for o in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    gate.set()
    assert jobs[0] is jobs[1] and jm.wait(jobs[0], 10).result == "model"
    assert runs == [1] and jobs[0].owners == {"a", "b"}


# ------------------------------------------------------------------------------------------ cancel and divergence
def test_a_cancelled_job_stores_nothing_and_frees_the_worker(tiny_spec, tmp_path):
    store = Store(tmp_path)
    jm = JobManager()
    long = replace(tiny_spec, train=replace(tiny_spec.train, epochs=100000))
    job = jm.submit("Train", lambda progress, cancel: Runner(store, progress=progress, cancel=cancel).baseline(long))
    deadline = time.time() + 60
    while job.done < 5 and time.time() < deadline:
        time.sleep(0.02)
    assert job.state == "running" and job.done >= 5
    t0 = time.time()
    job.cancel()
    assert jm.wait(job, 30).state == CANCELLED and time.time() - t0 < 10
    assert store.list() == [] and _left_in_tmp(store) == []
    after = jm.wait(jm.submit("Next", lambda progress, cancel: Runner(store).original(tiny_spec).key), 60)
    assert after.state == DONE and store.exists("original", after.result)


def test_a_diverging_training_says_so_and_stores_nothing(tiny_spec, tmp_path):
    store = Store(tmp_path)
    wild = replace(tiny_spec, train=replace(tiny_spec.train, lr=1e8, momentum=0.9))
    with pytest.raises(Diverged, match="lower the learning rate"):
        Runner(store).original(wild)
    assert store.list() == [] and _left_in_tmp(store) == []
    jm = JobManager()
    job = jm.wait(jm.submit("Train", lambda progress, cancel: Runner(store).original(wild)), 60)
    assert job.state == FAILED and "non-finite" in job.error and "lower the learning rate" in job.error
    assert "Traceback" not in job.error  # a user error: one clear line, not a stack


def test_a_huge_unlearning_rate_is_refused_before_anything_runs_and_stores_nothing(tiny_spec, tmp_path):
    """Methods' learning rates are bounded (``hp(max=…)``): a huge one is one clear error before any work; within the
    bounds a non-finite parameter would raise Diverged (``Unlearner.unlearn``)."""
    store = Store(tmp_path)
    runner = Runner(store)
    prep = runner.prepare(tiny_spec)
    original = runner.original(tiny_spec)
    for build in (lambda: runner.unlearned(get_method("ga", lr=1e12), prep, original),
                  lambda: AuditRequest.build(tiny_spec, ["ga"], overrides={"ga": {"lr": 1e12}})):
        with pytest.raises(UnlearnError, match=r"lr=\S+ is outside") as info:
            build()
        assert "\n" not in str(info.value)
    assert store.list("unlearned") == [] and _left_in_tmp(store) == []


def test_a_diverging_training_from_the_cli_is_one_line(tmp_path):
    out = clirun.run("train", "--kind", "original", "--store", str(tmp_path), "--set", "train.lr=1e8", "--set",
                     "train.momentum=0.9", "--set", "train.epochs=3")
    assert out.returncode == 2
    err = out.stderr.strip().splitlines()
    assert len(err) == 1 and "lower the learning rate" in err[0] and "Traceback" not in out.stderr
    assert Store(tmp_path).list() == []


# ------------------------------------------------------------------------------------------ malformed forget specs
BAD_SPECS = ["", "random", "random:", "random:abc", "random:1.5", "random:-3", "random:0", "random:300",
             "class:", "class:x", "class:99", "class:0,1,2,3,4,5,6,7,8,9", "indices:", "indices:1,,2",
             "indices:-1", "indices:5-3", "indices:99999", "indices:1,1", "indices:" + ",".join(["7"] * 5000),
             "indices:0-99999999999999999999999", "bogus:1", "indices:\x00", "random:nan", "random:inf",
             "indices:/nonexistent/file", "class:1e999", "indices:" + "x" * 5000]


@pytest.mark.parametrize("spec", BAD_SPECS)
def test_malformed_forget_specs_are_one_clear_line(tiny_spec, spec):
    with pytest.raises(UnlearnError) as info:
        Runner(Store()).prepare(replace(tiny_spec, forget=spec))
    message = str(info.value)
    assert "\n" not in message and 0 < len(message) < 400, message


@pytest.mark.parametrize("content", [b"\xff\xfe\x00binary\x89PNG", b"1\n2\nthree\n", b"1\n" * 3 + b"\xc3\x28\n"])
def test_malformed_index_files_are_one_clear_line(tiny_spec, tmp_path, content):
    path = tmp_path / "forget.txt"
    path.write_bytes(content)
    with pytest.raises(UnlearnError) as info:
        Runner(Store()).prepare(replace(tiny_spec, forget=f"indices:{path}"))
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_a_huge_index_file_is_refused_without_reading_it_all(tiny_spec, tmp_path):
    from engine import forget

    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        f.truncate(forget.MAX_INDEX_FILE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(UnlearnError, match="too large"):
        Runner(Store()).prepare(replace(tiny_spec, forget=f"indices:{path}"))


def test_an_unreadable_index_file_is_one_clear_line(tiny_spec, tmp_path, monkeypatch):
    import builtins

    path = tmp_path / "secret.txt"
    path.write_text("1\n2\n")
    real_open = builtins.open

    def denied(file, *a, **kw):  # as for a file of another user (the tests may run as root, who reads anything)
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **kw)

    monkeypatch.setattr(builtins, "open", denied)
    with pytest.raises(UnlearnError, match="cannot read the index file") as info:
        Runner(Store()).prepare(replace(tiny_spec, forget=f"indices:{path}"))
    assert "\n" not in str(info.value) and "Permission denied" in str(info.value)


@pytest.mark.parametrize("spec", ["random:1.5", "class:99", "indices:5-3", "random:nan", "indices:" + "9" * 400])
def test_malformed_forget_specs_from_an_address_show_an_error_on_the_page(spec):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "1_Setup_and_train.py"), default_timeout=60)
    at.query_params["forget"] = spec
    at.run()
    assert not at.exception, at.exception
    assert at.error, "no error box"
    assert not [b for b in at.button if b.key == "train"]  # nothing can be started on a bad spec


@pytest.mark.parametrize("spec", ["indices:abc", "indices:/etc/passwd", "indices:/dev/zero", "indices:~/.ssh/id_rsa"])
def test_file_specs_from_an_address_are_refused_unread(spec, monkeypatch):
    """A spec naming a file, from a shared address: the page says so and keeps the preset's forget set; the server
    reads nothing."""
    from streamlit.testing.v1 import AppTest

    from engine import forget
    from engine.presets import default_spec

    def no_reading(path):
        raise AssertionError(f"the server read {path}")

    monkeypatch.setattr(forget, "_read_index_file", no_reading)
    at = AppTest.from_file(str(ROOT / "pages" / "1_Setup_and_train.py"), default_timeout=60)
    at.query_params["forget"] = spec
    at.run()
    assert not at.exception, at.exception
    assert any("command line only" in e.value for e in at.error)
    preset = default_spec("digits").forget
    assert f"forget `{preset}`" in at.caption[0].value  # the preset's forget set is used instead


# ------------------------------------------------------------------------------------------ hostile names
#: Folder names a user (or an archive they unpacked) can give classes and data sets. A folder name cannot hold "/",
#: so the script tag is written with the markup that can.
HOSTILE_CLASSES = ["<img src=x onerror=alert(1)>", "'; DROP TABLE runs; --", "**bold** [link](javascript:alert(1))",
                   "{{7*7}} ${7*7} <b>"]
HOSTILE_FOLDER = "data <svg onload=alert(2)> '\" & {{x}}"


def _hostile_imagefolder(root: Path) -> Path:
    from PIL import Image

    folder = root / HOSTILE_FOLDER
    rng = np.random.default_rng(0)
    for c, name in enumerate(HOSTILE_CLASSES):
        (folder / name).mkdir(parents=True)
        for i in range(24):  # 96 images: a test split of about 20, enough for every audit
            img = rng.integers(0, 60, (8, 8, 3), dtype=np.uint8)
            img[:, :, c % 3] += 150  # each class its own colour: learnable
            Image.fromarray(img).save(folder / name / f"<b onclick=alert({i})> '{i}'.png")
    return folder


def _hostile_spec(folder: Path) -> RunSpec:
    return RunSpec(data=DataSpec("imagefolder", path=str(folder), image_size=8, val_fraction=0.5),
                   model=ModelSpec("mlp", 16), train=TrainConfig(epochs=3, batch_size=16, lr=0.1, augment=False),
                   forget="random:0.25")


def test_hostile_class_and_file_names_are_escaped_in_the_html_report(tmp_path):
    from engine import report
    from engine.data import load_dataset

    folder = _hostile_imagefolder(tmp_path)
    spec = _hostile_spec(folder)
    assert load_dataset(spec.data).classes == sorted(HOSTILE_CLASSES)
    req = AuditRequest.build(spec, ["ft"], [0], k=2)
    cmp = Runner(Store(tmp_path / "store")).compare(req)
    html = report.html_report(cmp, include_plotlyjs="cdn", title=f"{HOSTILE_FOLDER} {HOSTILE_CLASSES[0]}")
    for raw in (*HOSTILE_CLASSES, HOSTILE_FOLDER, "<svg onload", "<img src=x"):
        assert raw not in html, raw
    # the data set's folder (in the run spec) and the title are there, escaped
    assert "&lt;svg onload=alert(2)&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_hostile_class_names_reach_the_pages_escaped(tmp_path):
    """An image folder whose classes are named with HTML, SQL and Markdown: the Setup page and the Adversarial page
    (whose captions name classes) show them without exception, and no Markdown element, caption or image caption
    carries a name unescaped."""
    from streamlit.testing.v1 import AppTest

    from engine.presets import default_spec

    home = Path(os.environ["UNLEARN_HOME"])
    (home / "data").mkdir(parents=True, exist_ok=True)
    os.symlink(_hostile_imagefolder(tmp_path), home / "data" / "imagefolder")  # "your own image folder"
    params = {"ds": "imagefolder", "model": "mlp", "forget": "random:0.25", "methods": "ft", "seeds": "0", "k": "2",
              "epochs": "5"}  # the preset's 50 epochs are not what this test is about

    setup = AppTest.from_file(str(ROOT / "pages" / "1_Setup_and_train.py"), default_timeout=120)
    setup.query_params.update(params)
    setup.run()
    assert not setup.exception, setup.exception
    assert not setup.error, [e.value for e in setup.error]
    _assert_no_raw_markup(setup)
    assert set(setup.dataframe[0].value["label"]) <= set(HOSTILE_CLASSES)  # a dataframe cell is text, not markup

    # the audit the Adversarial page shows (the page's own spec: the preset with the address's forget set)
    from engine.models import MODELS

    spec = default_spec("imagefolder")  # as the sidebar builds it from the address
    spec = replace(spec, forget="random:0.25", model=replace(spec.model, arch="mlp", width=MODELS["mlp"].default_width),
                   train=replace(spec.train, epochs=5))
    Runner(Store(home / "store")).compare(AuditRequest.build(spec, ["ft"], [0], k=2))
    adv = AppTest.from_file(str(ROOT / "pages" / "4_Adversarial.py"), default_timeout=120)
    adv.query_params.update(params)
    deadline = time.time() + 240
    while time.time() < deadline:
        adv.run()
        assert not adv.exception, adv.exception
        if len(adv.get("plotly_chart")) == 2:
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the Adversarial page never drew its charts")
    _assert_no_raw_markup(adv)
    captions = _image_captions(adv)
    assert any("\\<img src\\=x" in c for c in captions), captions[:5]  # the names are there, escaped


def _image_captions(at) -> list[str]:
    return [c for el in at.get("image") for c in el.captions]


def _assert_no_raw_markup(at) -> None:
    """No Markdown element (markdown, caption, alert boxes, titles) nor image caption holds a hostile name verbatim,
    and none allows HTML."""
    values = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "header", "subheader"):
        for el in at.get(kind):
            values.append(str(getattr(el, "value", "")))
            assert not getattr(getattr(el, "proto", None), "allow_html", False), (kind, values[-1])
    values += _image_captions(at)
    for value in values:
        for raw in HOSTILE_CLASSES:
            assert raw not in value, value

"""Store faults (issue 18, finding 8): a read-only store, a full disk, files missing behind a manifest that was
rewritten to hide them, and a lost reference model that must be rebuilt with the bytes it had.

Real faults where they are cheap: a read-only bind mount and a 1 MB tmpfs (both need root; skipped without it), and
the same faults injected by monkeypatch so the classes of case run anywhere. Each fault is one
:class:`UnlearnError` line naming no server path, and the store stays consistent: an artifact is there whole or
not at all, and the next run with room to write rebuilds what is missing.
"""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import UnlearnError
from engine.run import AuditRequest, Runner
from engine.store import ARRAYS, MANIFEST, WEIGHTS, Store


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def read_only(tmp_path):
    """``(src, ro)``: ``ro`` shows ``src`` read-only (a bind mount remounted ro)."""
    src, ro = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    ro.mkdir()
    if not _mount("--bind", str(src), str(ro)):
        pytest.skip("cannot bind-mount here (needs root)")
    if not _mount("-o", "remount,bind,ro", str(ro)):
        _mount_off(ro)
        pytest.skip("cannot remount read-only here")
    yield src, ro
    _mount_off(ro)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MB tmpfs: a real full disk."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=1M", "tmpfs", str(disk)):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield disk
    _mount_off(disk)


def _mount_off(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True)


def _one_line(exc: pytest.ExceptionInfo, *forbidden: str) -> str:
    text = str(exc.value)
    assert "\n" not in text and "Traceback" not in text
    for f in forbidden:
        assert f not in text, (f, text)
    return text


def _consistent(store: Store) -> None:
    """Nothing half-written: no temporary left, every artifact loads with its checksums."""
    assert list((store.root / ".tmp").iterdir()) == []
    for kind in (p for p in store.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for d in kind.iterdir():
            assert not d.name.startswith("."), d
            assert store.load(kind.name, d.name) is not None, d


# ------------------------------------------------------------------------------------------ read-only store
def test_a_read_only_store_reads_and_refuses_to_build_in_one_line(read_only, tiny_spec):
    src, ro = read_only
    first = Runner(Store(src / "store")).baseline(tiny_spec)
    store = Store(ro / "store")  # opening it writes nothing
    again = Runner(store).baseline(tiny_spec)  # what is stored is read
    assert again.original.artifact.from_cache and again.original.key == first.original.key
    other = tiny_spec.__class__(**{**tiny_spec.__dict__, "seed": 1})
    with pytest.raises(UnlearnError, match="the run store is read-only .*set UNLEARN_HOME to a writable folder") as exc:
        Runner(store).baseline(other)
    _one_line(exc, str(ro), str(src))


def test_a_read_only_copy_without_its_working_folders_still_reads(read_only, tiny_spec):
    src, ro = read_only
    first = Runner(Store(src / "store")).baseline(tiny_spec)
    shutil.rmtree(src / "store" / ".tmp")
    shutil.rmtree(src / "store" / ".locks")
    again = Runner(Store(ro / "store"), build=False).baseline(tiny_spec)
    assert again.original.key == first.original.key


def test_a_store_that_cannot_be_created_is_one_line(read_only):
    _, ro = read_only
    with pytest.raises(UnlearnError, match="read-only") as exc:
        Store(ro / "new" / "store")
    _one_line(exc, str(ro))


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES, errno.EPERM])
def test_lock_and_save_faults_are_one_line_without_root(tmp_path, monkeypatch, code):
    """The same fault injected: the lock file cannot be created, then the temporary cannot be written."""
    import filelock

    store = Store(tmp_path / "store")

    def refuse(*a, **kw):
        raise OSError(code, os_strerror(code), str(tmp_path / "store" / ".locks" / "x.lock"))

    monkeypatch.setattr(filelock.FileLock, "acquire", refuse)
    with pytest.raises(UnlearnError, match="read-only") as exc:
        store.cached("thing", "k1", lambda: store.save("thing", "k1", {"x": 1}))
    _one_line(exc, str(tmp_path))
    monkeypatch.undo()
    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(UnlearnError, match="read-only"):
        store.save("thing", "k1", {"x": 1})
    monkeypatch.undo()
    _consistent(store)


def os_strerror(code: int) -> str:
    import os

    return os.strerror(code)


# ------------------------------------------------------------------------------------------ full disk
def test_a_full_disk_is_one_line_and_leaves_the_store_consistent(tiny_disk):
    store = Store(tiny_disk / "store")
    store.save("thing", "small", {"x": 1}, arrays={"a": np.arange(10)})
    with pytest.raises(UnlearnError, match="the disk that holds the run store is full") as exc:
        store.save("thing", "big", {"x": 2}, tensors={"w": torch.ones(600, 1000)})  # 2.4 MB of weights
    _one_line(exc, str(tiny_disk))
    with pytest.raises(UnlearnError, match="is full"):
        store.save("thing", "big", {"x": 2}, arrays={"a": np.ones((600, 1000))})  # the same through numpy
    assert store.load("thing", "big") is None
    _consistent(store)
    assert store.load("thing", "small").arrays()["a"].tolist() == list(range(10))
    # room again: the same save now works
    store.save("thing", "big", {"x": 2}, tensors={"w": torch.ones(100, 100)})
    _consistent(store)


def test_a_full_disk_during_a_run_is_one_line_and_the_next_run_builds(tiny_disk, tiny_spec, monkeypatch):
    store = Store(tiny_disk / "store")
    filler = tiny_disk / "filler"
    free = shutil.disk_usage(tiny_disk).free
    filler.write_bytes(b"\0" * max(0, free - 4096))
    with pytest.raises(UnlearnError, match="is full") as exc:
        Runner(store).baseline(tiny_spec)
    _one_line(exc, str(tiny_disk))
    _consistent(store)
    filler.unlink()
    assert Runner(store).baseline(tiny_spec).original.artifact is not None
    _consistent(store)


def test_enospc_injected_is_one_line_without_root(tmp_path, monkeypatch):
    store = Store(tmp_path / "store")

    def full(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(UnlearnError, match="is full"):
        store.save("thing", "k", {"x": 1}, arrays={"a": np.arange(3)})
    monkeypatch.undo()
    _consistent(store)
    assert store.load("thing", "k") is None


# ------------------------------------------------------------------------------------------ files behind a manifest
def _hide(art_path: Path, name: str) -> None:
    """Rewrite the manifest to list no ``name`` and delete the file: checksums alone cannot tell."""
    m = json.loads((art_path / MANIFEST).read_text())
    m["files"].pop(name)
    (art_path / MANIFEST).write_text(json.dumps(m))
    (art_path / name).unlink()


@pytest.mark.parametrize("kind, name", [("original", WEIGHTS), ("signals", ARRAYS), ("reference", WEIGHTS),
                                        ("reference", ARRAYS)])
def test_a_manifest_rewritten_to_hide_deleted_files_is_detected_and_rebuilt(tiny_spec, tmp_path, kind, name):
    store = Store(tmp_path / "store")
    req = AuditRequest.build(tiny_spec, ["ft"], [0], k=2, retrains=1)
    first = Runner(store).compare(req)
    art = store.list(kind)[0]
    before = (art.key, art.manifest["files"].get(WEIGHTS))
    _hide(art.path, name)
    again = Runner(store).compare(req)  # no FileNotFoundError: the artifact counts as absent and is rebuilt
    rebuilt = store.load(kind, before[0])
    assert rebuilt is not None and rebuilt.manifest["files"].get(WEIGHTS) == before[1]  # the same bytes
    assert again.table()["ft_auc_mean"].tolist() == first.table()["ft_auc_mean"].tolist()
    _consistent(store)


def test_a_missing_file_of_any_kind_is_one_line_and_removed(tmp_path):
    store = Store(tmp_path / "store")
    art = store.save("thing", "k1", {"x": 1}, tensors={"w": torch.ones(3)}, arrays={"a": np.arange(3)})
    _hide(art.path, WEIGHTS)
    art = store.load("thing", "k1")  # a kind without required files: loads, then lacks its weights
    with pytest.raises(UnlearnError, match="has no weights.safetensors .*run again to rebuild it") as exc:
        art.tensors()
    _one_line(exc, str(tmp_path))
    assert store.load("thing", "k1") is None  # removed: the next run rebuilds it
    _consistent(store)


def test_a_manifest_nested_too_deeply_counts_as_corrupt(tmp_path):
    store = Store(tmp_path / "store")
    art = store.save("thing", "k1", {"x": 1})
    (art.path / MANIFEST).write_text("[" * 100_000)
    assert store.load("thing", "k1") is None and not art.path.exists()


# ------------------------------------------------------------------------------------------ bit-identical rebuilds
def _reference_bytes(store: Store) -> list[tuple[str, str, bytes]]:
    arts = sorted(store.list("reference"), key=lambda a: a.manifest["index"])
    return [(a.manifest["files"][WEIGHTS], a.manifest["files"][ARRAYS], a.arrays()["logits"].tobytes()) for a in arts]


@pytest.mark.parametrize("training", ["ensemble", "single"])
@pytest.mark.parametrize("how", ["flipped", "deleted", "hidden"])
def test_a_lost_reference_model_is_rebuilt_bit_identical(tiny_spec, tmp_path, training, how):
    """The ensemble trains a fixed group at once; a member lost alone used to be rebuilt alone (another float
    rounding: other bytes, FT AUC moved). It is now rebuilt with its group, as it was built."""
    store = Store(tmp_path / "store")
    Runner(store).references(tiny_spec, k=4, training=training)
    before = _reference_bytes(store)
    lost = sorted(store.list("reference"), key=lambda a: a.manifest["index"])[2]
    if how == "flipped":
        w = lost.path / WEIGHTS
        data = bytearray(w.read_bytes())
        data[len(data) // 2] ^= 0xFF
        w.write_bytes(bytes(data))
    elif how == "deleted":
        shutil.rmtree(lost.path)
    else:
        _hide(lost.path, WEIGHTS)
    refs = Runner(store).references(tiny_spec, k=4, training=training)
    assert refs.built == 1
    assert _reference_bytes(store) == before
    _consistent(store)


def test_a_read_only_home_while_unpacking_mnist_is_one_line(read_only, tmp_path, monkeypatch):
    """The MNIST reader unpacks .gz files into UNLEARN_HOME's data cache: a read-only home is one line too."""
    import gzip

    from engine.config import DataSpec
    from engine.data import load_dataset
    from engine.data.readers import _IDX_FILES

    src, ro = read_only
    data = tmp_path / "data"
    (data / "MNIST").mkdir(parents=True)
    for f in _IDX_FILES:
        with gzip.open(data / "MNIST" / f"{f}.gz", "wb") as g:
            g.write(b"\0" * 16)
    monkeypatch.setenv("UNLEARN_HOME", str(ro))
    with pytest.raises(UnlearnError, match="UNLEARN_HOME's data cache is read-only") as exc:
        load_dataset(DataSpec("mnist"), data_dir=data)
    _one_line(exc, str(ro))

"""Run store: round trip, atomicity, corruption, two processes at once."""

import json
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.store import Store


def test_roundtrip(tmp_path):
    store = Store(tmp_path)
    art = store.save("thing", "abc123", {"seconds": 1.5}, tensors={"w": torch.ones(3)},
                     arrays={"loss": np.arange(4.0)})
    assert not art.from_cache
    again = store.load("thing", "abc123")
    assert again.from_cache and again.manifest["seconds"] == 1.5
    assert torch.equal(again.tensors()["w"], torch.ones(3))
    assert np.array_equal(again.arrays()["loss"], np.arange(4.0))
    assert again.manifest["versions"]["torch"] == torch.__version__


def test_failed_build_leaves_nothing(tmp_path):
    store = Store(tmp_path)

    def build():
        raise RuntimeError("killed mid-way")

    with pytest.raises(RuntimeError):
        store.cached("thing", "k1", build)
    assert store.load("thing", "k1") is None
    assert not (tmp_path / "thing" / "k1").exists()


def test_object_arrays_are_refused_and_leave_nothing(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(Exception, match="object"):
        store.save("thing", "k2", {}, arrays={"bad": np.array([{"a": 1}], dtype=object)})
    assert list((tmp_path / ".tmp").iterdir()) == []
    assert store.load("thing", "k2") is None


def test_corrupt_file_is_detected_and_rebuilt(tmp_path):
    store = Store(tmp_path)
    store.save("thing", "k3", {}, arrays={"a": np.zeros(10)})
    path = tmp_path / "thing" / "k3" / "arrays.npz"
    path.write_bytes(path.read_bytes()[:-7] + b"garbage")
    assert store.load("thing", "k3") is None  # detected, removed
    calls = []

    def build():
        calls.append(1)
        return store.save("thing", "k3", {}, arrays={"a": np.ones(10)})

    art = store.cached("thing", "k3", build)
    assert calls == [1] and np.array_equal(art.arrays()["a"], np.ones(10))


def test_truncated_manifest_is_treated_as_absent(tmp_path):
    store = Store(tmp_path)
    store.save("thing", "k4", {"x": 1})
    (tmp_path / "thing" / "k4" / "manifest.json").write_text('{"kind": "thi')
    assert store.load("thing", "k4") is None


def test_stale_temporaries_are_swept(tmp_path):
    import os

    store = Store(tmp_path)
    stale = tmp_path / ".tmp" / "thing-k-dead"
    stale.mkdir()
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert store.sweep_tmp() == 1 and not stale.exists()


def _worker(root: str, counter: str, out: str) -> None:
    store = Store(root)

    def build():
        with open(counter, "a") as f:
            f.write("built\n")
        time.sleep(0.5)  # a slow build: the other process must wait, not build again
        return store.save("model", "samekey", {"by": out}, arrays={"a": np.arange(3)})

    art = store.cached("model", "samekey", build)
    Path(out).write_text(json.dumps(art.manifest["by"]))


def test_two_processes_build_once(tmp_path):
    counter = tmp_path / "count.txt"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(str(tmp_path / "store"), str(counter), str(tmp_path / f"out{i}")))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(240)
        assert p.exitcode == 0
    assert counter.read_text().count("built") == 1
    winners = {(tmp_path / f"out{i}").read_text() for i in range(2)}
    assert len(winners) == 1  # both read the one stored artifact


def test_invalid_names_are_refused(tmp_path):
    from engine.errors import UnlearnError

    with pytest.raises(UnlearnError):
        Store(tmp_path).path("thing", "../escape")


def test_store_does_not_import_the_data_layer():
    import subprocess
    import sys

    code = "import sys, engine.store; assert 'engine.data' not in sys.modules, 'engine.store imports engine.data'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


# ------------------------------------------------------------------------------------------ export / import
def _tar(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()


def _members(data: bytes) -> dict[str, bytes]:
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}


def test_export_import_roundtrip_between_stores(tmp_path):
    src, dst = Store(tmp_path / "a"), Store(tmp_path / "b")
    src.save("model", "k1", {"seconds": 2.0}, tensors={"w": torch.arange(4.0)}, arrays={"a": np.arange(3)})
    blob = src.export("model", "k1")
    assert sorted(_members(blob)) == ["model/k1/arrays.npz", "model/k1/manifest.json", "model/k1/weights.safetensors"]
    art = dst.import_bytes(blob)
    assert not art.from_cache and art.key == "k1" and art.manifest["seconds"] == 2.0
    again = dst.load("model", "k1")  # verified against the manifest checksums
    assert torch.equal(again.tensors()["w"], torch.arange(4.0)) and np.array_equal(again.arrays()["a"], np.arange(3))
    assert dst.import_bytes(blob).from_cache  # already held: kept, nothing rewritten
    assert list((tmp_path / "b" / ".tmp").iterdir()) == []
    with pytest.raises(Exception, match="not in the run store"):
        src.export("model", "absent")


def test_import_refuses_traversal_links_tampering_and_strays(tmp_path):
    from engine.errors import UnlearnError

    src, dst = Store(tmp_path / "a"), Store(tmp_path / "b")
    src.save("model", "k1", {}, arrays={"a": np.arange(3)})
    good = _members(src.export("model", "k1"))
    manifest, arrays = good["model/k1/manifest.json"], good["model/k1/arrays.npz"]
    bad = {
        "traversal": _tar({"model/k1/manifest.json": manifest, "model/k1/../../evil/arrays.npz": arrays}),
        "absolute": _tar({"/model/k1/manifest.json": manifest}),
        "dotdot key": _tar({"model/../manifest.json": manifest}),
        "nested": _tar({"model/k1/sub/arrays.npz": arrays, "model/k1/manifest.json": manifest}),
        "unknown file": _tar({"model/k1/manifest.json": manifest, "model/k1/evil.py": b"x"}),
        "link": _tar({"model/k1/manifest.json": manifest}, links={"model/k1/arrays.npz": "/etc/passwd"}),
        "tampered": _tar({"model/k1/manifest.json": manifest, "model/k1/arrays.npz": arrays[:-3] + b"xyz"}),
        "missing file": _tar({"model/k1/manifest.json": manifest}),
        "renamed": _tar({"model/k2/manifest.json": manifest, "model/k2/arrays.npz": arrays}),
        "two artifacts": _tar({"model/k1/manifest.json": manifest, "model/k3/arrays.npz": arrays}),
        "not a tar": b"garbage" * 100,
    }
    for why, blob in bad.items():
        with pytest.raises(UnlearnError):
            dst.import_bytes(blob)
        assert dst.list() == [], why
    assert not (tmp_path / "evil").exists() and list((tmp_path / "b" / ".tmp").iterdir()) == []

"""Hostile files (issue 18, findings 3, 5 and 9): image folders read with limits, decompression bombs, safetensors
headers that nest too deeply, index files whose contents must not be echoed, and server paths that must not reach
pages, the history or the HTML report.

Every case is a class of input, not one file: the folder limits are tested by lowering them (monkeypatch) and
crossing each by one; each must end in one :class:`UnlearnError` line, at once, naming no absolute path and quoting
no file's bytes. Fast and on the CPU.
"""

from __future__ import annotations

import os
import struct
import threading
import time
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.config import DataSpec
from engine.data import folder as F
from engine.data import load_dataset
from engine.errors import Cancelled, UnlearnError
from engine.run import AuditRequest, Runner


def _png(path: Path, w: int = 6, h: int = 5, color: tuple = (200, 10, 10)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (w, h), color).save(path)


def _folder(root: Path, classes: int = 2, per_class: int = 5) -> Path:
    for c in range(classes):
        for i in range(per_class):
            _png(root / f"class{c:04d}" / f"{i}.png", color=(c * 40 % 256, 50, 90))
    return root


def _load(path, **kw):
    from engine.data.splits import _CACHE

    _CACHE.clear()  # load_dataset memoises per spec: each read here must reach the reader
    return load_dataset(DataSpec("imagefolder", path=str(path), image_size=kw.pop("image_size", 8), val_fraction=0.0),
                        **kw)


def _one_line(exc: pytest.ExceptionInfo, *forbidden: str) -> str:
    text = str(exc.value)
    assert "\n" not in text and "Traceback" not in text
    for f in forbidden:
        assert f not in text, (f, text)
    return text


# ------------------------------------------------------------------------------------------ where: system folders
@pytest.mark.parametrize("path", ["/", "/proc/self", "/proc", "/sys", "/dev", "/proc/self/root/proc", "//"])
def test_system_folders_are_refused_before_anything_is_listed(path, monkeypatch):
    listed = []
    monkeypatch.setattr(F.os, "scandir", lambda p: listed.append(p) or os.scandir(p))
    t0 = time.monotonic()
    with pytest.raises(UnlearnError, match="system folder|not a folder") as exc:
        _load(path)
    assert time.monotonic() - t0 < 5 and listed == []
    _one_line(exc)


def test_a_path_that_is_not_a_folder_is_one_line(tmp_path):
    (tmp_path / "file.png").write_bytes(b"x")
    for p in (tmp_path / "absent", tmp_path / "file.png", "bad\0name"):
        with pytest.raises(UnlearnError, match="is not a folder"):
            _load(p)


# ------------------------------------------------------------------------------------------ how much: every limit
def test_an_ordinary_folder_still_loads_in_torchvisions_order(tmp_path):
    from torchvision.datasets import ImageFolder

    root = _folder(tmp_path / "pets", classes=3, per_class=5)
    _png(root / "class0000" / "sub" / "a.png")
    _png(root / "class0000" / "sub-b" / "b.png")
    (root / "class0001" / "notes.txt").write_text("not an image")
    ds = _load(root)
    assert ds.classes == ImageFolder(str(root)).classes
    assert len(ds.y_train) + len(ds.y_test) == len(ImageFolder(str(root)).samples) == 17
    samples, _ = zip(*ImageFolder(str(root)).samples)
    listing = F._list(root.resolve(), root.resolve(), F._Budget(time.monotonic()))
    assert [str(p) for _, files in listing for p in files] == list(samples)


def test_too_many_classes_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "MAX_CLASSES", 5)
    _folder(tmp_path / "ok", classes=5)
    _load(tmp_path / "ok")
    _folder(tmp_path / "many", classes=6)
    with pytest.raises(UnlearnError, match="more than 5 class sub-folders") as exc:
        _load(tmp_path / "many")
    _one_line(exc, str(tmp_path))


def test_two_thousand_classes_with_the_default_limit_is_one_line(tmp_path):
    root = tmp_path / "classes"
    for c in range(2000):  # empty class folders: the count alone is refused, before any image is read
        (root / f"c{c:04d}").mkdir(parents=True)
    with pytest.raises(UnlearnError, match="more than 1,000 class sub-folders"):
        _load(root)


def test_many_classes_with_too_few_images_to_split_is_one_line(tmp_path):
    root = _folder(tmp_path / "thin", classes=30, per_class=2)  # 60 images: a 20 % test split of 12 < 30 classes
    with pytest.raises(UnlearnError, match="cannot be split 80/20") as exc:
        _load(root)
    _one_line(exc, str(tmp_path))


def test_too_many_images_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "MAX_FILES", 9)
    _folder(tmp_path / "ok", classes=2, per_class=4)
    _load(tmp_path / "ok", image_size=4)
    _folder(tmp_path / "big", classes=2, per_class=5)
    with pytest.raises(UnlearnError, match="more than 9 images"):
        _load(tmp_path / "big")


def test_too_many_entries_of_any_kind_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "MAX_ENTRIES", 50)
    root = _folder(tmp_path / "junk", classes=2, per_class=5)
    for i in range(60):  # files that are not images still cost a look
        (root / "class0000" / f"{i}.txt").write_text("x")
    with pytest.raises(UnlearnError, match="more than 50 entries"):
        _load(root)


def test_folders_nested_too_deep_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "MAX_DEPTH", 2)
    root = _folder(tmp_path / "deep", classes=2, per_class=5)
    _png(root / "class0000" / "a" / "b" / "x.png")
    _load(root)
    _png(root / "class0001" / "a" / "b" / "c" / "x.png")
    with pytest.raises(UnlearnError, match="more than 2 folders deep") as exc:
        _load(root)
    _one_line(exc, str(tmp_path))


def test_a_huge_image_size_is_refused(tmp_path, monkeypatch):
    root = _folder(tmp_path / "ok")
    with pytest.raises(UnlearnError, match="image_size must be between"):
        _load(root, image_size=100_000)
    monkeypatch.setattr(F, "MAX_BYTES", 10 * 3 * 16 * 16 - 1)
    with pytest.raises(UnlearnError, match="need .* GB"):
        _load(root, image_size=16)


def test_the_time_budget_stops_a_slow_read(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "TIME_BUDGET_S", 0.0)
    monkeypatch.setattr(F, "_CHECK_EVERY", 1)
    with pytest.raises(UnlearnError, match="took more than 0 s"):
        _load(_folder(tmp_path / "slow"))


def test_a_cancel_stops_the_read_and_a_closed_tabs_job_ends(tmp_path, monkeypatch):
    from engine.training import CancelToken

    monkeypatch.setattr(F, "_CHECK_EVERY", 1)
    root = _folder(tmp_path / "c", classes=2, per_class=40)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        _load(root, cancel=token)
    # through the runner, as a dashboard job runs it: the token it was given reaches the reader
    from engine.run import Runner
    from engine.store import Store

    token = CancelToken()
    seen = threading.Event()
    real = F._read_image

    def slow(*a, **kw):
        seen.set()
        time.sleep(0.01)
        return real(*a, **kw)

    monkeypatch.setattr(F, "_read_image", slow)
    from engine.presets import default_spec

    spec = replace(default_spec("imagefolder"), data=DataSpec("imagefolder", path=str(root), image_size=8))
    errors = []
    th = threading.Thread(target=lambda: errors.append(_catch(lambda: Runner(Store(tmp_path / "s"),
                                                                             cancel=token).data(spec))))
    th.start()
    assert seen.wait(30)
    token.cancel()
    th.join(30)
    assert not th.is_alive() and isinstance(errors[0], Cancelled)


def _catch(fn):
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - the test inspects it
        return exc
    return None


# ------------------------------------------------------------------------------------------ links and special files
def test_a_link_out_of_the_folder_is_refused_and_its_target_not_read(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n")
    root = _folder(tmp_path / "links")
    os.symlink(secret, root / "class0000" / "stolen.png")
    with pytest.raises(UnlearnError, match="links outside the folder") as exc:
        _load(root)
    _one_line(exc, "root:x", str(tmp_path))
    os.remove(root / "class0000" / "stolen.png")
    os.symlink("/etc/passwd", root / "class0001" / "passwd.png")
    with pytest.raises(UnlearnError, match="links outside the folder") as exc:
        _load(root)
    _one_line(exc, "root:", "/etc/passwd")


def test_links_inside_the_folder_to_files_are_followed_and_to_folders_refused(tmp_path):
    root = _folder(tmp_path / "inner")
    os.symlink(root / "class0000" / "0.png", root / "class0000" / "again.png")
    ds = _load(root)
    assert len(ds.y_train) + len(ds.y_test) == 11
    os.symlink(root / "class0000", root / "class0001" / "loop")  # a loop back up: never walked
    os.symlink(root / "class0001", root / "class0002")  # a class that is a link to another class
    with pytest.raises(UnlearnError, match="link to a folder"):
        _load(root)


def test_broken_and_looping_file_links_are_one_line(tmp_path):
    root = _folder(tmp_path / "broken")
    os.symlink(root / "class0000" / "absent.png", root / "class0000" / "dangling.png")
    with pytest.raises(UnlearnError, match="broken or looping link"):
        _load(root)
    os.remove(root / "class0000" / "dangling.png")
    os.symlink(root / "class0000" / "self.png", root / "class0000" / "self.png")
    with pytest.raises(UnlearnError, match="broken or looping link"):
        _load(root)


def test_a_fifo_named_like_an_image_is_refused_without_opening_it(tmp_path):
    root = _folder(tmp_path / "fifo")
    os.mkfifo(root / "class0000" / "pipe.png")  # opening it would block forever
    t0 = time.monotonic()
    with pytest.raises(UnlearnError, match="not a regular file"):
        _load(root)
    assert time.monotonic() - t0 < 10


# ------------------------------------------------------------------------------------------ decompression bombs
def _png_bomb(path: Path, w: int, h: int) -> None:
    """A real PNG of w×h black 1-bit pixels: a few kB on disk, w*h pixels once decoded."""
    row = b"\x00" + b"\x00" * ((w + 7) // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(h)) + comp.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def test_a_20000_by_20000_png_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    from PIL import ImageFile

    root = _folder(tmp_path / "bomb")
    _png_bomb(root / "class0001" / "bomb.png", 20000, 20000)
    assert (root / "class0001" / "bomb.png").stat().st_size < 200_000
    decoded, real = [], ImageFile.ImageFile.load

    def load(self):
        decoded.append(self.size)
        return real(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    with pytest.raises(UnlearnError, match="bomb.png is larger than 67,108,864 pixels") as exc:
        _load(root)
    _one_line(exc, str(tmp_path))
    assert (20000, 20000) not in decoded and (6, 5) in decoded


def test_an_image_over_our_limit_but_under_pils_is_refused_from_its_header(tmp_path, monkeypatch):
    root = _folder(tmp_path / "big")
    _png_bomb(root / "class0001" / "wide.png", 9000, 9000)  # 81 M pixels: over 8192², under PIL's own 89 M
    with pytest.raises(UnlearnError, match="class0001/wide.png is 9000×9000 pixels"):
        _load(root)


def test_pixel_and_byte_limits_are_classes_of_case(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "MAX_IMAGE_PIXELS", 6 * 5 - 1)  # the ordinary images are 6×5
    with pytest.raises(UnlearnError, match="6×5 pixels"):
        _load(_folder(tmp_path / "a"))
    monkeypatch.setattr(F, "MAX_IMAGE_PIXELS", 10**6)
    monkeypatch.setattr(F, "MAX_IMAGE_BYTES", 10)
    with pytest.raises(UnlearnError, match="at most 0 MB per image|MB; at most"):
        _load(_folder(tmp_path / "b"))


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"GIF89a" + b"\xff" * 20,
                                     b"root:x:0:0:root:/root:/bin/bash\n"])
def test_broken_images_are_one_line_without_their_bytes(tmp_path, content):
    root = _folder(tmp_path / "broken")
    (root / "class0000" / "bad.png").write_bytes(content)
    with pytest.raises(UnlearnError, match="cannot read image class0000/bad.png") as exc:
        _load(root)
    _one_line(exc, "root:x", str(tmp_path))


# ------------------------------------------------------------------------------------------ safetensors headers
@pytest.mark.parametrize("header", [b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
                                    b'{"w": {"dtype": "F32", "shape": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"])
def test_a_safetensors_header_nested_100k_deep_is_one_line(header):
    from engine.upload import read_safetensors

    data = struct.pack("<Q", len(header)) + header + b"\x00" * 8
    with pytest.raises(UnlearnError, match="not a safetensors file") as exc:
        read_safetensors(data, "deep.safetensors")
    _one_line(exc)


# the Your model page shows it as one st.error line: tests/test_pages_detail.py::
# test_malformed_and_mismatched_uploads_are_one_clear_line[deep.safetensors-…]


# ------------------------------------------------------------------------------------------ index files
@pytest.mark.parametrize("content", [b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1\n",
                                     b"PATH=/usr/bin\x00HOME=/root\x00SECRET=hunter2\x00",
                                     b"1\n2\nAPI_KEY=abc123\n"])
def test_index_files_are_never_echoed(tmp_path, content):
    from engine.forget import select_forget

    f = tmp_path / "secret"
    f.write_bytes(content)
    y = np.arange(100) % 10
    with pytest.raises(UnlearnError) as exc:
        select_forget(f"indices:{f}", y, 10)
    text = _one_line(exc, "root:x", "daemon", "hunter2", "SECRET", "API_KEY", "abc123", "PATH=")
    assert "line" in text or "UTF-8" in text or "not a text" in text


@pytest.mark.parametrize("path", ["/etc/passwd", "/proc/self/environ"])
def test_system_files_as_index_files_leak_nothing(path):
    from engine.forget import select_forget

    if not Path(path).exists():
        pytest.skip(f"{path} absent")
    first = Path(path).read_bytes()[:40]
    with pytest.raises(UnlearnError) as exc:
        select_forget(f"indices:{path}", np.arange(100) % 10, 10)
    text = _one_line(exc)
    for token in first.replace(b"\x00", b"\n").split(b"\n"):
        tok = token.decode("utf-8", "replace").split(":")[0]
        if len(tok) >= 3:
            assert tok not in text.replace(path, ""), (tok, text)


# ------------------------------------------------------------------------------------------ server paths
SECRET_DIR = "srv-secret-layout-7f3a"


def _audited_folder(tmp_path: Path, name: str = "pets"):
    """An image folder under a distinctive absolute path, audited as the dashboard's sidebar would ask for it."""
    from engine.store import Store
    from ui.state import spec_for

    root = tmp_path / SECRET_DIR / name
    for c in range(2):
        for i in range(40):  # 80 images: a test split of 16, halved into test and val, enough for every audit
            _png(root / f"class{c}" / f"{i}.png", w=8, h=8, color=(200 * c, 60 + 2 * i, 90))
    cfg = {"dataset": "imagefolder", "model": "mlp", "forget": "random:0.25", "seed": 0, "forget_seed": 0,
           "train_size": 0, "epochs": 2, "path": str(root), "width": 16}
    spec = spec_for(cfg)
    req = AuditRequest.build(spec, ["ft"], [0], k=2, retrains=1)
    cmp = Runner(Store()).compare(req)
    return root, cfg, req, cmp


def test_the_html_report_and_history_name_an_image_folder_by_its_name_only(tmp_path):
    from engine import report
    from ui import history

    root, _, req, cmp = _audited_folder(tmp_path)
    html = report.html_report(cmp, include_plotlyjs="cdn")
    assert SECRET_DIR not in html and str(tmp_path) not in html
    assert "/pets" in html  # the folder is still named (as …/pets, JSON-escaped)
    other = AuditRequest.build(replace(req.spec, data=replace(req.spec.data, path=str(tmp_path / "x" / "birds"))),
                               ["ft"], [0], k=2, retrains=1)
    diff = history.differences(req, other)
    assert diff == ["data.path: …/pets → …/birds"]
    assert history.differences(req, replace(other, spec=replace(other.spec, data=replace(
        other.spec.data, path=str(tmp_path / "y" / "pets"))))) == ["data.path: …/pets → …/pets"]  # differs, shown


def _texts(at) -> list[str]:
    out = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "header", "subheader",
                 "text", "code", "json", "exception"):
        out += [str(getattr(el, "value", "")) for el in at.get(kind)]
    for df in at.get("dataframe"):
        out.append(df.value.to_csv())
    for el in at.get("download_button"):
        out.append(str(el.proto))
    return out


@pytest.mark.parametrize("page", ["pages/7_Compare.py", "pages/9_History.py", "pages/8_Report.py"])
def test_pages_never_show_the_image_folders_server_path(tmp_path, page, monkeypatch):
    from streamlit.testing.v1 import AppTest

    _audited_folder(tmp_path, "birds")  # a second audit: History compares the two and lists what differs
    root, cfg, req, _ = _audited_folder(tmp_path)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=180)
    at.query_params.update({"ds": "imagefolder", "model": "mlp", "forget": "random:0.25", "epochs": "2",
                            "width": "16", "methods": "ft", "seeds": "0", "k": "2", "r": "1"})
    at.run()
    at.switch_page(page).run()  # as a browser opens it: through app.py's navigation
    at.text_input(key="w_path").input(str(root)).run()
    assert not at.exception, at.exception
    texts = _texts(at)
    assert any("Unlearning audit" in t or "pets" in t or "Fine-tune" in t for t in texts), texts[:10]
    leaks = [t for t in texts if SECRET_DIR in t]
    assert not leaks, leaks[:3]


def test_system_trees_that_are_not_refused_by_name_end_at_once(tmp_path):
    """Folders outside /proc, /sys and /dev that hold no image folder (a program tree, /etc, a virtualenv) end in one
    line within the limits, whatever they hold."""
    for path in ("/usr", "/usr/share", "/usr/lib", "/etc", "/var"):
        if Path(path).is_dir():
            with pytest.raises(UnlearnError, match="^imagefolder: ") as exc:
                _load(path)
            _one_line(exc)


def test_an_unexpected_job_error_is_one_line_without_server_paths(tmp_path, caplog):
    """A bug's exception in a dashboard job: the page gets its type and message with paths shortened, the server's
    log gets the stack."""
    from engine.jobs import FAILED, JobManager

    secret = tmp_path / SECRET_DIR / "store" / "weights.safetensors"

    def bug(progress, cancel):
        open(secret)  # FileNotFoundError naming the absolute path

    with caplog.at_level("ERROR", logger="engine.jobs"):
        jm = JobManager()
        job = jm.wait(jm.submit("audit", bug), 10)
    assert job.state == FAILED
    assert "\n" not in job.error and "Traceback" not in job.error and SECRET_DIR not in job.error, job.error
    assert job.error.startswith("FileNotFoundError: ") and "…/weights.safetensors" in job.error
    assert "Traceback" in caplog.text and SECRET_DIR in caplog.text  # the details stay on the server


@pytest.mark.parametrize(("text", "shown"), [
    ("No such file or directory: '/srv/a/b/weights.safetensors'", "No such file or directory: '…/weights.safetensors'"),
    ("cannot list /home/me/pets now", "cannot list …/pets now"),
    ("ratio 3/4, a/b/c, http://example.org/a/b and /etc", "ratio 3/4, a/b/c, http://example.org/a/b and /etc"),
])
def test_redact_shortens_absolute_paths_only(text, shown):
    from engine.paths import redact

    assert redact(text) == shown


@pytest.mark.parametrize("page", ["pages/1_Setup_and_train.py", "pages/13_Your_model.py"])
@pytest.mark.parametrize("case", ["root", "bomb", "classes"])
def test_hostile_image_folders_typed_on_a_page_are_one_st_error(tmp_path, page, case):
    """The sidebar's Image folder field on the pages that read the data at once: each hostile folder is one error
    box, no exception, and the read ends within the limits."""
    from streamlit.testing.v1 import AppTest

    if case == "root":
        path, words = "/", "is a system folder"
    elif case == "bomb":
        root = _folder(tmp_path / "bomb")
        _png_bomb(root / "class0001" / "bomb.png", 20000, 20000)
        path, words = str(root), "bomb.png is larger than"
    else:
        for c in range(1001):
            (tmp_path / "many" / f"c{c:04d}").mkdir(parents=True)
        path, words = str(tmp_path / "many"), "more than 1,000 class sub-folders"
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / page), default_timeout=120)
    at.query_params.update({"ds": "imagefolder", "model": "mlp"})
    at.run()
    at.text_input(key="w_path").input(path).run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any(words in e for e in errors), errors
    assert not any(str(tmp_path) in e for e in errors), errors

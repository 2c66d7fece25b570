"""Issue 18, findings 6 and 7: the command line never prints a traceback, refuses every bad setting before anything
runs, and stores nothing from a request that fails validation.

Each case is a class of input (a bound, a type, NaN, a path the system refuses, a budget), run through the real
``main`` in-process; the assertion is the same for all: exit status 2, one ``error:`` line on stderr, no traceback,
and an empty run store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.__main__ import main

TINY = ["--dataset", "digits", "--set", "data.train_size=200", "--width", "32", "--set", "train.epochs=2"]
AUDIT = ["audit", *TINY, "--methods", "ft", "--seeds", "0", "--k", "2", "--retrains", "1"]

#: (command line after the subcommand's tiny settings, words the error must hold); issue 18's cases and their classes
TRAIN_CASES = [
    (["--set", "train.lr=-1"], "train.lr"), (["--set", "train.lr=0"], "train.lr"),
    (["--set", "train.lr=nan"], "finite"), (["--set", "train.lr=inf"], "finite"),
    (["--set", "train.batch_size=0"], "batch_size"), (["--set", "train.batch_size=-3"], "batch_size"),
    (["--set", "train.momentum=-1"], "momentum"), (["--set", "train.momentum=1"], "momentum"),
    (["--set", "train.weight_decay=-1"], "weight_decay"), (["--set", "data.split_seed=-1"], "split_seed"),
    (["--set", "train.epochs=0"], "epochs"), (["--set", "train.epochs=-1"], "epochs"),
    (["--set", "train.epochs=1000000"], "epochs"), (["--set", "train.lr_gamma=0"], "lr_gamma"),
    (["--set", "data.image_size=0"], "image_size"), (["--set", "data.image_size=100000"], "image_size"),
    (["--set", "data.val_fraction=1.5"], "val_fraction"), (["--set", "data.val_fraction=0"], "val_fraction"),
    (["--set", "data.train_size=0"], "train_size"),
    (["--set", "train.epochs=abc"], "cannot read"), (["--set", "train.nope=1"], "no setting"),
    (["--seed", "-1"], "seed"), (["--seed", str(2**70)], "seed"), (["--forget-seed", "-1"], "forget_seed"),
    (["--width", "0"], "width"), (["--width", "100000"], "width"),
    (["--model", "resnet18", "--width", "4096"], "UNLEARN_MAX_PARAMS"),
    (["--model", "resnet18", "--width", "1024"], "UNLEARN_MAX_PARAMS"),
    (["--device", "tpu"], "--device"), (["--device", "cuda:x"], "--device"),
    (["--store", "/dev/null"], "--store"), (["--forget", "random:3"], "at least 5"),
    (["--forget", "bogus:1"], "forget spec"),
]
AUDIT_CASES = [
    (["--seeds", "-1"], "seeds"), (["--seeds", "0,x"], "--seeds"), (["--seeds", str(2**70)], "seeds"),
    (["--k", "1"], "at least 2"), (["--k", "1000000"], "k = 1000000"), (["--retrains", "-1"], "retrains"),
    (["--set", "ft.momentum=nan"], "finite"), (["--set", "ft.lr=-1"], "lr"), (["--set", "ft.epochs=0"], "epochs"),
    (["--forget", "indices:3,7"], "at least 5"), (["--out", "/proc/x"], "--out"), (["--out", "/dev/null"], "--out"),
    (["--methods", "nope"], "unknown method"),
]


def _artifacts(store: Path) -> list[Path]:
    """Every stored artifact (the store's kind folders; its .tmp and .locks hold no results)."""
    if not store.exists():
        return []
    return [p for kind in store.iterdir() if not kind.name.startswith(".") for p in kind.iterdir()]


def _refused(argv: list[str], words: str, capsys, store: Path) -> None:
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, (rc, err)
    assert "Traceback" not in err and err.startswith("error:") and words in err, err
    assert len(err.splitlines()) == 1, err
    assert not _artifacts(store), _artifacts(store)


@pytest.mark.parametrize("extra, words", TRAIN_CASES, ids=[" ".join(c) for c, _ in TRAIN_CASES])
def test_bad_run_settings_are_one_line_before_anything_trains(extra, words, tmp_path, capsys):
    store = tmp_path / "store"
    argv = ["train", *TINY, "--store", str(store), *extra]
    if "--store" in extra:  # the case names its own store
        argv = ["train", *TINY, *extra]
    _refused(argv, words, capsys, store)


@pytest.mark.parametrize("extra, words", AUDIT_CASES, ids=[" ".join(c) for c, _ in AUDIT_CASES])
def test_bad_audit_settings_are_one_line_before_anything_trains(extra, words, tmp_path, capsys):
    store = tmp_path / "store"
    out = [] if "--out" in extra else ["--out", str(tmp_path / "out")]
    _refused([*AUDIT, "--store", str(store), *out, *extra], words, capsys, store)


def test_a_refused_output_folder_is_found_before_the_audit_runs(tmp_path, capsys, monkeypatch):
    """``--out`` that cannot be written: refused at once (before, it failed after the whole audit had run)."""
    from engine import run

    def no_compare(*a, **kw):
        raise AssertionError("the audit ran")

    monkeypatch.setattr(run.Runner, "compare", no_compare)
    _refused([*AUDIT, "--store", str(tmp_path / "store"), "--out", "/proc/x"], "--out", capsys, tmp_path / "store")
    assert not Path("/proc/x").exists()


def test_the_path_check_leaves_no_folder_behind(tmp_path, capsys):
    out = tmp_path / "a" / "b" / "out"
    rc = main(["signals", *TINY, "--store", str(tmp_path / "s"), "--out", str(out), "--seed", "-1"])
    assert rc == 2 and not (tmp_path / "a").exists() and not (tmp_path / "s").exists()
    capsys.readouterr()


def test_two_processes_checking_the_same_new_store_both_pass(tmp_path):
    """The path check creates nothing, so two CLIs starting at once on a new store cannot trip over each other
    (it once made the folders, probed one shared file name and removed them: the second process read 'File
    exists' or lost its probe)."""
    from concurrent.futures import ThreadPoolExecutor

    from engine.cli.common import _writable

    for i in range(50):
        folder = tmp_path / f"s{i}" / "store"
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(_writable, [folder] * 8, ["--store"] * 8))
        assert not (tmp_path / f"s{i}").exists()


def test_an_unexpected_error_is_one_line_without_a_traceback(tmp_path, capsys, monkeypatch):
    import engine.__main__ as cli

    def boom(args):
        raise RuntimeError("something broke")

    monkeypatch.setattr(cli, "cmd_methods", boom)
    monkeypatch.delenv("UNLEARN_DEBUG", raising=False)
    assert cli.main(["methods"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error: RuntimeError: something broke" in err
    assert len(err.strip().splitlines()) == 1


def test_a_valid_tiny_run_still_trains_and_stores(tmp_path, capsys):
    """The control: the same tiny settings without the bad value train and store the original model."""
    store = tmp_path / "store"
    assert main(["train", *TINY, "--store", str(store), "--kind", "original"]) == 0
    assert _artifacts(store)
    capsys.readouterr()

"""The command line, run as a user would (a subprocess)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_datasets_lists_all_seven():
    out = cli("datasets")
    assert out.returncode == 0
    keys = [line.split("\t")[0] for line in out.stdout.strip().splitlines()]
    assert keys == ["digits", "mnist", "fashion-mnist", "cifar10", "cifar100", "svhn", "imagefolder"]
    assert "available" in out.stdout.splitlines()[0]


def test_train_twice_second_from_store(tmp_path):
    args = ("train", "--dataset", "digits", "--set", "train.epochs=3", "--store", str(tmp_path))
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    assert "trained in" in first.stdout and "artifact:" in first.stdout
    second = cli(*args)
    assert second.returncode == 0
    assert second.stdout.count("from store") == 2 and "trained in" not in second.stdout


def test_signals_command_writes_per_sample_files(tmp_path):
    out = cli("signals", "--set", "train.epochs=3", "--store", str(tmp_path / "s"), "--out", str(tmp_path / "o"))
    assert out.returncode == 0, out.stderr
    assert "loss-threshold AUC" in out.stdout
    assert (tmp_path / "o" / "original_forget.npz").is_file()


def test_user_errors_are_one_line_and_nonzero():
    for args in (("train", "--forget", "class:42"), ("train", "--dataset", "nope"), ("train", "--set", "train.lrr=1"),
                 ("train", "--dataset", "cifar10", "--data-dir", "/nonexistent")):
        out = cli(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1

"""The command line: ``python -m engine`` as a user runs it (one subprocess here), the rest in this process
(tests/clirun.py: the same main(), the same output and exit status, without a fresh interpreter per call)."""

from pathlib import Path

from clirun import run

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, env=None, subprocess_=False):
    return run(*args, env=env, subprocess_=subprocess_)


def test_datasets_lists_all_seven():
    out = cli("datasets", subprocess_=True)  # the real entry point, in a fresh interpreter
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

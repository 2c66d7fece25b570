import sys

import numpy as np
import pytest
import torch

from engine import sweep as _sweep  # noqa: F401  (before any test imports ray: Ray on loopback, engine.sweep)
from engine.config import DataSpec, ModelSpec, RunSpec, TrainConfig

# The test models are tiny: one intra-op thread is faster and far less sensitive to a loaded machine.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own UNLEARN_HOME (store and caches) and fixed seeds."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("UNLEARN_HOME", str(home))
    monkeypatch.delenv("UNLEARN_DATA_DIR", raising=False)
    torch.manual_seed(0)
    np.random.seed(0)
    return home


@pytest.fixture(autouse=True)
def _keep_main_module():
    """AppTest installs the page it ran as ``sys.modules["__main__"]`` and leaves it there; a later test that starts a
    ``spawn`` process would then run that page in the child (bare mode) before its target. Put the real one back."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture
def tiny_spec() -> RunSpec:
    """Digits, 200 training images, a small MLP, a few epochs: trains in well under a second."""
    return RunSpec(
        data=DataSpec("digits", train_size=200),
        model=ModelSpec("mlp", 32),
        train=TrainConfig(epochs=3, batch_size=64, lr=0.1, lr_step=2, augment=False),
        forget="random:0.1",
    )


# ------------------------------------------------------------------------------------------ CPU time per test
# `pytest --cpu-durations=N`: the N tests that used the most CPU (this process's threads and the subprocesses it
# waited for), the measure that holds on a loaded machine where wall times (--durations) swell.
_CPU: dict[str, float] = {}
_CPU0 = pytest.StashKey[float]()


def pytest_addoption(parser):
    parser.addoption("--cpu-durations", type=int, default=None, metavar="N",
                     help="list the N tests that used the most CPU time (user + sys, with waited-for children)")


def _cpu_seconds() -> float:
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item):
    item.stash[_CPU0] = _cpu_seconds()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "teardown" and _CPU0 in item.stash:  # carried by the report: xdist's workers send it over
        outcome.get_result().user_properties.append(("cpu_s", _cpu_seconds() - item.stash[_CPU0]))


def pytest_runtest_logreport(report):
    for name, value in report.user_properties:
        if name == "cpu_s" and report.when == "teardown":
            _CPU[report.nodeid] = value


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    n = config.getoption("--cpu-durations")
    if n is None or not _CPU:
        return
    terminalreporter.write_sep("=", f"most CPU time ({len(_CPU)} tests here, {sum(_CPU.values()):.0f} s in all)")
    for nodeid, seconds in sorted(_CPU.items(), key=lambda kv: -kv[1])[:n or None]:
        terminalreporter.write_line(f"{seconds:8.2f}s cpu  {nodeid}")

import sys

import numpy as np
import pytest
import torch

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

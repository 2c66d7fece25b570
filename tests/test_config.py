import pytest

from engine import config
from engine.config import DataSpec, RunSpec, TrainConfig
from engine.errors import UnlearnError


def test_stable_hash_is_stable_and_sensitive():
    a, b = RunSpec(), RunSpec()
    assert config.stable_hash(a) == config.stable_hash(b)
    assert len(config.stable_hash(a)) == 16
    assert config.stable_hash(a) != config.stable_hash(RunSpec(seed=1))
    assert config.stable_hash(a) != config.stable_hash(RunSpec(train=TrainConfig(lr=0.05)))


def test_roundtrip_through_dict():
    spec = RunSpec(data=DataSpec("mnist", train_size=100), forget="class:3", seed=4)
    assert config.from_dict(RunSpec, config.to_dict(spec)) == spec


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(UnlearnError, match="unknown field"):
        config.from_dict(TrainConfig, {"epochs": 3, "lrr": 0.1})


def test_replace_coerces_strings():
    t = config.replace(TrainConfig(), epochs="7", lr="0.5", augment="false")
    assert (t.epochs, t.lr, t.augment) == (7, 0.5, False)
    d = config.replace(DataSpec(), train_size="300")
    assert d.train_size == 300
    with pytest.raises(UnlearnError, match="no setting"):
        config.replace(TrainConfig(), epoch="3")
    with pytest.raises(UnlearnError, match="cannot read"):
        config.replace(TrainConfig(), epochs="many")

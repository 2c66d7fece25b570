import pytest
import torch

from engine.config import ModelSpec
from engine.errors import UnlearnError
from engine.models import MODELS, build_model


@pytest.mark.parametrize("arch", list(MODELS))
@pytest.mark.parametrize("shape, classes", [((1, 8, 8), 10), ((1, 28, 28), 10), ((3, 32, 32), 100)])
def test_any_input_shape_and_class_count(arch, shape, classes):
    width = 8 if arch == "resnet18" else 16
    model = build_model(ModelSpec(arch, width), shape, classes)
    out = model(torch.rand(2, *shape))
    assert out.shape == (2, classes)


def test_resnet18_full_width_has_cifar_stem_and_11m_params():
    model = build_model(ModelSpec("resnet18", 64), (3, 32, 32), 10)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())
    n = sum(p.numel() for p in model.parameters())
    assert 11_000_000 < n < 11_300_000


def test_unknown_model_and_bad_width():
    with pytest.raises(UnlearnError, match="unknown model"):
        build_model(ModelSpec("vgg"), (1, 8, 8), 10)
    with pytest.raises(UnlearnError, match="width"):
        build_model(ModelSpec("mlp", 0), (1, 8, 8), 10)

import pytest
import torch

from engine.config import ModelSpec
from engine.errors import UnlearnError
from engine.models import MODELS, build_model


@pytest.mark.parametrize("arch", list(MODELS))
@pytest.mark.parametrize("shape, classes", [((1, 8, 8), 10), ((1, 28, 28), 10), ((3, 32, 32), 100)])
def test_any_input_shape_and_class_count(arch, shape, classes):
    width = 8 if arch.startswith("resnet18") else 16
    model = build_model(ModelSpec(arch, width), shape, classes)
    out = model(torch.rand(2, *shape))
    assert out.shape == (2, classes)


def test_resnet18_full_width_has_cifar_stem_and_11m_params():
    model = build_model(ModelSpec("resnet18", 64), (3, 32, 32), 10)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())
    n = sum(p.numel() for p in model.parameters())
    assert 11_000_000 < n < 11_300_000


def _identity_bn(bn: torch.nn.BatchNorm2d) -> None:
    """Eval-mode BN that passes its input through exactly: (x − 0) / sqrt((1 − eps) + eps) · 1 + 0."""
    bn.eval()
    bn.running_mean.zero_()
    bn.running_var.fill_(1.0 - bn.eps)
    bn.weight.data.fill_(1.0)
    bn.bias.data.zero_()


def _known_block(halve: bool, stride: int, cin: int = 1, cout: int = 1):
    from engine.models import BasicBlock

    block = BasicBlock(cin, cout, stride, halve=halve)
    with torch.no_grad():
        for conv in (block.conv1, block.conv2):  # centre tap 1: a copy of the input (sub-sampled by the stride)
            conv.weight.zero_()
            conv.weight[:, :, 1, 1] = torch.eye(cout, cin) if conv is block.conv1 else torch.eye(cout)
        if block.projection:
            block.shortcut[0].weight.fill_(3.0)  # 1×1 conv: 3·x
    for m in block.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            _identity_bn(m)
    return block


def test_amun_block_halves_the_sum_only_where_the_shortcut_is_a_projection():
    """x ≡ c: F(x) = c (two identity convs), projection shortcut = 3c. Standard: ReLU(c + 3c) = 4c; AMUN's
    resnet_orig: ReLU((c + 3c) / 2) = 2c. Identity-shortcut blocks: ReLU(c + c) = 2c in both."""
    x = torch.full((1, 1, 4, 4), 0.5)
    out_std = _known_block(False, 2)(x)
    out_amun = _known_block(True, 2)(x)
    assert out_std.shape == (1, 1, 2, 2)
    assert torch.equal(out_std, torch.full((1, 1, 2, 2), 2.0))
    assert torch.equal(out_amun, torch.full((1, 1, 2, 2), 1.0))
    assert torch.equal(_known_block(True, 1)(x), torch.full((1, 1, 4, 4), 1.0))
    assert torch.equal(_known_block(False, 1)(x), torch.full((1, 1, 4, 4), 1.0))
    # negative sums are still clipped after the halving
    assert torch.equal(_known_block(True, 2)(-x), torch.zeros(1, 1, 2, 2))


def test_resnet18_amun_halves_exactly_three_blocks_with_the_standard_parameters():
    std = build_model(ModelSpec("resnet18", 64), (3, 32, 32), 10)
    amun = build_model(ModelSpec("resnet18_amun", 64), (3, 32, 32), 10)
    n_std = sum(p.numel() for p in std.parameters())
    assert n_std == sum(p.numel() for p in amun.parameters()) == 11_173_962  # the CIFAR ResNet-18's count
    assert list(std.state_dict()) == list(amun.state_dict())  # weights move between the two
    assert [b.scale for b in amun.layers] == [1.0, 1.0, 0.5, 1.0, 0.5, 1.0, 0.5, 1.0]
    assert all(b.scale == 1.0 for b in std.layers)
    # same weights, different function: the halving is live in the forward pass
    amun.load_state_dict(std.state_dict())
    std.eval(), amun.eval()
    x = torch.rand(2, 3, 32, 32)
    assert not torch.allclose(std(x), amun(x))


def test_unknown_model_and_bad_width():
    with pytest.raises(UnlearnError, match="unknown model"):
        build_model(ModelSpec("vgg"), (1, 8, 8), 10)
    with pytest.raises(UnlearnError, match="width"):
        build_model(ModelSpec("mlp", 0), (1, 8, 8), 10)

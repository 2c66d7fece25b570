"""Model registry: ``mlp``, ``cnn`` and ``resnet18`` (CIFAR stem), each for any input shape and class count.

Models take pixels in [0, 1]; any normalisation would be the model's first layer (none is used: the AMUN
code trains "unnorm" models, research/amun.md §1.1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .config import ModelSpec
from .errors import UnlearnError


class MLP(nn.Module):
    """Flatten → Linear(d, w) → ReLU → Linear(w, w) → ReLU → Linear(w, classes)."""

    def __init__(self, shape: tuple[int, int, int], num_classes: int, width: int = 512):
        super().__init__()
        d = shape[0] * shape[1] * shape[2]
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(d, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
            nn.Linear(width, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SmallCNN(nn.Module):
    """Two 3×3 conv blocks (w, 2w channels) with BatchNorm and max-pooling, a third for inputs ≥ 16 px, FC 128.

    BatchNorm lets it fit (memorise) its training set in tens of epochs, which a preset needs to leak membership.
    """

    def __init__(self, shape: tuple[int, int, int], num_classes: int, width: int = 32):
        super().__init__()
        c, h, w = shape
        layers: list[nn.Module] = [
            nn.Conv2d(c, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.MaxPool2d(2),
        ]
        if min(h, w) >= 16:
            layers += [nn.Conv2d(2 * width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width),
                       nn.ReLU(), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * 16, 128), nn.ReLU(), nn.Linear(128, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """CIFAR ResNet-18: 3×3 stride-1 stem, no max-pool, BasicBlocks [2, 2, 2, 2], global average pool.

    Deviation from the AMUN code (research/amun.md §2.1): its downsampling blocks output
    ``(F(x) + shortcut(x)) / 2``; this is the standard un-halved block, so numbers differ slightly.
    """

    def __init__(self, shape: tuple[int, int, int], num_classes: int, width: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(shape[0], width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        chans, cin, layers = [width, 2 * width, 4 * width, 8 * width], width, []
        for i, cout in enumerate(chans):
            stride = 1 if i == 0 else 2
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


@dataclass(frozen=True)
class ModelInfo:
    key: str
    label: str
    build: Callable[[tuple[int, int, int], int, int], nn.Module]
    default_width: int
    convnet: bool
    note: str


MODELS: dict[str, ModelInfo] = {
    m.key: m
    for m in [
        ModelInfo("mlp", "MLP (2 hidden layers)", MLP, 512, False, "fast on CPU; the digits default"),
        ModelInfo("cnn", "Small CNN", SmallCNN, 32, True, "fast on CPU for 28×28 and 32×32 images"),
        ModelInfo("resnet18", "ResNet-18 (CIFAR stem)", ResNet18, 64, True, "the papers' model; GPU-scale"),
    ]
}


def build_model(spec: ModelSpec, shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """A freshly initialised model (initialisation follows the global torch seed)."""
    if spec.arch not in MODELS:
        raise UnlearnError(f"unknown model {spec.arch!r}; choose one of: {', '.join(MODELS)}")
    if spec.width < 1:
        raise UnlearnError(f"model width must be positive, got {spec.width}")
    if num_classes < 2:
        raise UnlearnError(f"a classifier needs at least 2 classes, got {num_classes}")
    return MODELS[spec.arch].build(tuple(shape), num_classes, spec.width)


def prefers_channels_last(spec: ModelSpec, device: torch.device) -> bool:
    """channels_last helps convnets on the CPU (research/env.md §4: 1.4-2× for 32×32 inputs)."""
    return MODELS[spec.arch].convnet and device.type == "cpu"

"""Model registry: ``mlp``, ``cnn``, ``resnet18`` and ``resnet18_amun`` (CIFAR stem), any input shape and class count.

Models take pixels in [0, 1]; any normalisation would be the model's first layer (none is used: the AMUN
code trains "unnorm" models, research/amun.md §1.1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

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
    """conv3×3-BN-ReLU-conv3×3-BN plus the shortcut (identity, or 1×1 conv + BN where the shape changes), ReLU.

    ``halve``: in a block with a projection shortcut, output ``ReLU((F(x) + shortcut(x)) / 2)`` as AMUN's
    ``models/resnet_orig.py`` does ("to be one 1 lip"); identity-shortcut blocks are never halved.
    """

    expansion = 1

    def __init__(self, cin: int, cout: int, stride: int = 1, halve: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        self.projection = stride != 1 or cin != cout
        if self.projection:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        self.scale = 0.5 if halve and self.projection else 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out)) + self.shortcut(x)
        return F.relu(out * self.scale if self.scale != 1.0 else out)


class ResNet18(nn.Module):
    """CIFAR ResNet-18: 3×3 stride-1 stem, no max-pool, BasicBlocks [2, 2, 2, 2], global average pool.

    ``amun=False`` (``resnet18``): the standard block. ``amun=True`` (``resnet18_amun``): AMUN's
    ``resnet_orig.py``, whose three downsampling blocks (the first of stages 2–4, projection shortcut) output
    ``(F(x) + shortcut(x)) / 2`` before the ReLU (research/amun.md §2.1). Same parameters and state-dict keys;
    AMUN's BN wrapper (``SpectralNorm`` with ``clip_flag=False``) does not change outputs and is plain BN here.
    AMUN's ``avg_pool2d(4)`` equals the global average pool for 32×32 and 28×28 inputs (4×4 final maps).
    """

    def __init__(self, shape: tuple[int, int, int], num_classes: int, width: int = 64, amun: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(shape[0], width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        chans, cin, layers = [width, 2 * width, 4 * width, 8 * width], width, []
        for i, cout in enumerate(chans):
            stride = 1 if i == 0 else 2
            layers += [BasicBlock(cin, cout, stride, halve=amun), BasicBlock(cout, cout, 1, halve=amun)]
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
        ModelInfo("resnet18", "ResNet-18 (CIFAR stem)", ResNet18, 64, True, "standard residual sum; GPU-scale"),
        ModelInfo("resnet18_amun", "ResNet-18, AMUN variant", partial(ResNet18, amun=True), 64, True,
                  "halved sum in the 3 downsampling blocks, as the AMUN code; GPU-scale"),
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

"""What the artifact builders (:mod:`engine.artifacts`) hand out: a seed's data with its forget / remain split
(:class:`Prepared`) and a stored model (:class:`TrainedModel`, whose weights load on first use), and the one way a
model is built for a device (:func:`fresh_model`, :func:`load_model`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .config import RunSpec
from .data import Dataset
from .forget import forget_fingerprint
from .kinds import Role
from .models import build_model, prefers_channels_last
from .store import Artifact
from .training import default_device


@dataclass
class Prepared:
    """The loaded data and the forget / remain split of its training set."""

    spec: RunSpec
    data: Dataset
    forget: np.ndarray
    remain: np.ndarray

    @property
    def forget_key(self) -> str:
        return forget_fingerprint(self.forget)


@dataclass
class TrainedModel:
    """A stored model — original, retrain, unlearned or uploaded — with its record; the weights load on first use."""

    kind: Role
    artifact: Artifact
    spec: RunSpec
    data: Dataset
    device: torch.device
    _model: nn.Module | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        """The artifact key (what signals, audits and adversarial sets of this model are keyed by)."""
        return self.artifact.key

    @property
    def model(self) -> nn.Module:
        if self._model is None:
            self._model = load_model(self.artifact, self.spec, self.data, self.device)
        return self._model

    @property
    def seconds(self) -> float:
        return float(self.artifact.manifest.get("seconds", 0.0))

    @property
    def one_time_seconds(self) -> float:
        """The shared one-time work (AMUN's D_A search) the model used, charged apart from :attr:`seconds`."""
        return float(self.artifact.manifest.get("one_time_seconds", 0.0))

    @property
    def history(self) -> list[dict]:
        return self.artifact.manifest.get("history", [])


def _placed(model: nn.Module, spec: RunSpec, device: torch.device) -> nn.Module:
    """``model`` (already on ``device``) in channels-last memory where that is faster."""
    return model.to(memory_format=torch.channels_last) if prefers_channels_last(spec.model, device) else model


def fresh_model(spec: RunSpec, data: Dataset, device: torch.device) -> nn.Module:
    """A new model of ``spec.model`` for ``data`` on ``device`` (channels-last where that is faster)."""
    return _placed(build_model(spec.model, data.shape, data.num_classes).to(device), spec, device)


def load_model(art: Artifact, spec: RunSpec, data: Dataset, device: torch.device | None = None) -> nn.Module:
    """The stored weights of ``art`` in a fresh model of ``spec.model``, in eval mode on ``device``."""
    model = build_model(spec.model, data.shape, data.num_classes)
    model.load_state_dict(art.tensors())
    return _placed(model.to(device or default_device()).eval(), spec, device or default_device())


__all__ = ["Prepared", "TrainedModel", "fresh_model", "load_model"]

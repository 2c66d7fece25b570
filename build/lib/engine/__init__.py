"""Engine of the Unlearning Audit Dashboard: data, models, training, unlearning, audits (no Streamlit)."""

from .config import ENGINE_VERSION, DataSpec, ModelSpec, RunSpec, TrainConfig
from .errors import Cancelled, Diverged, UnlearnError

__all__ = ["ENGINE_VERSION", "Cancelled", "DataSpec", "Diverged", "ModelSpec", "RunSpec", "TrainConfig", "UnlearnError"]

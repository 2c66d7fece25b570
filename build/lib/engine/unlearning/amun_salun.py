"""AMUN + SalUn (AMUN paper, App. D): AMUN's fine-tuning under SalUn's weight-saliency mask."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .amun import Amun
from .base import UnlearnContext, hp
from .salun import SaliencyMask


@dataclass
class AmunSalUn(Amun):
    """Every gradient of AMUN's fine-tuning multiplied by the SalUn mask computed on θ_o and D_F."""

    key = "amun_salun"
    label = "AMUN + SalUn"
    mask_ratio: float = hp(0.5, "fraction r of weights updated (AMUN searched [0.1, 0.9]; default 0.5)", min=0.0,
                           max=1.0)
    mask_mode: str = hp("freeze", "'freeze': unselected weights bit-identical; 'grad': the AMUN code's "
                        "gradient-only mask",
                        choices=("freeze", "grad"))

    def mask(self, model: nn.Module, ctx: UnlearnContext) -> SaliencyMask:
        mask = SaliencyMask.compute(model, ctx, self.mask_ratio, self.mask_mode)
        ctx.extras["mask_fraction"] = mask.fraction
        return mask

"""The annealing schedule: noise levels and the Langevin step size at each, nothing else.

Kept apart from the model and the tasks (as diffusers keeps its schedulers): it
never calls a model.  Units: sigma in quantised units (the 0..255 scale).
"""
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class AnnealingSchedule:
    """Levels ``sigmas`` (high to low) and step size ``eta = step_scale * sigma^2``.

    The published samplers use ``step_scale`` 0.05 (0.1 for spectrogram generation).
    """

    sigmas: tuple
    step_scale: float = 0.05

    def __post_init__(self):
        sigmas = tuple(float(s) for s in self.sigmas)
        if not sigmas or any(not math.isfinite(s) or s <= 0 for s in sigmas):
            raise ValueError(f"sigmas must be positive numbers, got {self.sigmas}")
        if not (math.isfinite(self.step_scale) and self.step_scale > 0):
            raise ValueError(f"step_scale must be positive, got {self.step_scale}")
        object.__setattr__(self, "sigmas", sigmas)

    def step_size(self, sigma):
        """Langevin step size eta at level ``sigma`` (quantised units squared)."""
        return self.step_scale * sigma * sigma

    def __len__(self):
        return len(self.sigmas)

    def __iter__(self):
        return iter(self.sigmas)

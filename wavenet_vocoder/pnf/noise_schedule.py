"""The annealing schedule: noise levels and the Langevin step size at each, nothing else.

Kept apart from the model and the tasks (as diffusers keeps its schedulers): it
never calls a model.  Units: sigma in quantised units (the 0..255 scale).
"""
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class AnnealingSchedule:
    """Levels ``sigmas`` (high to low), step size ``eta = step_scale * sigma^2``, and optionally
    each level's own number of moves per sample (``level_steps``; None: the sampler's n_steps
    at every level).

    The published samplers use ``step_scale`` 0.05 (0.1 for spectrogram generation) and 256
    moves at every level.
    """

    sigmas: tuple
    step_scale: float = 0.05
    level_steps: tuple = None

    def __post_init__(self):
        sigmas = tuple(float(s) for s in self.sigmas)
        if not sigmas or any(not math.isfinite(s) or s <= 0 for s in sigmas):
            raise ValueError(f"sigmas must be positive numbers, got {self.sigmas}")
        if not (math.isfinite(self.step_scale) and self.step_scale > 0):
            raise ValueError(f"step_scale must be positive, got {self.step_scale}")
        object.__setattr__(self, "sigmas", sigmas)
        if self.level_steps is not None:
            steps = tuple(int(n) for n in self.level_steps)
            if len(steps) != len(sigmas) or any(n < 1 for n in steps):
                raise ValueError(f"level_steps must give a positive count for each of the {len(sigmas)} levels, "
                                 f"got {self.level_steps}")
            object.__setattr__(self, "level_steps", steps)

    def moves(self, level, default):
        """Moves of each sample at level number ``level`` (0 is the first): its own count, or ``default``."""
        return default if self.level_steps is None else self.level_steps[level]

    def starting_at(self, sigma):
        """The schedule from its first level at or below ``sigma`` on (the levels above are skipped)."""
        keep = [i for i, s in enumerate(self.sigmas) if s <= sigma * (1 + 1e-9)]
        if not keep:
            raise ValueError(f"no level at or below sigma {sigma:g} (the lowest is {min(self.sigmas):g})")
        first = keep[0]
        steps = None if self.level_steps is None else self.level_steps[first:]
        return AnnealingSchedule(self.sigmas[first:], self.step_scale, steps)

    def step_size(self, sigma):
        """Langevin step size eta at level ``sigma`` (quantised units squared)."""
        return self.step_scale * sigma * sigma

    def __len__(self):
        return len(self.sigmas)

    def __iter__(self):
        return iter(self.sigmas)

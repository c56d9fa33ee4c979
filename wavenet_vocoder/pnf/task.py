"""The ``Task`` protocol: what a task tells the Langevin engine, and a base class with its defaults.

The engine (:mod:`~wavenet_vocoder.pnf.langevin`) samples a state ``x`` of shape
(n_sources, length) in quantised units and asks the task only these questions; it never
branches on which task it runs. A new task is a class that answers them (usually a
subclass of :class:`TaskBase`, which answers the optional ones with "nothing"), plus a
:class:`~wavenet_vocoder.pnf.command.TaskCommand` when it should be a command (see
``wavenet_vocoder/pnf/tasks/declipping.py`` for a short complete example).
"""
from __future__ import annotations

from typing import Optional, Protocol, Tuple, runtime_checkable


from ..deferred import deferred_import
from ..quantize import silence_units

torch = deferred_import("torch")


@runtime_checkable
class Task(Protocol):
    """One inverse problem on one signal, as the engine sees it.

    Attributes:
        n_sources: sources sampled together (one prior each), e.g. 2 for separation.
        length: samples per source.
        silence: quantised value of silence (the context before the signal's first sample).
    """

    n_sources: int
    length: int
    silence: float

    def initial_state(self, generator: torch.Generator) -> torch.Tensor:
        """(n_sources, length) float32 state, in quantised units, where sampling starts."""

    def movable(self) -> torch.Tensor:
        """(n_sources, length) bool: the samples Langevin steps may change."""

    def extra_gradient(self, x: torch.Tensor, sigma: float) -> Optional[torch.Tensor]:
        """Gradient (n_sources, length) of the task's extra log-likelihood terms at state ``x``, or None."""

    def implicit_update(self, x: torch.Tensor, step: torch.Tensor, sigma: float) -> Optional[torch.Tensor]:
        """A change (n_sources, length) of ``x`` applied after each step, or None: quadratic likelihood
        terms taken implicitly (backward Euler). ``step``: eta times the windows covering each sample."""

    def movable_span(self) -> Optional[Tuple[int, int]]:
        """(start, end) samples enclosing every movable sample, or None for the whole signal: with
        tiled windows the engine then scores only the likelihood terms these samples reach."""

    def conditioning(self, source: int) -> Optional[torch.Tensor]:
        """(cin, N) mel frames of ``source`` with cin_pad context frames at each end, or None."""

    def baseline(self) -> Optional[torch.Tensor]:
        """(n_sources, length) the task's plain estimate in quantised units (band-limited interpolation,
        LPC across gaps, half the mixture, Griffin-Lim), where ``--init baseline`` starts; or None."""

    def temperature(self) -> Optional[torch.Tensor]:
        """(n_sources, length) float32: each sample's temperature of the Langevin noise (the factor on its
        variance), in place of the sampler's one ``temperature``; or None to use that one everywhere."""


class TaskBase:
    """Defaults of the optional answers: one source, silence 127, no extra terms, nothing
    implicit, every sample in play, no mel conditioning, the sampler's one temperature, and the
    plain estimate ``estimate`` ((n_sources, length) quantised units) when a subclass was given
    one. Subclasses set ``length`` and define ``initial_state`` and ``movable``."""

    n_sources = 1
    silence = silence_units()
    estimate = None

    def extra_gradient(self, x, sigma):
        return None

    def implicit_update(self, x, step, sigma):
        return None

    def movable_span(self):
        return None

    def conditioning(self, source):
        return None

    def temperature(self):
        return None

    def baseline(self):
        if self.estimate is None:
            return None
        return torch.as_tensor(self.estimate, dtype=torch.float32).reshape(self.n_sources, self.length)

"""Which samples move at each Langevin step: the published random windows, or tiles.

Both yield, for every step of a level, a list of batches of window start indices
(LongTensors, samples).  A window ``[s, s + W)`` is scored with ``receptive_field``
samples of left context before it.
"""
import math

from ..deferred import deferred_import


torch = deferred_import("torch")

#: The window schedules (``--schedule``): the published random windows, or tiles.
SCHEDULES = ("random", "tiled")


class RandomWindows:
    """The published schedule: each step draws ``windows_per_step`` windows of ``window`` samples.

    Starts are uniform in ``[-W, T)`` then clipped to ``[0, T - W]``, so the first and last
    samples move as often as the middle (those within W of an end up to twice as often,
    none less); ``ceil(T / (W * B) * n_steps)`` steps make each sample move about
    ``n_steps`` times.  A window's gradient covers only its own likelihood terms (the
    context is held fixed), and windows drawn together may overlap.
    """

    exact_gradient = False

    def __init__(self, length, window, windows_per_step, n_steps, generator):
        self.length, self.window, self.windows_per_step = length, window, windows_per_step
        self.generator = generator
        self.steps = max(1, math.ceil(length / (window * windows_per_step) * n_steps))

    def __len__(self):
        return self.steps

    def __iter__(self):
        high = self.length - self.window
        for _ in range(self.steps):
            starts = torch.randint(-self.window, self.length, (self.windows_per_step,), generator=self.generator)
            yield [starts.clamp(0, high)]


class TiledWindows:
    """Non-overlapping windows covering the whole signal: every sample moves at every step.

    The windows of one step are scored in batches of ``windows_per_step`` against the same
    state, and their gradients are summed, context included, so the update uses the
    exact gradient of the whole signal's log-likelihood.  ``n_steps`` steps per level.
    """

    exact_gradient = True

    def __init__(self, length, window, windows_per_step, n_steps):
        self.length, self.window, self.windows_per_step = length, window, windows_per_step
        self.steps = n_steps
        starts = torch.arange(0, length, window)
        self._batches = list(starts.split(windows_per_step))

    def __len__(self):
        return self.steps

    def __iter__(self):
        for _ in range(self.steps):
            yield self._batches


def window_length(kind, length, window):
    """The window length (samples) the schedule ``kind`` uses for ``length`` samples and a requested ``window``.

    Random windows: ``window``, at most ``length``.  Tiles: the fewest tiles of at most
    ``window`` samples, made equal (``ceil(length / ceil(length / window))``), so that the
    last tile is not mostly padding (22050 samples with W 20000: two tiles of 11025, not
    20000 + 2050 padded to 20000).
    """
    window = min(window, length)
    if kind == "tiled":
        window = math.ceil(length / math.ceil(length / window))
    return window


def make_windows(kind, length, window, windows_per_step, n_steps, generator):
    """The schedule named ``kind`` ('random' or 'tiled') for a signal of ``length`` samples."""
    if kind == "random":
        return RandomWindows(length, window, windows_per_step, n_steps, generator)
    if kind == "tiled":
        return TiledWindows(length, window, windows_per_step, n_steps)
    raise ValueError(f"unknown window schedule {kind!r}: use 'random' or 'tiled'")

"""Declipping: restore the peaks of a clipped recording under the prior (the README's "Adding a task").

A sample at the clip level was at least that loud: it may move, but only beyond the level
(positive clips up, negative clips down); every other sample stays as observed. The whole
task is this module: the constraint object :class:`Declipping` and the command :data:`COMMAND`.

    python -m wavenet_vocoder.pnf.tasks.declipping <checkpoint> <input-file> <output-dir> --clip=0.5 --preset=...
"""
import numpy as np

from ...deferred import deferred_import
from ...baselines import declip_spline
from ...cli import parse_float, run
from ...errors import PnfError
from ...metrics import score
from ...quantize import dequantize, quantize, to_units
from ..command import Job, JobResult, TaskCommand, run_task
from ..settings import load_input, pick
from ..task import TaskBase

torch = deferred_import("torch")

SAMPLE_SIZE = -1        # samples of the input to use; -1: the whole file
SGLD_WINDOW = 20000     # samples per Langevin window
BATCH_SIZE = 2          # windows per step
N_STEPS = 64            # moves of each sample per noise level
STEP_SCALE = 0.05       # eta = STEP_SCALE * sigma^2
INIT = "noise"          # start: "noise" (every level from noise, as published) or "baseline" (the
                        # cubic spline across the clipped samples, noised)
CLIP = 0.5              # clip level, a fraction of the input's peak


class Declipping(TaskBase):
    """``observed`` (T,) quantised units of a signal clipped at ``low`` and ``high`` (quantised units).

    Samples at or beyond ``high`` may move, but not below it; at or beyond ``low``, not above it
    (a projection after every step, :meth:`implicit_update`). The others stay fixed. (Samples
    that quantise to a clip level without being clipped move too, bounded by that level: they lie
    within one quantisation step of it.)
    """

    def __init__(self, observed, low, high, estimate=None):
        self.observed = torch.as_tensor(observed, dtype=torch.float32).reshape(-1)
        self.length = self.observed.numel()
        self.low, self.high = float(low), float(high)
        self.upper = self.observed >= self.high
        self.lower = self.observed <= self.low
        # the plain estimate (a warm start's origin), quantised units: given, or the clipped signal
        self.estimate = self.observed if estimate is None else estimate

    def initial_state(self, generator):
        return self.observed.clone().unsqueeze(0)

    def movable(self):
        return (self.upper | self.lower).unsqueeze(0)

    def implicit_update(self, x, step, sigma):
        """Move each clipped sample back to its side of the clip level (zero where it is already there)."""
        up = (self.high - x[0]).clamp(min=0) * self.upper.to(x.device)
        down = (self.low - x[0]).clamp(max=0) * self.lower.to(x.device)
        return (up + down).unsqueeze(0)


OPTIONS = """\
  --clip=<level>         Clip the input at +-level times its peak (CLIP), then restore it.
"""


def resolve(args, constants):
    """The clip level (a fraction of the peak, in (0, 1))."""
    level = parse_float(pick(args, "--clip", constants, "CLIP"), "--clip")
    if not level < 1:
        raise PnfError(f"--clip={level:g}: give a level below 1 (a fraction of the input's peak)")
    return {"clip": level}


def jobs(args, settings):
    """One job: the input clipped at the level, its clipped samples sampled back."""
    hp, path = settings.hparams, args["<input-file>"]
    clean = load_input(path, settings)
    level = settings.task["clip"]
    clipped = np.clip(clean, -level, level)
    observed = quantize(clipped, hp.input_type, hp.quantize_channels).astype(np.float64)
    bounds = to_units(torch.tensor([-level, level], dtype=torch.float64), hp.input_type, hp.quantize_channels)
    low, high = float(torch.ceil(bounds[0])), float(torch.floor(bounds[1]))   # the quantised clip levels
    moved = (observed >= high) | (observed <= low)
    spline = declip_spline(clipped, moved)
    spline_units = to_units(torch.from_numpy(spline), hp.input_type, hp.quantize_channels).float()

    def make_task(start, end):
        return Declipping(observed[start:end], low, high, spline_units[start:end])

    def outputs(state, start, end):
        y = clipped[start:end].astype(np.float64)
        here = moved[start:end]
        y[here] = dequantize(state[0, here], hp.input_type, hp.quantize_channels)
        return {"out": y}

    def finish(joined, seconds):
        estimate = joined["out"]
        metrics = {"pnf": score(clean, estimate, hp.sample_rate),
                   "baseline": score(clean, clipped, hp.sample_rate),
                   "spline": score(clean, spline, hp.sample_rate)}
        share = float(np.mean(moved))
        return JobResult(wavs={"out.wav": estimate},
                         panels=[("original", clean), (f"clipped at {level:g}", clipped), ("PnF output", estimate)],
                         metrics=metrics, extra={"clip": level, "clipped_fraction": share, "samples": int(clean.size)})

    yield Job(args["<output-dir>"], [path], clean.size, make_task, outputs, finish,
              before={"x_original.wav": clean, "x_modified.wav": clipped})


COMMAND = TaskCommand(
    name="declipping",
    script="declipping",
    summary="Declipping: clip <input-file> at --clip times its peak and restore the peaks.",
    usage=("<checkpoint> <input-file> <output-dir> [options]",),
    details="<checkpoint> is the prior's folder (per-level or noise-conditional). run.json compares\n"
            "the output, the clipped input (the baseline) and a cubic spline across the clipped\n"
            "samples (spline; with --init baseline, the warm start) with the original.",
    options=OPTIONS,
    priors=("<checkpoint>",),
    many="<input-file>",
    constants={"CLIP": "--clip"},
    resolve=resolve,
    jobs=jobs,
)


def main(argv=None):
    return run_task(COMMAND, dict(SAMPLE_SIZE=SAMPLE_SIZE, SGLD_WINDOW=SGLD_WINDOW, BATCH_SIZE=BATCH_SIZE,
                                  N_STEPS=N_STEPS, STEP_SCALE=STEP_SCALE, INIT=INIT, CLIP=CLIP), argv)


if __name__ == "__main__":
    run(main)

"""Two-source separation with two linear-quantised priors: mixture = source0 + source1.

Constraint object: :class:`Separation` (both sources move; a mixture term ties their sum).
Command: :data:`COMMAND` (``pnf-separation``, ``wavenet_vocoder/pnf/sgld_separation.py``).
"""
import numpy as np

from ...audio import audio_rate
from ...band import check_fill_band, fill_band_hz, limit_source_bands, parse_source_bands
from ...deferred import deferred_import
from ...baselines import separate_half
from ...cli import parse_float
from ...errors import PnfError
from ...metrics import score
from ...quantize import linear_zero, requantize
from ..command import Job, JobResult, TaskCommand
from ..settings import load_input, pick
from ..task import TaskBase

torch = deferred_import("torch")


class Separation(TaskBase):
    """Two sources whose sum should equal ``mixture`` (T,) in quantised units.

    Linear quantisation puts each source's zero at ``Z = (channels - 1) / 2`` (127.5), so the
    quantised mixture is ``Z * mix + 2 Z`` (:func:`mixture_units`). Estimates start at
    (mixture - silence, silence), silence 127. The mixture term ``-gamma / 2 * (x0 + x1 -
    mixture)^2``, ``gamma = gamma_scale / sigma^2``, enters each step either explicitly, its
    gradient added to both sources as the published sampler does (stable only while ``2 eta
    gamma < 2``), or, with ``implicit``, as a backward-Euler step: after the prior's move the
    residual r = x0 + x1 - mixture becomes ``r / (1 + 2 eta gamma)`` and each source moves by
    ``-eta gamma r'``, stable for any eta.
    """

    n_sources = 2

    def __init__(self, mixture, gamma_scale=15.0, implicit=False):
        self.mixture = torch.as_tensor(mixture, dtype=torch.float32).reshape(-1)
        self.length = self.mixture.numel()
        self.gamma_scale = float(gamma_scale)
        self.implicit = bool(implicit)

    def initial_state(self, generator):
        return torch.stack([self.mixture - self.silence, torch.full_like(self.mixture, self.silence)])

    def movable(self):
        return torch.ones(2, self.length, dtype=torch.bool)

    def baseline(self):
        """Half the mixture each: in units, each source is half the mixture's (Z * m / 2 + Z = (Z * m + 2 Z) / 2)."""
        return torch.stack([self.mixture / 2, self.mixture / 2])

    def extra_gradient(self, x, sigma):
        if self.implicit:
            return None
        residual = x[0] + x[1] - self.mixture.to(x.device)
        return (-self.gamma_scale / sigma ** 2 * residual).expand(2, -1)

    def implicit_update(self, x, step, sigma):
        if not self.implicit:
            return None
        gamma = self.gamma_scale / sigma ** 2
        residual = x[0] + x[1] - self.mixture.to(x.device)
        shared = step[0] * gamma                       # both sources are covered by the same windows
        after = residual / (1 + 2 * shared)
        return (-shared * after).expand(2, -1)


def mixture_units(mixture, channels=256):
    """A mixture of two sources (audio at any scale) in quantised units: the sum of the two linear
    quantisers' continuous images, ``Z * mixture + 2 Z`` with ``Z = (channels - 1) / 2``."""
    zero = linear_zero(channels)
    return zero * np.asarray(mixture, dtype=np.float64) + 2 * zero


def source_audio(row, channels=256):
    """One source's state (quantised units) -> audio at the mixture's scale (not clipped)."""
    zero = linear_zero(channels)
    return (np.asarray(row, dtype=np.float64) - zero) / zero


DETAILS = """\
<checkpoint0>, <checkpoint1>: the prior folders (one checkpoints<sigma>/ folder per level, or
one noise-conditional checkpoint_latest_ema.pth) of source 0 and source 1. With two input
files their sum is the mixture and the outputs are scored against them; with --mixture the
file itself is separated. A source from a recording made at a lower rate than the preset's
has nothing above half that rate, while its prior would write hiss there (and the other source
its negative): out0.wav and out1.wav are each low-passed to the band its source can have (by
default half the rate of the file it comes from, with --mixture the mixture file's, when below
the preset's), the part taken away handed to the other source so that the two still add up to
the mixture; the out<i>_<sigma>.wav files keep the chain's state as sampled."""

OPTIONS = """\
  --mixture=<file>       Separate this mixture instead of summing two sources.
  --trim                 Trim two sources of different lengths to the shorter one.
  --implicit-mixture     Take the mixture term as a backward-Euler step (stable at any step
                         size) instead of the published explicit gradient (which needs a
                         step scale below 1/GAMMA_SCALE); a preset with implicit_mixture
                         true takes it without the flag.
  --gamma-scale=<g>      Weight of the mixture term, gamma = g / sigma^2 (GAMMA_SCALE).
  --mix-peak=<p>         Scale the mixture to this peak, so that each source stays inside its
                         quantiser (MIX_PEAK); the wavs are written at the mixture's scale / p.
  --fill-band=<hz>       Low-pass each source to this band edge in Hz, or to one edge each
                         given as source 0,source 1 (e.g. none,8000 for a voice recorded at 16
                         kHz); auto: half the rate of the source's file when below the
                         preset's; none: as sampled (default: FILL_BAND).
"""


def resolve(args, constants):
    """The task's own values: the mixture term's weight, the mixture's peak and each source's band
    limit (--fill-band over FILL_BAND: a pair of "auto", None or Hz; see
    :func:`~wavenet_vocoder.band.parse_source_bands`); flags over constants."""
    def value(flag, name):
        return parse_float(pick(args, flag, constants, name), flag)
    return {"gamma_scale": value("--gamma-scale", "GAMMA_SCALE"), "mix_peak": value("--mix-peak", "MIX_PEAK"),
            "implicit_flag": bool(args["--implicit-mixture"]),
            "fill_band": parse_source_bands(str(pick(args, "--fill-band", constants, "FILL_BAND")))}


def implicit_mixture(settings):
    """Whether the mixture term is taken implicitly: --implicit-mixture, else the preset's implicit_mixture."""
    return settings.task["implicit_flag"] or bool(settings.hparams.implicit_mixture)


def check(settings, args):
    """Linear priors only, band edges below half the preset's rate, and a step scale (and --denoise
    step) the explicit mixture term survives."""
    hp, task = settings.hparams, settings.task
    for band in task["fill_band"]:
        check_fill_band(band, hp.sample_rate)
    if hp.input_type != "linear-quantize":
        raise PnfError(f"separation needs linear-quantised priors (mixture = source0 + source1), but "
                       f"{args['--preset']} says input_type={hp.input_type}: use a linear preset, e.g. "
                       "--preset=egs/linear_quantize_max_audio/config.json")
    # Each step moves the sum x0 + x1 towards the mixture by 2 eta gamma = 2 step_scale gamma_scale times
    # the residual: from 2 on it overshoots more than it corrects and the sampler diverges.
    implicit = implicit_mixture(settings)
    if not implicit and settings.sampler.denoise:
        raise PnfError(f"--denoise takes a step of sigma^2, which separation's explicit mixture term does not survive "
                       f"(2 x {task['gamma_scale']:g} >= 2): pass --implicit-mixture with it")
    if not implicit and 2 * settings.step_scale * task["gamma_scale"] >= 2:
        raise PnfError(f"step scale {settings.step_scale:g} (--step-scale, else the preset's step_scale, else "
                       f"STEP_SCALE) is too large for separation's explicit mixture term (gamma = "
                       f"{task['gamma_scale']:g} / sigma^2): pass --implicit-mixture, or --step-scale below "
                       f"{1 / task['gamma_scale']:.3f}")


def load_sources(path0, path1, settings, trim):
    """Both sources (peak 1 each, cropped as --sample-size says) and, with ``trim``, cut to a common length."""
    s0, s1 = load_input(path0, settings), load_input(path1, settings)
    if s0.size != s1.size:
        if not trim:
            raise PnfError(f"{path0} has {s0.size} samples and {path1} has {s1.size}: "
                           "give sources of the same length, or pass --trim to cut both to the shorter")
        n = min(s0.size, s1.size)
        s0, s1 = s0[:n], s1[:n]
    return s0.astype(np.float64), s1.astype(np.float64)


def mixture_gain(mixture, peak, name):
    """The gain that scales ``mixture`` (audio, any scale) to the peak ``peak`` (the task's MIX_PEAK,
    in units of the quantiser's full scale 1); ``name`` names the input(s) in the error for silence."""
    top = float(np.max(np.abs(mixture)))
    if top <= 0:
        raise PnfError(f"the mixture of {name} is silent")
    return peak / top


def jobs(args, settings):
    """One job: the mixture (given, or the sum of two sources) split into two sources."""
    hp, task = settings.hparams, settings.task
    peak_target, channels = task["mix_peak"], hp.quantize_channels
    if args["--mixture"]:
        inputs, sources = [args["--mixture"]], None
        mixture = load_input(args["--mixture"], settings).astype(np.float64)
    else:
        inputs = [args["<input-file1>"], args["<input-file2>"]]
        sources = load_sources(*inputs, settings, args["--trim"])
        mixture = sources[0] + sources[1]
    # each source's band: from the file it comes from (the mixture's, for both, with --mixture)
    rates = [audio_rate(inputs[i if sources is not None else 0]) for i in (0, 1)]
    bands = [fill_band_hz(task["fill_band"][i], rates[i], hp.sample_rate) for i in (0, 1)]
    gain = mixture_gain(mixture, peak_target, " and ".join(inputs))
    mixture = mixture * gain
    quantised = mixture_units(mixture, channels)

    implicit = implicit_mixture(settings)

    def make_task(start, end):
        return Separation(quantised[start:end], gamma_scale=task["gamma_scale"], implicit=implicit)

    def outputs(state, start, end):
        return {f"out{i}": source_audio(state[i], channels) / peak_target for i in (0, 1)}

    def finish(joined, seconds):
        written = np.stack([joined["out0"], joined["out1"]])
        if bands != [None, None]:
            written = limit_source_bands(written, bands, hp.sample_rate)
        estimates = [written[i] * peak_target for i in (0, 1)]
        panels = [("mixture", mixture / peak_target)]
        if sources is not None:
            panels += [(f"source {i} (original)", sources[i] * gain / peak_target) for i in (0, 1)]
        panels += [(f"PnF source {i}", estimates[i] / peak_target) for i in (0, 1)]
        metrics = None
        if sources is not None:
            references = [s * gain for s in sources]
            halves = separate_half(mixture)
            metrics = {f"source{i}": {
                "pnf": score(references[i], estimates[i], hp.sample_rate),
                "baseline": score(references[i], halves[i], hp.sample_rate),
                "ceiling": score(references[i], requantize(references[i], hp.input_type, channels), hp.sample_rate),
            } for i in (0, 1)}
        residual = estimates[0] + estimates[1] - mixture
        extra = {"samples": int(mixture.size), "mixture_gain": gain,
                 "mixture_step": "implicit" if implicit else "explicit",
                 "written_scale": f"wav files are the mixture's scale divided by {peak_target:g}",
                 "mixture_residual_rms": float(np.sqrt(np.mean(residual ** 2))), "fill_band_hz": bands}
        return JobResult(wavs={"out0.wav": written[0], "out1.wav": written[1]}, panels=panels,
                         metrics=metrics, extra=extra)

    yield Job(args["<output-dir>"], inputs, mixture.size, make_task, outputs, finish,
              before={"mixed.wav": mixture / peak_target})


COMMAND = TaskCommand(
    name="separation",
    script="sgld_separation.py",
    summary="Separation: split a mixture into two sources, one prior each.",
    usage=("<checkpoint0> <checkpoint1> <input-file1> <input-file2> <output-dir> [options]",
           "<checkpoint0> <checkpoint1> --mixture=<file> <output-dir> [options]"),
    details=DETAILS,
    options=OPTIONS,
    priors=("<checkpoint0>", "<checkpoint1>"),
    many="--mixture",
    constants={"GAMMA_SCALE": "--gamma-scale", "MIX_PEAK": "--mix-peak", "FILL_BAND": "--fill-band"},
    resolve=resolve,
    check=check,
    jobs=jobs,
)

"""Super-resolution: keep every r-th sample and sample the rest, or pull towards a low-rate observation.

Constraint objects: :class:`SuperResolution` (the published one: the kept samples are fixed) and
:class:`LowRateSuperResolution` (a low-passed, decimated observation as a likelihood term).
Command: :data:`COMMAND` (``pnf-superres``, ``wavenet_vocoder/pnf/sgld_superres.py``).
"""
import sys

import numpy as np

from ...deferred import deferred_import
from ...audio import audio_rate, load_audio
from ...band import FILL_BAND_MAX_PASSES, check_fill_band, fill_band_hz, limit_fill_band, parse_fill_band
from ...baselines import superres_bandlimited, superres_cubic, superres_noise_floor
from ...cli import parse_float, parse_int
from ...errors import PnfError
from ...lowrate import antialias_filter, decimate
from ...metrics import score
from ...quantize import dequantize, from_units, quantize, requantize, to_units
from ..command import Job, JobResult, TaskCommand
from ..settings import load_input, pick
from ..task import TaskBase

librosa = deferred_import("librosa")
torch = deferred_import("torch")


class SuperResolution(TaskBase):
    """Every ``interval``-th sample of ``observed`` (T,) quantised units is kept fixed; the others
    start uniform in [0, 256). ``estimate``: (T,) the plain estimate in quantised units (the
    band-limited interpolation of the kept samples), for a warm start."""

    def __init__(self, observed, interval, estimate=None):
        if interval < 2:
            raise ValueError("the downsample interval must be at least 2")
        self.observed = torch.as_tensor(observed, dtype=torch.float32).reshape(-1)
        self.interval = int(interval)
        self.length = self.observed.numel()
        self.estimate = estimate

    def kept(self):
        """(length,) bool: the observed low-rate samples x[::interval]."""
        mask = torch.zeros(self.length, dtype=torch.bool)
        mask[::self.interval] = True
        return mask

    def initial_state(self, generator):
        x = torch.rand(1, self.length, generator=generator) * 256
        kept = self.kept()
        x[0, kept] = self.observed[kept]
        return x

    def movable(self):
        return ~self.kept().unsqueeze(0)


class LowRateSuperResolution(TaskBase):
    """A high-rate signal whose low-passed, decimated version is the observed low-rate one.

    ``observed``: (N,) the low-rate audio in [-1, 1]; ``ratio``: samples per observed sample;
    the state has ``length`` samples (N * ratio for a real file).  No sample is fixed: the
    likelihood term ``-gamma / 2 * ||S (A audio(x) - observed)||^2``, with ``gamma = weight /
    sigma^2`` and ``S = (channels - 1) / 2`` (audio in the linear quantiser's units, as
    separation's mixture term), pulls the estimate towards the observation; ``A`` is
    :func:`~wavenet_vocoder.lowrate.decimate` (the anti-aliasing low-pass of ``resample_poly``,
    then every ratio-th sample) and ``audio`` the quantiser's continuous inverse.

    The term is taken implicitly, on the audio, after each Langevin step (backward Euler,
    as separation's ``--implicit-mixture``): ``a <- a - A^T k (A a - observed)`` with
    ``k = e / (1 + e c)``, ``e = eta gamma S^2`` and ``c = ||A||^2`` (``A A^T`` is close to
    ``c I`` for this filter).  On the audio its pull is the same in quiet and loud passages;
    an explicit gradient step on the mu-law state would pull quiet passages (where the
    mu-law curve is steep in audio) 250^2 times less than loud ones, and be unstable at
    the weights that hold the loud ones.  Sampling starts from the band-limited interpolation.
    """

    def __init__(self, observed, ratio, length, input_type, channels=256, weight=1.0):
        self.ratio, self.length, self.weight = int(ratio), int(length), float(weight)
        self.input_type, self.channels = input_type, channels
        self.observed = torch.as_tensor(np.asarray(observed, dtype=np.float64))
        if -(-self.length // self.ratio) != self.observed.numel():
            raise ValueError(f"{self.observed.numel()} observed samples do not decimate {self.length} by {self.ratio}")
        self.taps = antialias_filter(self.ratio)
        self.scale = (channels - 1) / 2.0
        self.norm = self._operator_norm()
        self.estimate = self.initial_state(None)          # the band-limited interpolation, where it starts

    def _operator_norm(self):
        """||A||^2, the largest eigenvalue of A A^T, by power iteration (about 1 / ratio)."""
        v = torch.randn(256 * self.ratio, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        norm = 0.0
        for _ in range(100):
            v.requires_grad_(True)
            (v_next,) = torch.autograd.grad((decimate(v, self.ratio, self.taps) ** 2).sum() / 2, v)
            norm = float(v_next.norm() / v.detach().norm())
            v = (v_next / v_next.norm()).detach()
        return norm

    def initial_state(self, generator):
        start = superres_bandlimited(self.observed.numpy(), self.ratio, self.length)
        return to_units(torch.as_tensor(start), self.input_type, self.channels).float().unsqueeze(0)

    def movable(self):
        return torch.ones(1, self.length, dtype=torch.bool)

    def implicit_update(self, x, step, sigma):
        eta = step[0].double()                                       # eta times the windows covering each sample
        e = eta.max() * self.weight / sigma ** 2 * self.scale ** 2
        gain = e / (1 + e * self.norm)
        with torch.enable_grad():
            audio = from_units(x[0].double(), self.input_type, self.channels).requires_grad_(True)
            low = decimate(audio, self.ratio, self.taps)
            residual = low.detach() - self.observed.to(audio.device)
            (pull,) = torch.autograd.grad(low, audio, residual)                           # A^T residual
        moved = (audio - gain * pull * (eta > 0)).detach().clamp(-1.0, 1.0)
        return (to_units(moved, self.input_type, self.channels) - x[0].double()).to(x.dtype).unsqueeze(0)


def filled_samples(length, interval, antialias=False):
    """(length,) bool: the samples PnF fills in, every one but each ``interval``-th (kept as observed),
    or with ``antialias`` (no sample kept) every one."""
    filled = np.ones(length, dtype=bool)
    if not antialias:
        filled[::interval] = False
    return filled


DETAILS = """\
<checkpoint> is the prior's folder: one checkpoints<sigma>/ folder per level, or one
noise-conditional checkpoint_latest_ema.pth.

Three observation models. By default (the published one) the clean input is cut to every
r-th sample and those samples are kept fixed. With --antialias the clean input is
low-passed and decimated (as a resampler makes a low-rate file) and the output is pulled
towards that observation by a likelihood term (--obs-weight). With --input-rate the input
file itself is the low-rate recording: the same likelihood term, the output at the preset's
rate, and no reference to measure against (run.json has no metrics)."""

OPTIONS = """\
  --downsample_interval=<r>  Keep every r-th sample (r >= 2) [default: 4].
  --antialias                Degrade by anti-aliasing low-pass and decimation by r instead of
                             keeping every r-th sample.
  --input-rate=<hz>          The input is a low-rate recording at this rate ("file": the rate
                             its header gives); the ratio is the preset's rate over it,
                             rounded (a non-integer ratio resamples the input to the nearest
                             integer grid first, and says so).
  --obs-weight=<w>           Weight of the low-rate observation term, gamma = w / sigma^2 in
                             quantised units (OBS_WEIGHT); taken implicitly, so any weight is
                             stable, and at 1 the estimate keeps the observation closely.
  --fill-band=<hz>           Low-pass the samples PnF fills in to this band edge in Hz (e.g.
                             8000 for a recording made at 16 kHz and resampled); auto: half the
                             input file's rate when below the preset's; none: as sampled
                             (FILL_BAND).
"""


def resolve(args, constants):
    """The task's own values: the low-rate term's weight (--obs-weight over OBS_WEIGHT) and the
    fill's band limit (--fill-band over FILL_BAND: "auto", None or Hz; see
    :func:`~wavenet_vocoder.band.fill_band_hz`)."""
    weight = pick(args, "--obs-weight", constants, "OBS_WEIGHT")
    band = pick(args, "--fill-band", constants, "FILL_BAND")
    return {"obs_weight": parse_float(weight, "--obs-weight"), "fill_band": parse_fill_band(str(band))}


def check(settings, args):
    """Refuse a --fill-band at or above half the preset's sample rate (there is no band above it)."""
    check_fill_band(settings.task["fill_band"], settings.hparams.sample_rate)


def jobs(args, settings):
    """One job: the input degraded and restored, or (--input-rate) a low-rate recording upsampled."""
    if args["--input-rate"] is not None:
        yield _recording_job(args, settings)
        return
    hp, path = settings.hparams, args["<input-file>"]
    interval = parse_int(args["--downsample_interval"], "--downsample_interval", 2)
    clean = load_input(path, settings)
    antialias = bool(args["--antialias"])
    weight = settings.task["obs_weight"]
    if antialias:
        low = decimate(clean, interval)
        described = f"input: low-passed, every {interval}th sample, band-limited interpolation"

        def make_task(start, end):
            return LowRateSuperResolution(decimate(clean[start:end], interval), interval, end - start,
                                          hp.input_type, hp.quantize_channels, weight)
    else:
        low = clean[::interval]
        observed = quantize(clean, hp.input_type, hp.quantize_channels)
        described = f"input: every {interval}th sample, band-limited interpolation"

        def make_task(start, end):
            return SuperResolution(observed[start:end], interval, estimate_units[start:end])
    baseline = superres_bandlimited(low, interval, clean.size)
    band = fill_band_hz(settings.task["fill_band"], audio_rate(path), hp.sample_rate)
    if band is not None and band <= hp.sample_rate / (2 * interval):
        raise PnfError(f"--fill-band={band:g} Hz lies inside the band the observation holds (up to "
                       f"{hp.sample_rate / (2 * interval):g} Hz, one sample in {interval}): give a higher edge, or none")
    filled = filled_samples(clean.size, interval, antialias)
    estimate_units = to_units(torch.as_tensor(baseline), hp.input_type, hp.quantize_channels).numpy()

    def outputs(state, start, end):
        y = dequantize(state[0], hp.input_type, hp.quantize_channels)
        if not antialias:
            # The kept samples are returned as they were in the input, not through the quantiser.
            y[::interval] = clean[start:end:interval]
        return {"out": y}

    def limited(y):
        return y if band is None else limit_fill_band(y, filled, band, hp.sample_rate, passes=FILL_BAND_MAX_PASSES)

    def finish(joined, seconds):
        estimate = limited(joined["out"])
        sr = hp.sample_rate
        # PnF's last level's start without a Langevin step, no prior involved (seed 0), band-limited as PnF is
        noise_floor = limited(superres_noise_floor(low, interval, clean.size, min(hp.sigmas), hp.input_type,
                                                   hp.quantize_channels, antialias))
        metrics = {"pnf": score(clean, estimate, sr), "baseline": score(clean, baseline, sr),
                   "spline": score(clean, superres_cubic(low, interval, clean.size), sr),
                   "noise_floor": score(clean, noise_floor, sr),
                   "ceiling": score(clean, requantize(clean, hp.input_type, hp.quantize_channels), sr)}
        extra = {"downsample_interval": interval, "samples": int(clean.size),
                 "observation": "antialias" if antialias else "every r-th sample", "fill_band_hz": band}
        if antialias:
            extra["obs_weight"] = weight
        return JobResult(wavs={"out.wav": estimate},
                         panels=[("original", clean), (described, baseline), ("PnF output", estimate)],
                         marks={"cutoff_hz": sr / (2 * interval)}, metrics=metrics, extra=extra)

    yield Job(args["<output-dir>"], [path], clean.size, make_task, outputs, finish,
              before={"x_original.wav": clean, "x_modified.wav": baseline}, align=interval)


def _recording_job(args, settings):
    """--input-rate: the input file is the low-rate observation; the job upsamples it to the preset's rate."""
    hp, path = settings.hparams, args["<input-file>"]
    rate = audio_rate(path) if args["--input-rate"] == "file" else parse_float(args["--input-rate"], "--input-rate")
    ratio = int(round(hp.sample_rate / rate))
    if ratio < 2:
        raise PnfError(f"--input-rate={rate:g} Hz: the preset's rate is {hp.sample_rate} Hz, less than twice that; "
                       "nothing to upsample")
    grid = hp.sample_rate / ratio
    low = load_audio(path, rate)
    if abs(grid - rate) > 1e-6 * rate:
        print(f"note: {hp.sample_rate} / {rate:g} Hz is not an integer ratio: resampling the input to {grid:g} Hz "
              f"first, then upsampling by {ratio}", file=sys.stderr)
        low = librosa.resample(low.astype(np.float64), orig_sr=rate, target_sr=grid, res_type="soxr_hq")
    if settings.sample_size > 0:
        low = low[:-(-settings.sample_size // ratio)]
    length = low.size * ratio
    if length < 16:
        raise PnfError(f"{path} has only {low.size} samples: too short to sample")
    weight = settings.task["obs_weight"]
    baseline = superres_bandlimited(low, ratio, length)
    # the file is the low-rate observation: its own rate says nothing about the band above it
    band = settings.task["fill_band"] if isinstance(settings.task["fill_band"], float) else None

    def make_task(start, end):
        return LowRateSuperResolution(low[start // ratio:-(-end // ratio)], ratio, end - start,
                                      hp.input_type, hp.quantize_channels, weight)

    def outputs(state, start, end):
        return {"out": dequantize(state[0], hp.input_type, hp.quantize_channels)}

    def finish(joined, seconds):
        estimate = joined["out"]
        if band is not None:
            estimate = limit_fill_band(estimate, np.ones(estimate.size, dtype=bool), band, hp.sample_rate,
                                       passes=FILL_BAND_MAX_PASSES)
        return JobResult(wavs={"out.wav": estimate},
                         panels=[(f"input at {grid:g} Hz, band-limited interpolation", baseline),
                                 ("PnF output", estimate)],
                         marks={"cutoff_hz": grid / 2},
                         extra={"observation": "low-rate recording", "input_rate": rate, "grid_rate": grid,
                                "ratio": ratio, "obs_weight": weight, "samples": int(length),
                                "fill_band_hz": band})

    return Job(args["<output-dir>"], [path], length, make_task, outputs, finish,
               before={"x_modified.wav": baseline}, align=ratio)


COMMAND = TaskCommand(
    name="superres",
    script="sgld_superres.py",
    summary="Super-resolution: restore every sample of <input-file> from every r-th one, or\n"
            "upsample a low-rate recording to the preset's rate.",
    usage=("<checkpoint> <input-file> <output-dir> [options]",),
    details=DETAILS,
    options=OPTIONS,
    priors=("<checkpoint>",),
    many="<input-file>",
    constants={"OBS_WEIGHT": "--obs-weight", "FILL_BAND": "--fill-band"},
    resolve=resolve,
    check=check,
    jobs=jobs,
)

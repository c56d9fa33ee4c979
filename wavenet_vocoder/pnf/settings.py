"""Every task command's shared flags, resolved once into one frozen :class:`RunSettings`, and the
input loading they govern (crop, scale, window fit, segments)."""
import dataclasses
import os
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

from ..deferred import deferred_import
from ..audio import audio_channels, audio_rate, load_audio
from ..cli import parse_float, parse_int, resolve_device
from ..errors import PnfError
from ..hparams import load_preset
from .langevin import INITS, SamplerConfig
from .noise_schedule import AnnealingSchedule
from .segments import MIN_SEGMENT, segment_bounds
from .windows import SCHEDULES

# Checkpoint loading (torch, the model) is read only once the flags are parsed.
priors_module = deferred_import("wavenet_vocoder.pnf.priors")

#: Options every task command accepts (appended to each task's own options in its usage).
COMMON_OPTIONS = """\
  --preset=<json>        Preset file, e.g. egs/mulaw_maxaudio/config.json.
  --hparams=<params>     Preset overrides "name=value,...", e.g. "sigmas=[10.0,1.0]" [default: ].
  --n-steps=<n>          Moves of each sample per noise level (N_STEPS).
  --sgld-window=<n>      Window length in samples (SGLD_WINDOW).
  --batch-size=<n>       Windows scored together in one step (BATCH_SIZE).
  --sample-size=<n>      Use the first n samples of the input, -1 for all (SAMPLE_SIZE).
  --crop-then-scale      Crop to --sample-size first, then scale to peak 1, as the published code
                         does; by default the whole file is scaled to peak 1, then cropped.
  --step-scale=<c>       Langevin step size eta = c * sigma^2; default: the preset's step_scale,
                         when it has one, else STEP_SCALE.
  --level-steps=<list>   Moves of each sample at each level, one count per level of sigmas
                         (e.g. 4,4,8,16,32,32); default: the preset's level_steps, else --n-steps.
  --start-sigma=<s>      Begin the schedule at its first level at or below s (quantised units),
                         skipping the levels above; with --init baseline, a warm start.
                         Default: with --init baseline the preset's warm_start_sigma (its
                         task_warm_start_sigma for this task first), when it has one; else the
                         first level.
  --init=<how>           Where sampling starts: baseline (the task's plain estimate plus noise
                         of the first level's sigma) or noise (the published start) (INIT).
  --schedule=<kind>      Window schedule: random (published) or tiled [default: random].
  --denoise              End with one noise-free step of size sigma^2 at the last level
                         (Tweedie's formula): the output is the posterior mean of the clean
                         signal given the final state, without the lowest level's noise that
                         a sample carries (not in the published code).
  --temperature=<t>      Scale the variance of each step's noise by t: sample p_sigma^(1/t), a
                         sharper law than the prior's for t < 1 (0: noise-free annealed gradient
                         ascent); 1 is the published step [default: 1].
  --seed=<n>             Random seed [default: 0].
  --chains=<k>           Run k independent chains (seeds seed, seed + 1000, ...) and write their
                         mean as the output: an estimate of the posterior mean, which scores
                         higher in SNR than any one sample (each sample's own invented detail
                         averages out) and keeps less of what the data leave open; the per-level
                         files are the first chain's sample; k times the time [default: 1].
  --device=<dev>         cpu, cuda or cuda:N; default: cuda when available, else cpu.
  --threads=<n>          Torch threads; default: OMP_NUM_THREADS when set, else the cores this
                         process may use (lower it on a machine shared with other busy work).
  --precision=<p>        How log p and its gradient are computed: fp32 (float32: the fast path
                         on a CPU, equal to the plain model to about 1e-5; the plain
                         convolutions on a GPU, where they are faster), bf16 (fast path with
                         bfloat16 matrix products: faster where the hardware has bf16
                         units, gradients a few percent off) or reference (the plain
                         autograd formulation) [default: fp32].
  --segment=<s>          Cut the input into independent segments of this many seconds and
                         sample each one exactly as a run on that segment alone would (same
                         seed; silence before it; a warm start starts from the whole file's
                         plain estimate there): memory and results per segment do not depend
                         on the file's length.  Default: the whole file is one state.
  --no-progress          Hide the progress bars.
  --plot                 Also write comparison.png: spectrograms of the original, the
                         degraded input and the output (matplotlib).
  -h, --help             Show this help.
"""

#: The editable constants every task script defines, and the flags that override them.
SHARED_CONSTANTS = {"SAMPLE_SIZE": "--sample-size", "SGLD_WINDOW": "--sgld-window", "BATCH_SIZE": "--batch-size",
                    "N_STEPS": "--n-steps", "STEP_SCALE": "--step-scale", "INIT": "--init"}


@dataclass(frozen=True)
class RunSettings:
    """Everything a task run needs besides its inputs, resolved once from flags and constants.

    ``sample_size``: samples of the input to use (-1: all); ``step_scale``: eta = step_scale *
    sigma^2 (quantised units squared); ``segment_seconds``: length of independent segments
    (None: the whole input is one state); ``crop_then_scale``: the published order of
    cropping and peak scaling; ``task``: the task's own resolved values (name -> value);
    ``schedule``: the levels sampled (the preset's, from ``--start-sigma`` on), their step size
    and moves per level; ``chains``: independent chains whose mean is the output.
    """

    hparams: object
    sampler: SamplerConfig
    sample_size: int
    step_scale: float
    schedule: AnnealingSchedule = None
    segment_seconds: float = None
    crop_then_scale: bool = False
    plot: bool = False
    task: dict = dataclasses.field(default_factory=dict)
    chains: int = 1


def pick(args, flag, constants, name):
    """The value of ``flag`` when given, else the script's constant ``name``."""
    return args[flag] if args.get(flag) is not None else constants[name]


def settings_from_args(args, constants, task_values=None, task=None):
    """Resolve the common flags against a script's constants (SAMPLE_SIZE, SGLD_WINDOW, ...).

    ``task_values``: the task's own values, already resolved (see ``TaskCommand.resolve``);
    ``task``: the task command's name (e.g. "superres"), for the preset's per-task warm start.
    """
    if not args["--preset"]:
        raise PnfError("--preset is required, e.g. --preset=egs/mulaw_maxaudio/config.json")
    hp = load_preset(args["--preset"], args["--hparams"] or "")
    schedule = args["--schedule"]
    if schedule not in SCHEDULES:
        raise PnfError(f"--schedule={schedule}: use {' or '.join(SCHEDULES)}")
    precision = args["--precision"]
    if precision not in priors_module.SAMPLER_PRECISIONS:
        raise PnfError(f"--precision={precision}: use one of {', '.join(priors_module.SAMPLER_PRECISIONS)}")
    init = pick(args, "--init", constants, "INIT")
    if init not in INITS:
        raise PnfError(f"--init={init}: use {' or '.join(INITS)}")
    sampler = SamplerConfig(
        n_steps=parse_int(pick(args, "--n-steps", constants, "N_STEPS"), "--n-steps", 1),
        window=parse_int(pick(args, "--sgld-window", constants, "SGLD_WINDOW"), "--sgld-window", 2),
        windows_per_step=parse_int(pick(args, "--batch-size", constants, "BATCH_SIZE"), "--batch-size", 1),
        schedule=schedule,
        seed=parse_int(args["--seed"], "--seed", 0),
        device=resolve_device(args["--device"]),
        progress=not args["--no-progress"],
        precision=precision,
        init=init,
        denoise=bool(args.get("--denoise")),
        temperature=parse_temperature(args.get("--temperature") or 1),
    )
    sample_size = parse_int(pick(args, "--sample-size", constants, "SAMPLE_SIZE"), "--sample-size", -1)
    if sample_size == 0:
        raise PnfError("--sample-size=0: use -1 for the whole file or a positive number of samples")
    # the flag, else the preset's step_scale (what suits its prior), else the script's STEP_SCALE
    step_scale = args.get("--step-scale")
    if step_scale is None:
        step_scale = constants["STEP_SCALE"] if hp.step_scale is None else hp.step_scale
    step_scale = parse_float(step_scale, "--step-scale")
    schedule = annealing_schedule(args, hp, step_scale, init, task)
    segment = None
    if args.get("--segment") is not None:
        segment = parse_float(args["--segment"], "--segment")
        if not segment * hp.sample_rate >= MIN_SEGMENT:
            raise PnfError(f"--segment={args['--segment']}: give a length in seconds of at least "
                           f"{MIN_SEGMENT} samples ({MIN_SEGMENT / hp.sample_rate:.4f} s)")
    chains = parse_int(args.get("--chains") or 1, "--chains", 1)
    return RunSettings(hp, sampler, sample_size, step_scale, schedule, segment, bool(args.get("--crop-then-scale")),
                       bool(args.get("--plot")), dict(task_values or {}), chains)


def parse_temperature(value):
    """``--temperature``: the factor on the variance of each Langevin step's noise, 0 or more (1: the
    published step), or a :class:`PnfError` naming the flag."""
    temperature = parse_float(value, "--temperature", positive=False)
    if temperature < 0:
        raise PnfError(f"--temperature={value}: give 0 or more (1 samples as published)")
    return temperature


def warm_start_sigma(hp, task=None):
    """Where a warm start begins for ``task`` (a task command's name), in quantised units: the preset's
    task_warm_start_sigma for it when given, else its warm_start_sigma (None: the first level)."""
    return hp.task_warm_start_sigma.get(task, hp.warm_start_sigma)


def annealing_schedule(args, hp, step_scale, init="noise", task=None):
    """The levels sampled: the preset's sigmas with --level-steps (or the preset's level_steps), from
    --start-sigma on (by default, for ``init`` "baseline", from :func:`warm_start_sigma` for ``task``)."""
    steps = list(hp.level_steps) or None
    if args.get("--level-steps"):
        try:
            steps = [int(v) for v in args["--level-steps"].split(",") if v.strip()]
        except ValueError:
            raise PnfError(f"--level-steps={args['--level-steps']}: give whole numbers, e.g. 4,8,16") from None
        if len(steps) != len(hp.sigmas) or min(steps) < 1:
            raise PnfError(f"--level-steps={args['--level-steps']}: give a positive count for each of the "
                           f"{len(hp.sigmas)} levels of sigmas")
    schedule = AnnealingSchedule(tuple(hp.sigmas), step_scale, None if steps is None else tuple(steps))
    if args.get("--start-sigma"):
        start = parse_float(args["--start-sigma"], "--start-sigma")
        try:
            return schedule.starting_at(start)
        except ValueError:
            raise PnfError(f"--start-sigma={start:g} lies below every level (the lowest is "
                           f"{min(hp.sigmas):g})") from None
    start = warm_start_sigma(hp, task)
    if init == "baseline" and start is not None:
        # (the preset's values are checked against its sigmas when it is loaded)
        return schedule.starting_at(start)
    return schedule


def load_input(path, settings):
    """The input audio at the preset's rate, peak 1, cropped to ``--sample-size`` (float32, (T,)).

    By default the whole file is scaled to peak 1 and then cropped; with ``--crop-then-scale``
    the crop is scaled (the published order). Says so (stderr) when the file is converted:
    several channels averaged, another sample rate resampled.
    """
    rate = settings.hparams.sample_rate
    channels, file_rate = audio_channels(path), audio_rate(path)
    changes = []
    if channels > 1:
        changes.append(f"its {channels} channels averaged to mono")
    if file_rate != rate:
        changes.append(f"resampled from {file_rate:g} Hz to the preset's {rate} Hz")
    if changes:
        print(f"note: {path}: {' and '.join(changes)}", file=sys.stderr)
    if not settings.crop_then_scale:
        return crop(load_audio(path, rate), settings.sample_size, path)
    x = crop(load_audio(path, rate, normalize=False), settings.sample_size, path)
    peak = float(np.max(np.abs(x)))
    if peak <= 0:
        raise PnfError(f"the first {x.size} samples of {path} are silent: nothing to scale to peak 1")
    return (x / peak).astype(np.float32)


def crop(x, sample_size, source):
    """The first ``sample_size`` samples of ``x`` (all for -1)."""
    if sample_size > 0:
        x = x[:sample_size]
    if x.size < 16:
        raise PnfError(f"{source} has only {x.size} samples: too short to sample")
    return x


def fit_window(settings, length, align=1):
    """Settings whose window fits a signal of ``length`` samples (shrunk, and said, if needed)."""
    window = settings.sampler.window
    if window <= length:
        return settings
    shrunk = max(align, length // align * align)
    print(f"note: the input has {length} samples, fewer than the window of {window}: "
          f"using a window of {shrunk} samples", file=sys.stderr)
    return dataclasses.replace(settings, sampler=dataclasses.replace(settings.sampler, window=shrunk))


def segments(settings, length, align=1, keep_clear=()):
    """The (start, end) samples of the segments ``--segment`` asks for (one, the whole signal, without it)."""
    if settings.segment_seconds is None:
        return [(0, length)]
    size = int(round(settings.segment_seconds * settings.hparams.sample_rate))
    return segment_bounds(length, size, align, keep_clear)


def output_folder(path):
    """Make (or check) the output folder ``path`` before any compute, or a :class:`PnfError` naming it:
    a file in the way, or a folder that cannot be created or written (read-only, immutable)."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise PnfError(f"output folder {path} exists and is not a folder")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise PnfError(f"output folder {path} cannot be written ({e.strerror}): choose another") from None
    return path

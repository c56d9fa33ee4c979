"""What the four task scripts share: flags, device choice, output folder, sampling and run.json."""
import json
import os
import sys
import time
import dataclasses
from dataclasses import dataclass

import numpy as np

from ..audio import WavStream, save_wav, write_atomically
from ..cli import describe_device, parse_float, parse_int, resolve_device
from ..errors import PnfError
from ..hparams import load_preset
from ..plots import comparison_figure
from ..quantize import dequantize
from ..wavenet import receptive_field_size
from .langevin import PRECISIONS, SamplerConfig, anneal_segments, scored_span
from .noise_schedule import AnnealingSchedule
from .segments import MIN_SEGMENT, segment_bounds
from .windows import window_length

#: Options every task script accepts (appended to each script's docopt usage).
COMMON_OPTIONS = """\
  --preset=<json>        Preset file, e.g. egs/mulaw_maxaudio/config.json.
  --hparams=<params>     Preset overrides "name=value,...", e.g. "sigmas=[10.0,1.0]" [default: ].
  --n-steps=<n>          Moves of each sample per noise level (N_STEPS).
  --sgld-window=<n>      Window length in samples (SGLD_WINDOW).
  --batch-size=<n>       Windows scored together (BATCH_SIZE).
  --sample-size=<n>      Use the first n samples of the input, -1 for all (SAMPLE_SIZE).
  --step-scale=<c>       Langevin step size eta = c * sigma^2 (STEP_SCALE).
  --schedule=<kind>      Window schedule: random (published) or tiled [default: random].
  --seed=<n>             Random seed [default: 0].
  --device=<dev>         cpu, cuda or cuda:N; default: cuda when available, else cpu.
  --precision=<p>        How log p and its gradient are computed: fp32 (fast path, float32,
                         equal to the plain model to about 1e-5), bf16 (fast path with
                         bfloat16 matrix products: faster where the hardware has bf16
                         units, gradients a few percent off) or reference (the plain
                         autograd formulation) [default: fp32].
  --segment=<s>          Cut the input into independent segments of this many seconds and
                         sample each one exactly as a run on that segment alone would (same
                         seed; silence before it): memory and results per segment do not
                         depend on the file's length.  Default: the whole file is one state.
  --no-progress          Hide the progress bars.
  --plot                 Also write comparison.png: spectrograms of the original, the
                         degraded input and the output (matplotlib).
  -h, --help             Show this help.
"""


@dataclass(frozen=True)
class RunSettings:
    """Everything a task run needs besides its inputs: preset, sampler config, input length."""

    hparams: object
    sampler: SamplerConfig
    sample_size: int
    step_scale: float
    segment_seconds: float = None


def settings_from_args(args, constants, default_preset=None):
    """Resolve the common flags against a script's constants (SAMPLE_SIZE, SGLD_WINDOW, ...)."""
    preset = args["--preset"] or default_preset
    if preset is None:
        raise PnfError("--preset is required, e.g. --preset=egs/mulaw_maxaudio/config.json")
    hp = load_preset(preset, args["--hparams"] or "")

    def pick(flag, name):
        return args[flag] if args[flag] is not None else constants[name]

    schedule = args["--schedule"]
    if schedule not in ("random", "tiled"):
        raise PnfError(f"--schedule={schedule}: use random or tiled")
    precision = args["--precision"]
    if precision not in PRECISIONS:
        raise PnfError(f"--precision={precision}: use one of {', '.join(PRECISIONS)}")
    sampler = SamplerConfig(
        n_steps=parse_int(pick("--n-steps", "N_STEPS"), "--n-steps", 1),
        window=parse_int(pick("--sgld-window", "SGLD_WINDOW"), "--sgld-window", 2),
        batch_size=parse_int(pick("--batch-size", "BATCH_SIZE"), "--batch-size", 1),
        schedule=schedule,
        seed=parse_int(args["--seed"], "--seed", 0),
        device=resolve_device(args["--device"]),
        progress=not args["--no-progress"],
        precision=precision,
    )
    sample_size = parse_int(pick("--sample-size", "SAMPLE_SIZE"), "--sample-size", -1)
    if sample_size == 0:
        raise PnfError("--sample-size=0: use -1 for the whole file or a positive number of samples")
    step_scale = parse_float(pick("--step-scale", "STEP_SCALE"), "--step-scale")
    segment = None
    if args.get("--segment") is not None:
        segment = parse_float(args["--segment"], "--segment")
        if not segment * hp.sample_rate >= MIN_SEGMENT:
            raise PnfError(f"--segment={args['--segment']}: give a length in seconds of at least "
                           f"{MIN_SEGMENT} samples ({MIN_SEGMENT / hp.sample_rate:.4f} s)")
    return RunSettings(hp, sampler, sample_size, step_scale, segment)


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


class OutputDir:
    """The output folder: files appear complete or not at all, and inputs are never overwritten."""

    def __init__(self, path, sample_rate, inputs=()):
        self.path, self.sample_rate = os.fspath(path), sample_rate
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise PnfError(f"output folder {self.path} exists and is not a folder")
        self._inputs = {os.path.realpath(p) for p in inputs}
        self.written = []

    def _target(self, name):
        path = os.path.join(self.path, name)
        if os.path.realpath(path) in self._inputs:
            raise PnfError(f"refusing to overwrite the input file {path}: choose another output folder")
        return path

    def wav(self, name, audio):
        """Write (T,) audio in [-1, 1] as ``name`` (16-bit PCM)."""
        path = self._target(name)
        save_wav(path, audio, self.sample_rate)
        self.written.append(name)

    def stream(self, name):
        """A :class:`~wavenet_vocoder.audio.WavStream` for ``name``: written block by block, renamed when closed."""
        stream = WavStream(self._target(name), self.sample_rate)
        self.written.append(name)
        return stream

    def plot(self, name, panels, **marks):
        """Write the spectrograms of ``panels`` ((label, audio) pairs) as ``name`` (see :mod:`~wavenet_vocoder.plots`)."""
        path = self._target(name)
        comparison_figure(path, panels, self.sample_rate, **marks)
        self.written.append(name)

    def json(self, name, obj):
        """Write ``obj`` as indented JSON."""
        path = self._target(name)
        text = json.dumps(obj, indent=2, default=_json_default) + "\n"
        write_atomically(path, lambda f: f.write(text), mode="w")
        self.written.append(name)


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def to_audio(x, hparams):
    """State row (T,) in quantised units -> audio in [-1, 1] with the preset's quantiser."""
    return dequantize(np.asarray(x, dtype=np.float64), hparams.input_type, hparams.quantize_channels)


def segments(settings, length, align=1, keep_clear=()):
    """The (start, end) samples of the segments ``--segment`` asks for (one, the whole signal, without it)."""
    if settings.segment_seconds is None:
        return [(0, length)]
    size = int(round(settings.segment_seconds * settings.hparams.sample_rate))
    return segment_bounds(length, size, align, keep_clear)


def sample(make_task, bounds, priors, settings, outputs, out):
    """Say where it runs and sample every segment; returns ({name: (T,) audio}, reports, seconds, segment list).

    ``bounds``: the segments' (start, end) samples, covering the signal in order;
    ``make_task(start, end)``: the segment's task, or None when nothing in it moves (it is
    passed through); ``outputs(state, start, end)``: {name: (end - start,) audio} of the
    segment's state ((S, n) quantised units, None for a passed-through segment).  After
    each level ``<name>_<sigma>.wav`` is written (segment by segment, complete or not at
    all); the returned audio is the final outputs, the segments joined.  Scripts check
    their priors' levels (``Prior.require``) before writing anything.
    """
    schedule = AnnealingSchedule(tuple(settings.hparams.sigmas), settings.step_scale)
    hp = settings.hparams
    field = receptive_field_size(hp.layers, hp.stacks, hp.kernel_size)
    tasks = [make_task(a, b) for a, b in bounds]
    sampled = [(k, task) for k, task in enumerate(tasks) if task is not None]
    length = bounds[-1][1]
    if not sampled:
        raise PnfError("nothing to sample: no segment has a sample that may move")
    _describe(settings, [t for _, t in sampled], bounds, field, length)
    streams, done = {}, {}

    def write_level(sigma, until, state=None):
        """Write the level's outputs of the segments not yet written before ``until``: passed through,
        but for the last one, which is ``state``'s when a state is given."""
        for j in range(done.get(sigma, 0), until):
            for name, block in outputs(state if j == until - 1 else None, *bounds[j]).items():
                file = f"{name}_{sigma}.wav"
                if file not in streams:
                    streams[file] = out.stream(file)
                streams[file].write(block)
        done[sigma] = until

    def on_level(sigma, index, state):
        k = sampled[index][0]
        write_level(sigma, k)
        write_level(sigma, k + 1, state.numpy())
        if index == len(sampled) - 1:
            write_level(sigma, len(bounds))
            for file in [f for f in streams if f.endswith(f"_{sigma}.wav")]:
                streams.pop(file).close()

    started = time.perf_counter()
    try:
        states, reports = anneal_segments([t for _, t in sampled], priors, schedule, settings.sampler, on_level)
    except BaseException:
        for stream in streams.values():
            stream.discard()
        raise
    seconds = time.perf_counter() - started
    final = dict(zip([k for k, _ in sampled], states))
    joined = {}
    for k, (a, b) in enumerate(bounds):
        for name, piece in outputs(final.pop(k).numpy() if k in final else None, a, b).items():
            joined.setdefault(name, np.empty(length, dtype=np.float64))[a:b] = piece
    listed = [{"samples": [a, b], "sampled": task is not None} for (a, b), task in zip(bounds, tasks)]
    return joined, reports, seconds, listed


def _describe(settings, tasks, bounds, field, length):
    """Print the device, the levels and what is sampled (stderr)."""
    sampler = settings.sampler
    if length < field:
        print(f"note: the input has {length} samples, fewer than the model's receptive field of "
              f"{field}: the missing context is silence", file=sys.stderr)
    spans = [scored_span(t, field, sampler.schedule) for t in tasks]
    windows = [window_length(sampler.schedule, span, sampler.window) for _, span in spans]
    if len(bounds) == 1:
        (offset, span), task = spans[0], tasks[0]
        scored = "" if span == task.length else f" (scoring samples {offset}..{offset + span}, which the movable ones reach)"
        what = f"{task.length} samples{scored}, {sampler.schedule} windows of {windows[0]}"
    else:
        what = (f"{length} samples in {len(bounds)} independent segments of up to "
                f"{max(b - a for a, b in bounds)} samples ({len(tasks)} with anything to sample), "
                f"{sampler.schedule} windows of up to {max(windows)}")
    print(f"sampling on {describe_device(sampler.device)}; {len(settings.hparams.sigmas)} levels, {what}, "
          f"{sampler.precision} gradients", file=sys.stderr)


def run_report(task_name, args, settings, reports, seconds, metrics=None, extra=None):
    """The ``run.json`` object: arguments, device, seed, levels, steps, time, log p, metrics."""
    report = {
        "task": task_name,
        "arguments": {k: v for k, v in args.items() if k not in ("--help",)},
        "device": describe_device(settings.sampler.device),
        "seed": settings.sampler.seed,
        "schedule": settings.sampler.schedule,
        "precision": settings.sampler.precision,
        "n_steps": settings.sampler.n_steps,
        "sgld_window": settings.sampler.window,
        "batch_size": settings.sampler.batch_size,
        "step_scale": settings.step_scale,
        "sigmas": list(settings.hparams.sigmas),
        "steps": sum(r.steps for r in reports),
        "seconds": seconds,
        "levels": [r.to_dict() for r in reports],
    }
    if extra:
        report.update(extra)
    if metrics is not None:
        report["metrics"] = metrics
    return report

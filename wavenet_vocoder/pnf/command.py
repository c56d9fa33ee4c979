"""The one task command: parse, resolve settings, check the priors, and for each job of the task
write its inputs, sample every segment through the engine, and write outputs, picture and run.json.

A task module describes itself with a :class:`TaskCommand`; a task script (``sgld_*.py``) holds
the editable constants and calls :func:`run_task`. The command never branches on the task.
"""
import os
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..deferred import deferred_import
from ..cli import describe_device, parse_args
from ..distributed import choose_threads, from_environment
from ..errors import PnfError
from .langevin import anneal_segments, window_plan
from .many import expand_inputs, my_share, run_inputs
from ..outputs import OutputDir
from .report import run_report
from .settings import COMMON_OPTIONS, SHARED_CONSTANTS, fit_window, output_folder, segments, settings_from_args

torch = deferred_import("torch")
# Checkpoint loading (torch, the model) is read only once the flags are parsed.
priors_module = deferred_import("wavenet_vocoder.pnf.priors")


@dataclass
class JobResult:
    """What a job writes once sampling is done.

    ``wavs``: name -> (T,) audio in [-1, 1]; ``panels``: (label, audio) rows of comparison.png
    and ``marks`` its extra keywords (``cutoff_hz``, ``gaps``); ``metrics``: run.json's
    "metrics" (None: no reference to measure against); ``extra``: further run.json keys;
    ``json``: further JSON files, name -> object.
    """

    wavs: Dict[str, np.ndarray]
    panels: List[Tuple[str, np.ndarray]] = field(default_factory=list)
    marks: dict = field(default_factory=dict)
    metrics: Optional[dict] = None
    extra: dict = field(default_factory=dict)
    json: Dict[str, dict] = field(default_factory=dict)


@dataclass
class Job:
    """One output folder's work: a signal of ``length`` samples and how to sample and report it.

    ``make_task(start, end)``: the engine's task (:class:`~wavenet_vocoder.pnf.task.Task`) for
    samples [start, end), or None when nothing there may move (passed through).
    ``outputs(state, start, end)``: {name: (end - start,) audio} of a segment's state ((S, n)
    quantised units, numpy; None for a passed-through segment), written after every level as
    ``<name>_<sigma>.wav``.
    ``finish(joined, seconds)``: the :class:`JobResult` from the final outputs (segments
    joined) and the seconds sampling took.
    ``before``: wavs written before sampling. ``align``: segment boundaries fall on multiples
    of it (samples); ``window_align``: a window shrunk to fit a short signal is a multiple of
    it. ``keep_clear``: (start, end) spans no segment boundary may cut. ``names``: glob
    patterns of every file written, checked against ``inputs`` before any compute.
    """

    folder: str
    inputs: Sequence[str]
    length: int
    make_task: Callable
    outputs: Callable
    finish: Callable
    before: Dict[str, np.ndarray] = field(default_factory=dict)
    align: int = 1
    window_align: int = 1
    keep_clear: Sequence[Tuple[int, int]] = ()
    names: Sequence[str] = ("*.wav", "comparison.png", "run.json")


@dataclass(frozen=True)
class TaskCommand:
    """A task as a command: its usage, its priors, its own flags and how to turn inputs into jobs.

    ``name``: run.json's "task"; ``summary``/``details``: the usage's first line and the
    paragraph after the usage lines; ``usage``: the usage lines after the program name;
    ``options``: the task's own docopt option lines; ``constants``: the script constants the
    task reads besides the shared ones (:data:`~.settings.SHARED_CONSTANTS`), name -> flag;
    ``priors``: the docopt names of the prior folders, one per source; ``resolve(args,
    constants)``: the task's own values (flags over constants), checked; ``check(settings,
    args)``: refuse a preset or combination of flags before any prior is read;
    ``jobs(args, settings)``: the jobs, made lazily (inputs are read job by job); ``many``: the
    docopt name of the input that may also be a folder of files or a list file (see
    :mod:`~wavenet_vocoder.pnf.many`), one output folder each; ``baseline_missing(args)``: why
    the task's plain estimate cannot be made for these inputs (None: it can), read when INIT is
    "baseline" and no --init is given, which then falls back to noise.
    """

    name: str
    script: str
    summary: str
    usage: Tuple[str, ...]
    details: str
    options: str
    priors: Tuple[str, ...]
    jobs: Callable[[dict, object], Iterable[Job]]
    constants: Dict[str, str] = field(default_factory=dict)
    many: Optional[str] = None
    resolve: Callable[[dict, dict], dict] = lambda args, constants: {}
    check: Callable[[object, dict], None] = lambda settings, args: None
    baseline_missing: Callable[[dict], Optional[str]] = lambda args: None

    def usage_text(self, constants, prog=None):
        """The docopt usage of this command, with the script's constants listed at the end."""
        prog = prog or self.script
        lines = "\n".join(f"  {prog} {u}" for u in self.usage)
        shown = " ".join(f"{k}={constants[k]!r}" if isinstance(constants[k], str) else f"{k}={constants[k]}"
                         for k in list(SHARED_CONSTANTS) + list(self.constants) if k in constants)
        options = (self.options.rstrip("\n") + "\n" if self.options else "") + COMMON_OPTIONS
        details = self.details.strip()
        if self.many:
            # (no line may start with "-": docopt would read it as an option)
            details += (f"\n\nWhere {self.many} goes, a folder of audio files or a .txt list of them may go: each\n"
                        "is run as alone, into its own folder under <output-dir>, with summary.csv and\n"
                        "summary.json beside them; inputs already done are skipped; under torchrun each\n"
                        "process takes its share.")
        return f"{self.summary}\n\nUsage:\n{lines}\n\n{details}\n\nOptions:\n{options}\nConstants: {shown}\n"


def script_constants(script, command, **changes):
    """The constants the task script module ``script`` sets for ``command`` (their values now), name
    -> value, with ``changes`` over them: how a benchmark runs a task as its script would."""
    values = {k: getattr(script, k) for k in list(SHARED_CONSTANTS) + list(command.constants)}
    unknown = set(changes) - set(values)
    if unknown:
        raise ValueError(f"{command.script} has no constants {', '.join(sorted(unknown))}")
    return {**values, **changes}


def run_task(command, constants, argv=None):
    """Run ``command`` with the script's ``constants`` over ``argv`` (None: the command line)."""
    missing = [k for k in list(SHARED_CONSTANTS) + list(command.constants) if k not in constants]
    if missing:
        raise ValueError(f"the {command.script} constants lack {', '.join(missing)}")
    prog = os.path.basename(sys.argv[0]) if argv is None else None
    args = parse_args(command.usage_text(constants, prog if prog and prog.startswith(("pnf-", "sgld_")) else None),
                      argv)
    processes = from_environment()
    threads, _ = choose_threads(args["--threads"], processes)
    torch.set_num_threads(threads)
    constants = default_init(command, args, constants)
    settings = settings_from_args(args, constants, command.resolve(args, constants), command.name)
    if processes.distributed and torch.device(settings.sampler.device).type == "cuda":
        # One GPU per process under torchrun: its local rank's.
        settings = replace(settings, sampler=replace(settings.sampler, device=f"cuda:{processes.local_rank}"))
    command.check(settings, args)
    inputs = expand_inputs(args[command.many]) if command.many and args.get(command.many) else None
    priors = [priors_module.Prior(args[name], settings.hparams, settings.sampler.device) for name in command.priors]
    for prior in priors:
        prior.require(settings.schedule.sigmas)

    def run_one(one_args):
        for job in command.jobs(one_args, settings):
            run_job(command, job, priors, settings, one_args)

    if inputs is None:
        run_one(args)
        return 0
    failed = run_inputs(inputs, command.many, args, run_one, processes)
    if failed:
        raise PnfError(f"{failed} of the {len(my_share(inputs, processes))} inputs of this process failed "
                       f"(each named above): see {os.path.join(args['<output-dir>'], 'summary.csv')}")
    return 0


def default_init(command, args, constants):
    """The constants, with INIT "noise" where the script's "baseline" is only the default (no
    --init given) and the task cannot make its plain estimate for these inputs (said on stderr)."""
    if args.get("--init") is not None or constants["INIT"] != "baseline":
        return constants
    why = command.baseline_missing(args)
    if why is None:
        return constants
    print(f"note: {why}: starting from noise instead (as --init noise does)", file=sys.stderr)
    return {**constants, "INIT": "noise"}


def run_job(command, job, priors, settings, args):
    """Sample one job and write everything it asks for into its folder."""
    out = OutputDir(output_folder(job.folder), settings.hparams.sample_rate, job.inputs, job.names)
    settings = fit_window(settings, job.length, job.window_align)
    for name, audio in job.before.items():
        out.wav(name, audio)
    bounds = segments(settings, job.length, job.align, job.keep_clear)
    if settings.chains > 1:
        print(f"chain 1 of {settings.chains} (seed {settings.sampler.seed}); the output is the mean of the "
              f"{settings.chains} chains", file=sys.stderr)
    joined, reports, seconds, listed = sample(job.make_task, bounds, priors, settings, job.outputs, out)
    if settings.chains > 1:
        joined, seconds = mean_of_chains(joined, seconds, job, bounds, priors, settings)
    result = job.finish(joined, seconds)
    for name, audio in result.wavs.items():
        out.wav(name, audio)
    if settings.plot and result.panels:
        out.plot("comparison.png", result.panels, **result.marks)
    for name, obj in result.json.items():
        out.json(name, obj)
    extra = dict(result.extra)
    extra.setdefault("segments", listed)
    if settings.chains > 1:
        extra["chains"] = {"count": settings.chains, "seeds": chain_seeds(settings),
                           "outputs": "the mean of the chains' final states; the per-level files and "
                                      "levels are the first chain's"}
    out.json("run.json", run_report(command.name, args, settings, reports, seconds, result.metrics, extra))


#: Seed distance between chains (``--chains``): each chain draws from seeds seed .. seed + 2 (noise,
#: windows, start), so chains a stride apart share no generator.
CHAIN_SEED_STRIDE = 1000


def chain_seeds(settings):
    """The seed of each chain of ``--chains``."""
    return [settings.sampler.seed + CHAIN_SEED_STRIDE * k for k in range(settings.chains)]


def mean_of_chains(first, seconds, job, bounds, priors, settings):
    """The other chains of ``--chains`` run (their levels not written); returns ({name: the mean of
    every chain's output}, seconds of all the chains)."""
    runs = [first]
    for k, seed in enumerate(chain_seeds(settings)[1:], start=2):
        print(f"chain {k} of {settings.chains} (seed {seed})", file=sys.stderr)
        chain = replace(settings, sampler=replace(settings.sampler, seed=seed))
        joined, _, more, _ = sample(job.make_task, bounds, priors, chain, job.outputs, None)
        runs.append(joined)
        seconds += more
    return {name: np.mean([run[name] for run in runs], axis=0) for name in first}, seconds


def sample(make_task, bounds, priors, settings, outputs, out):
    """Say where it runs and sample every segment; returns ({name: (T,) audio}, reports, seconds, segment list).

    ``bounds``: the segments' (start, end) samples, covering the signal in order; see
    :class:`Job` for ``make_task`` and ``outputs``. After each level ``<name>_<sigma>.wav``
    is written to ``out`` (segment by segment, complete or not at all; ``out`` None: nothing is
    written); the returned audio is the final outputs, the segments joined.
    """
    schedule = settings.schedule
    tasks = [make_task(a, b) for a, b in bounds]
    sampled = [(k, task) for k, task in enumerate(tasks) if task is not None]
    length = bounds[-1][1]
    if not sampled:
        raise PnfError("nothing to sample: no segment has a sample that may move")
    if out is not None:
        _describe(settings, [t for _, t in sampled], bounds, length)
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
        states, reports = anneal_segments([t for _, t in sampled], priors, schedule, settings.sampler,
                                          None if out is None else on_level)
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


def _describe(settings, tasks, bounds, length):
    """Print the device, the levels and what is sampled (stderr)."""
    sampler = settings.sampler
    field_ = settings.hparams.receptive_field
    if length < field_:
        print(f"note: the input has {length} samples, fewer than the model's receptive field of "
              f"{field_}: the missing context is silence", file=sys.stderr)
    plans = [window_plan(t, field_, sampler) for t in tasks]
    if len(bounds) == 1:
        (offset, span, window), task = plans[0], tasks[0]
        scored = "" if span == task.length else f" (scoring samples {offset}..{offset + span}, which the movable ones reach)"
        what = f"{task.length} samples{scored}, {sampler.schedule} windows of {window}"
    else:
        what = (f"{length} samples in {len(bounds)} independent segments of up to "
                f"{max(b - a for a, b in bounds)} samples ({len(tasks)} with anything to sample), "
                f"{sampler.schedule} windows of up to {max(w for _, _, w in plans)}")
    start = "" if sampler.init == "noise" else f", from the plain estimate at sigma {settings.schedule.sigmas[0]:g}"
    print(f"sampling on {describe_device(sampler.device)}; {len(settings.schedule)} levels{start}, {what}, "
          f"{sampler.precision} gradients", file=sys.stderr)

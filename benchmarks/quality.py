"""Quality benchmark: every task with PnF and with every plain baseline, on clean held-out files.

Usage:
  quality.py [options]

Each case degrades --seconds of each clean file (from --offset) itself, runs the task script
exactly as a user would (same seed, same files for every method) and scores every
estimate against the clean signal with wavenet_vocoder.metrics: super-resolution at each
factor (keeping every r-th sample, and, for --antialias-factors, low-passing and decimating
as a resampler makes a low-rate file), inpainting of a gap of each length centred at --gap-at, separation of each
piano + voice pair (with the implicit mixture step), and mel-conditioned generation from
the clean file's mel frames. Super-resolution and inpainting run on the piano files with
the mulaw_piano prior and on the voice files with mulaw_voice (each skipped, with a note, where
the models folders have none, so that one prior can be measured alone). Super-resolution's
plain methods include a control for PnF itself: band-limited interpolation plus Gaussian
noise of the prior's lowest sigma in quantised units at the missing samples, the state PnF's last level starts from with no Langevin step (what a noise
floor alone does to the measures). With --steps-sweep, super-resolution 4x of the piano files (else
the first factor) also runs at each number of steps per level, to show what more compute
buys; with --mean-rows, super-resolution 4x (else the first factor) of every file also runs
as the mean of several chains, one more row in its table.
Writes <out>/results.md (one table per case, mean over files, then where issue #14's targets
stand on these files: each target this run measured, met or missed and by how much; with
separation, each linear prior's log p of its own source against the other prior's, at their
lowest level),
<out>/results.csv (one row per file and method), each run's outputs and comparison.png under
<out>/<case>/. The README block of --readme is results.md without the targets.

Options:
  --piano=<path>         Clean piano file, a folder of them (searched recursively) or a quoted
                         pattern ('eval/*waltz*') [default: egs/sample_piano.wav].
  --voice=<path>         Clean voice file, a folder or a pattern [default: egs/sample_voice.wav].
  --models=<dirs>        Folders (comma-separated) with the priors mulaw_piano, linear_piano,
                         linear_voice and mel_voice (and, optionally, mulaw_voice), each beside
                         its <name>.json preset; each prior is taken from the first folder that
                         has it [default: egs/pnf_real,egs/pnf_small].
  --out=<dir>            Output folder [default: bench_outputs].
  --tasks=<list>         Tasks to run [default: superres,inpainting,separation,spectrogram].
  --seconds=<s>          Seconds of each file to use [default: 1.0].
  --offset=<s>           Where in each file they start: seconds, or "loudest" for the start of the
                         loudest excerpt that long (highest RMS; a file that opens with silence is
                         then not measured on its silence) [default: 0].
  --factors=<list>       Super-resolution factors [default: 2,4,8].
  --antialias-factors=<list>  Super-resolution factors of the anti-aliased observation
                         model, "" for none [default: 4].
  --gaps-ms=<list>       Inpainting gap lengths, milliseconds [default: 50,100,200].
  --gap-at=<s>           Centre of the gaps, seconds into the file [default: 0.5].
  --fill-band=<hz>       What PnF fills in (inpainting's gaps, super-resolution's missing samples,
                         and the noise-floor control's alike; each separated source, and half
                         the mixture alike) is low-passed to this band edge in Hz, as the task
                         scripts' flag of that name does; auto: half a file's own rate when below
                         the prior's, as for the 16 kHz recordings of shared/eval; none: as
                         sampled [default: auto].
  --n-steps=<n>          PnF moves of each sample per level [default: 32].
  --steps-sweep=<list>   Also run super-resolution of the piano files at each of these steps
                         per level, e.g. 8,16,32,64; "" for none [default: ].
  --step-scale=<c>       PnF step size eta = c * sigma^2; default: each prior's preset's step_scale
                         (else the task scripts' STEP_SCALE), as the task scripts do.
  --init=<how>           Where PnF starts: baseline (the task's plain estimate plus noise of the
                         first level run) or noise; the task scripts' --init [default: baseline].
  --start-sigma=<s>      Begin the schedule at this level (the task scripts' --start-sigma); default:
                         with --init baseline each preset's warm start for the task
                         (task_warm_start_sigma, else warm_start_sigma), else the first.
  --seed=<n>             Seed of every run [default: 0].
  --denoise              PnF ends with the task scripts' --denoise step (Tweedie's formula at the
                         last level: the posterior mean given the final state, not a sample).
  --temperature=<t>      PnF samples at this temperature (the task scripts' --temperature: the
                         Langevin noise's variance times t, a sharper law for t < 1) [default: 1].
  --voiced-temperature=<t>  Mel-conditioned generation samples the frames that look voiced at
                         this temperature, PnF (pnf-spectrogram's --voiced-temperature; the
                         rest at --temperature's) and ancestral sampling alike (pnf-synthesis's;
                         the rest at 1); positive; default: no split.
  --chains=<k>           PnF's output is the mean of k chains (the task scripts' --chains): an
                         estimate of the posterior mean rather than one sample; ancestral
                         sampling's, the mean of k samples (seeds --seed and on) [default: 1].
  --mean-rows=<k>        Also run super-resolution 4x (else the first factor) with the mean of k
                         chains, as the row "PnF, mean of k chains" beside one chain's; 0 for
                         none [default: 0].
  --readme=<file>        Also replace the results block of this README (between the
                         "results:begin" and "results:end" markers) and copy two pictures
                         next to it under docs/results/.
  -h, --help             Show this help.
"""
import csv
import io
import json
import os
import platform
import shlex
import shutil
import sys
import time
from collections import OrderedDict
from functools import partial

import numpy as np
import soundfile as sf
import torch

from wavenet_vocoder import synthesis
from wavenet_vocoder.audio import read_audio, write_atomically
from wavenet_vocoder.baselines import (inpaint_linear, inpaint_lpc, separate_half, spectrogram_griffin_lim,
                                       superres_bandlimited, superres_cubic, superres_noise_floor)
from wavenet_vocoder.checkpoints import load_model, require_checkpoints
from wavenet_vocoder.cli import parse_args, parse_float, parse_int, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.band import FILL_BAND_MAX_PASSES, limit_fill_band, limit_source_bands, parse_fill_band
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.lowrate import decimate
from wavenet_vocoder.mel_dumps import denormalize, normalize, statistics_path
from wavenet_vocoder.metrics import score, snr
from wavenet_vocoder.audio import load_audio
from wavenet_vocoder.pnf import sgld_inpainting, sgld_separation, sgld_spectrogram_descent, sgld_superres
from wavenet_vocoder.pnf.command import run_task, script_constants
from wavenet_vocoder.pnf.langevin import INITS
from wavenet_vocoder.pnf.priors import mean_log_prob
from wavenet_vocoder.pnf.settings import parse_temperature
from wavenet_vocoder.pnf.tasks import inpainting, separation, spectrogram, superres
from wavenet_vocoder.preprocess import audio_files, features
from wavenet_vocoder.quantize import dequantize

COLUMNS = ("snr", "si_sdr", "lsd", "mel_distance", "seconds")
HEADERS = {"snr": "SNR (dB)", "si_sdr": "SI-SDR (dB)", "lsd": "LSD", "mel_distance": "mel dist. (dB)",
           "gap_snr": "gap SNR (dB)", "seconds": "time (s)"}
#: The sampler settings each task runs with here: its task script's constants (steps, step scale,
#: start, schedule, seed and sample size then come from this benchmark's flags).
TASK_SETTINGS = {cmd.COMMAND.name: script_constants(script, cmd.COMMAND) for script, cmd in (
    (sgld_superres, superres), (sgld_inpainting, inpainting), (sgld_separation, separation),
    (sgld_spectrogram_descent, spectrogram))}
MARK_BEGIN, MARK_END = "<!-- results:begin -->", "<!-- results:end -->"


def parse_list(text, flag, kind=float):
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise PnfError(f"{flag}={text}: expected a comma-separated list of numbers") from None
    if not values:
        raise PnfError(f"{flag} is empty")
    return values


def excerpts(paths, folder, seconds, offset):
    """Write each file from where the benchmark measures it (``offset`` seconds, or the start of its
    loudest excerpt of ``seconds``) to its end into ``folder``, as float wavs at the file's own rate
    and channels; returns their paths, named as the files. The tasks then use the first ``seconds``
    of each, scaled as they scale a whole input (offset 0 gives the files themselves)."""
    os.makedirs(folder, exist_ok=True)
    written = []
    for path in paths:
        data, rate = read_audio(path)
        length = int(round(seconds * rate))
        if offset == "loudest":
            power = data.mean(axis=1) ** 2
            hop = max(1, rate // 10)
            starts = range(0, max(1, data.shape[0] - length + 1), hop)
            cumulative = np.concatenate([[0.0], np.cumsum(power)])
            start = max(starts, key=lambda a: cumulative[min(a + length, power.size)] - cumulative[a])
        else:
            start = int(round(parse_float(offset, "--offset", positive=False) * rate))
            if not 0 <= start < data.shape[0]:
                raise PnfError(f"--offset={offset}: {path} is only {data.shape[0] / rate:.2f} s long")
        target = os.path.join(folder, stem(path) + ".wav")
        sf.write(target, data[start:], rate, subtype="FLOAT")
        written.append(target)
    return written


def read(path):
    return sf.read(path, dtype="float64")[0]


class Benchmark:
    """Runs the cases and collects one row per (case, file, method)."""

    def __init__(self, args):
        self.models = [m for m in args["--models"].split(",") if m]
        if not self.models:
            raise PnfError("--models is empty: give a folder of priors, e.g. egs/pnf_small")
        self.out = args["--out"]
        self.seconds = parse_float(args["--seconds"], "--seconds")
        self.seed = parse_int(args["--seed"], "--seed", 0)
        self.step_scale = None if args["--step-scale"] is None else parse_float(args["--step-scale"], "--step-scale")
        self.n_steps = parse_int(args["--n-steps"], "--n-steps", 1)
        self.chains = parse_int(args["--chains"], "--chains", 1)
        self.sampler_flags = ["--schedule", "tiled", "--seed", str(self.seed), "--no-progress", "--plot"]
        init, start_sigma = args["--init"], args["--start-sigma"]
        if init not in INITS:
            raise PnfError(f"--init={init}: use {' or '.join(INITS)}")
        self.sampler_flags += ["--init", init]
        if start_sigma is not None:
            self.sampler_flags += ["--start-sigma", str(parse_float(start_sigma, "--start-sigma"))]
        if self.step_scale is not None:
            self.sampler_flags += ["--step-scale", str(self.step_scale)]
        self.denoise = bool(args["--denoise"])
        if self.denoise:
            self.sampler_flags += ["--denoise"]
        self.fill_band = parse_fill_band(args["--fill-band"])
        self.fill_band_flag = f"--fill-band={self.fill_band or 'none'}"    # what each filling task is given
        self.temperature = parse_temperature(args["--temperature"])
        if self.temperature != 1:
            self.sampler_flags += ["--temperature", str(self.temperature)]
        self.voiced_temperature = None
        if args["--voiced-temperature"] is not None:
            self.voiced_temperature = parse_float(args["--voiced-temperature"], "--voiced-temperature", positive=False)
            if self.voiced_temperature <= 0:
                raise PnfError(f"--voiced-temperature={args['--voiced-temperature']}: give a positive temperature "
                               "(ancestral sampling divides its logits by it)")
        #: prior folders (markdown) -> how PnF ran on them (start, first level, step scale), from run.json
        self.how = OrderedDict()
        self.notes = []         # what was skipped, and why
        self.rows = []          # dicts: case, file, method, metrics..., seconds
        self.pictures = {}      # case -> comparison.png of its first file
        #: separation's priors on its references: dicts of source, file, sigma, own and other (log p, nats/sample)
        self.preferences = []

    def model(self, name):
        folder = self.folder_of(name)
        if folder is None:
            raise PnfError(f"--models={','.join(self.models)} has no {name}/ beside {name}.json: train it "
                           "with egs/pnf_small/run.sh or point --models elsewhere")
        return os.path.join(folder, name), os.path.join(folder, name + ".json")

    def samples(self, preset):
        return int(round(self.seconds * load_preset(preset).sample_rate))

    def add(self, case, file, method, metrics, seconds, folder=None):
        self.rows.append(dict(case=case, file=os.path.basename(file), method=method, seconds=seconds, **metrics))
        if folder is not None and case not in self.pictures and os.path.isfile(os.path.join(folder, "comparison.png")):
            self.pictures[case] = os.path.join(folder, "comparison.png")

    def folder_of(self, name):
        """The first of --models holding the prior ``name`` (its folder and its preset), or None."""
        for folder in self.models:
            root = os.path.join(folder, name)
            if os.path.isdir(root) and os.path.isfile(root + ".json"):
                return folder
        return None

    def has_model(self, name):
        return self.folder_of(name) is not None

    def _run_task(self, task, argv, folder, n_steps=None, chains=None):
        """Run a task module's command with this benchmark's settings (``n_steps`` per level and
        ``chains``; None: --n-steps and --chains); returns its run.json."""
        if os.path.isdir(folder):
            shutil.rmtree(folder)
        print(f"[bench] {task.COMMAND.name} -> {folder}", file=sys.stderr, flush=True)
        steps = self.n_steps if n_steps is None else n_steps
        chains = self.chains if chains is None else chains
        run_task(task.COMMAND, TASK_SETTINGS[task.COMMAND.name],
                 argv + ["--n-steps", str(steps), "--chains", str(chains)] + self.sampler_flags)
        with open(os.path.join(folder, "run.json")) as f:
            report = json.load(f)
        start = "the plain estimate" if report["init"] == "baseline" else "noise"
        priors = " + ".join(f"`{root}`" for root in argv[:len(task.COMMAND.priors)])   # the command's prior folders
        self.how[f"{priors} in {task.COMMAND.name}"] = (f"from {start} at sigma {report['sigmas'][0]:g}, "
                                                        f"step scale {report['step_scale']:g}")
        return report

    def mulaw_prior(self, source):
        """(root, preset) of ``mulaw_<source>``, or None (noted) when --models has none for it."""
        name = f"mulaw_{source}"
        if not self.has_model(name):
            note = f"no {name} prior in {','.join(self.models)}: {source} super-resolution and inpainting skipped"
            if note not in self.notes:
                self.notes.append(note)
                print(f"[bench] {note}", file=sys.stderr, flush=True)
            return None
        return self.model(name)

    def superres(self, files, factors, source, antialias=False, n_steps=None, chains=None):
        """Super-resolution of ``files`` (all of ``source``: piano or voice) at each factor; with
        ``n_steps`` (a case of its own) or ``chains`` (a row in the factor's case), one PnF run per
        factor at that many steps per level or the mean of that many chains, named in the method
        column, without the baselines."""
        prior = self.mulaw_prior(source)
        if prior is None:
            return
        root, preset = prior
        hp = load_preset(preset)
        floor = min(hp.sigmas)          # the prior's lowest level: where PnF ends
        noise_floor = partial(superres_noise_floor, sigma=floor, input_type=hp.input_type,
                              channels=hp.quantize_channels, antialias=antialias, seed=self.seed)
        baselines = (("band-limited interpolation", superres_bandlimited), ("cubic spline", superres_cubic),
                     (f"band-limited + noise of sigma {floor:g}", noise_floor))
        for r in factors:
            case = f"super-resolution {r}x, {source}" + (", anti-aliased" if antialias else "")
            if n_steps is not None:
                case += ": steps per level"
            tag = (f"superres_{r}x" + ("_antialias" if antialias else "") + (f"_{n_steps}steps" if n_steps else "")
                   + (f"_{chains}chains" if chains else ""))
            for path in files:
                folder = os.path.join(self.out, tag, source, stem(path))
                report = self._run_task(superres, [root, path, folder, f"--preset={preset}",
                                                      f"--downsample_interval={r}",
                                                      self.fill_band_flag,
                                                      f"--sample-size={self.samples(preset)}"]
                                          + (["--antialias"] if antialias else []), folder, n_steps, chains)
                clean = read(os.path.join(folder, "x_original.wav"))
                sr = hp.sample_rate
                method = "PnF" + (f", {n_steps} steps" if n_steps else "") + (f", mean of {chains} chains" if chains else "")
                self.add(case, path, method, score(clean, read(os.path.join(folder, "out.wav")), sr),
                         report["seconds"], folder if not chains else None)
                low = decimate(clean, r) if antialias else clean[::r]
                band, filled = report["fill_band_hz"], superres.filled_samples(clean.size, r, antialias)
                for method, fn in baselines if not (n_steps or chains) else ():
                    started = time.perf_counter()
                    estimate = fn(low, r, clean.size)
                    if fn is noise_floor and band is not None:      # the control stands for PnF's start: the same band
                        estimate = limit_fill_band(estimate, filled, band, sr, passes=FILL_BAND_MAX_PASSES)
                    self.add(case, path, method, score(clean, estimate, sr), time.perf_counter() - started)

    def inpainting(self, files, gaps_ms, gap_at, source):
        """Inpainting of a gap of each length in ``files`` (all of ``source``)."""
        prior = self.mulaw_prior(source)
        if prior is None:
            return
        root, preset = prior
        sr = load_preset(preset).sample_rate
        for ms in gaps_ms:
            case = f"inpainting {ms:g} ms, {source}"
            start_s, end_s = gap_at - ms / 2000, gap_at + ms / 2000
            for path in files:
                folder = os.path.join(self.out, f"inpainting_{ms:g}ms", source, stem(path))
                report = self._run_task(inpainting, [root, path, folder, f"--preset={preset}",
                                                     f"--gap={start_s:.6f},{end_s:.6f}",
                                                     self.fill_band_flag,
                                                     f"--sample-size={self.samples(preset)}"], folder)
                start, end = report["gap_samples"]
                clean = read(os.path.join(folder, "x_original.wav"))
                estimates = [("PnF", read(os.path.join(folder, "out.wav")), report["seconds"])]
                gapped = clean.copy()
                gapped[start:end] = 0.0
                for method, fn in (("linear interpolation", inpaint_linear), ("LPC extrapolation, both sides", inpaint_lpc)):
                    started = time.perf_counter()
                    estimate = fn(gapped, start, end)
                    estimates.append((method, estimate, time.perf_counter() - started))
                for method, estimate, seconds in estimates:
                    metrics = score(clean, estimate, sr)
                    metrics["gap_snr"] = snr(clean[start:end], estimate[start:end])
                    self.add(case, path, method, metrics, seconds, folder if method == "PnF" else None)

    def separation(self, pianos, voices):
        root0, preset = self.model("linear_piano")
        root1, _ = self.model("linear_voice")
        hp = load_preset(preset)
        floor = min(hp.sigmas)          # the priors' lowest level, where #14 asks each to prefer its source
        priors = [load_model(require_checkpoints(root, hp, [floor])[0], hp) for root in (root0, root1)]
        for i, piano in enumerate(pianos):
            voice = voices[i % len(voices)]
            folder = os.path.join(self.out, "separation", f"{stem(piano)}+{stem(voice)}")
            report = self._run_task(separation, [root0, root1, piano, voice, folder, f"--preset={preset}",
                                                 "--trim", "--implicit-mixture",
                                                 self.fill_band_flag,
                                                 f"--sample-size={self.samples(preset)}"], folder)
            n = self.samples(preset)
            references = [load_audio(p, hp.sample_rate)[:n].astype(np.float64) for p in (piano, voice)]
            n = min(r.size for r in references)                          # --trim
            references = [r[:n] for r in references]
            scale = TASK_SETTINGS["separation"]["MIX_PEAK"] / report["mixture_gain"]   # written wav -> source units
            outputs = [read(os.path.join(folder, f"out{k}.wav")) * scale for k in (0, 1)]
            started = time.perf_counter()
            # PnF's start, given the bands PnF's sources were given (unchanged where neither has one)
            halves = limit_source_bands(separate_half(references[0] + references[1]), report["fill_band_hz"],
                                        hp.sample_rate)
            half_seconds = time.perf_counter() - started
            for k, name in ((0, "piano"), (1, "voice")):
                case = f"separation, {name}"
                file = piano if k == 0 else voice
                self.add(case, file, "PnF", score(references[k], outputs[k], hp.sample_rate), report["seconds"], folder)
                self.add(case, file, "half the mixture", score(references[k], halves[k], hp.sample_rate), half_seconds)
                own, other = (mean_log_prob(priors[j], references[k], hp, floor, torch.Generator().manual_seed(self.seed))
                               for j in (k, 1 - k))
                self.preferences.append(dict(source=name, file=os.path.basename(file), sigma=floor, own=own, other=other))

    def spectrogram(self, files):
        root, preset = self.model("mel_voice")
        hp = load_preset(preset)
        meanvar = np.load(statistics_path(root))
        frames = self.samples(preset) // hp.hop_size
        case = "mel-conditioned generation"
        for path in files:
            folder = os.path.join(self.out, "spectrogram", stem(path))
            dump = os.path.join(self.out, "spectrogram_dumps", stem(path))
            wave, mel = features(path, hp)                  # the preprocessing of the training data
            mel, wave = mel[:frames], wave[:frames * hp.hop_size]
            os.makedirs(dump, exist_ok=True)
            normalised = normalize(mel, meanvar)
            np.save(os.path.join(dump, f"{stem(path)}-00001-feats.npy"), normalised)
            np.save(os.path.join(dump, f"{stem(path)}-00001-wave.npy"), wave)
            voiced = [] if self.voiced_temperature is None else [f"--voiced-temperature={self.voiced_temperature}"]
            report = self._run_task(spectrogram, [root, dump, folder, f"--preset={preset}",
                                                      "--sample-size=-1"] + voiced, folder)
            clean = dequantize(wave.astype(np.float64), hp.input_type, hp.quantize_channels)
            self.add(case, path, "PnF", score(clean, read(os.path.join(folder, "out.wav")), hp.sample_rate),
                     report["seconds"], folder)
            started = time.perf_counter()
            estimate = spectrogram_griffin_lim(denormalize(normalised, meanvar), hp)
            self.add(case, path, "Griffin-Lim (60 iterations)", score(clean, estimate, hp.sample_rate),
                     time.perf_counter() - started)
            # With --chains k PnF's output is the mean of k chains, so ancestral sampling's is the mean of
            # k samples (seeds --seed, --seed + 1, ...): like against like.
            samples, seconds = [], 0.0
            for k in range(self.chains):
                ancestral = os.path.join(self.out, "spectrogram_ancestral", stem(path) + (f"_seed{k}" if k else ""))
                synthesis.main([root, ancestral, f"--preset={preset}", f"--conditioning={dump}",
                                "--seed", str(self.seed + k), "--no-progress"] + voiced)
                with open(os.path.join(ancestral, "run.json")) as f:
                    seconds += json.load(f)["seconds"]
                samples.append(read(os.path.join(ancestral, "out.wav")))
            method = "ancestral WaveNet sampling" + (f", mean of {self.chains}" if self.chains > 1 else "")
            self.add(case, path, method, score(clean, np.mean(samples, axis=0), hp.sample_rate), seconds)


def stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def summarise(rows):
    """case -> method -> mean of each metric over files (OrderedDicts in first-seen order)."""
    table = OrderedDict()
    for row in rows:
        table.setdefault(row["case"], OrderedDict()).setdefault(row["method"], []).append(row)
    return OrderedDict((case, OrderedDict(
        (method, {k: float(np.mean([r[k] for r in group])) for k in group[0] if k not in ("case", "file", "method")})
        for method, group in methods.items())) for case, methods in table.items())


def markdown(summary, n_files):
    lines = []
    for case, methods in summary.items():
        columns = [c for c in ("snr", "si_sdr", "gap_snr", "lsd", "mel_distance", "seconds")
                   if c in next(iter(methods.values()))]
        lines.append(f"**{case}** ({n_files[case]} file{'s' if n_files[case] > 1 else ''})\n")
        lines.append("| method | " + " | ".join(HEADERS[c] for c in columns) + " |")
        lines.append("| --- |" + " --- |" * len(columns))
        for method, values in methods.items():
            cells = [f"{values[c]:.1f}" if c == "seconds" else f"{values[c]:.2f}" for c in columns]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _margin(value, line, higher_is_better, unit):
    """(met, text): how far ``value`` is from the target ``line`` (in ``unit``)."""
    ahead = value - line if higher_is_better else line - value
    gap = f"{abs(ahead):.2f}{unit}"
    return ahead >= 0, (f"met (by {gap})" if ahead >= 0 else f"missed by {gap}")


def target_rows(summary, preferences=()):
    """Issue #14's targets for each case this run measured: (target, measured, against, met, status)
    rows, from the means over files in ``summary`` (case -> method -> metrics) and, for the
    separation priors' test, ``preferences`` (dicts of source, sigma, and the mean log p of the
    source under its own prior and under the other one, nats per sample, one per file). A case the
    run did not include (other factors, gap lengths or tasks) gives no row."""
    rows = []

    def add(target, measured, against, met_and_status):
        rows.append((target, measured, against) + met_and_status)

    for source in ("voice", "piano"):
        methods = summary.get(f"super-resolution 4x, {source}")
        if methods and {"PnF", "cubic spline", "band-limited interpolation"} <= set(methods):
            for name in [m for m in methods if m.startswith("PnF")]:
                lsd, spline = methods[name]["lsd"], methods["cubic spline"]["lsd"]
                add(f"super-resolution 4x {source}: LSD 15% below cubic splines ({name})", f"{lsd:.2f}",
                    f"{spline:.2f} (x 0.85 = {0.85 * spline:.2f})", _margin(lsd, 0.85 * spline, False, ""))
                ours, bandlimited = methods[name]["snr"], methods["band-limited interpolation"]["snr"]
                add(f"super-resolution 4x {source}: SNR at most 3 dB below band-limited interpolation ({name})",
                    f"{ours:.2f} dB", f"{bandlimited:.2f} dB", _margin(ours, bandlimited - 3, True, " dB"))
    for source in ("piano", "voice"):
        methods = summary.get(f"inpainting 50 ms, {source}")
        if methods and {"PnF", "LPC extrapolation, both sides"} <= set(methods):
            ours, lpc = methods["PnF"]["gap_snr"], methods["LPC extrapolation, both sides"]["gap_snr"]
            add(f"inpainting 50 ms {source}: gap SNR at or above LPC extrapolation's", f"{ours:.2f} dB",
                f"{lpc:.2f} dB", _margin(ours, lpc, True, " dB"))
        for case, methods in summary.items():
            if case.startswith("inpainting ") and case.endswith(f" ms, {source}") and "PnF" in methods:
                others = {m: v["mel_distance"] for m, v in methods.items() if m != "PnF"}
                if others:
                    best = min(others, key=others.get)
                    ours = methods["PnF"]["mel_distance"]
                    add(f"{case.replace(', ', ' ')}: mel distance lowest of all methods",
                        f"{ours:.2f} dB", f"{others[best]:.2f} dB ({best})",
                        _margin(ours, others[best], False, " dB"))
    for source in ("piano", "voice"):
        methods = summary.get(f"separation, {source}")
        if methods and {"PnF", "half the mixture"} <= set(methods):
            ours, half = methods["PnF"]["si_sdr"], methods["half the mixture"]["si_sdr"]
            add(f"separation {source}: SI-SDR at least 5 dB above half the mixture's", f"{ours:.2f} dB",
                f"{half:.2f} dB", _margin(ours, half + 5, True, " dB"))
    for source in ("piano", "voice"):
        scored = [p for p in preferences if p["source"] == source]
        if scored:
            own, other = (float(np.mean([p[key] for p in scored])) for key in ("own", "other"))
            add(f"separation {source}: its prior prefers it to the other prior by 0.3 nats/sample "
                f"(log p at sigma {scored[0]['sigma']:g})", f"{own:.2f} (own prior)", f"{other:.2f} (the other)",
                _margin(own - other, 0.3, True, " nats"))
    methods = summary.get("mel-conditioned generation")
    if methods and "PnF" in methods:
        ours = methods["PnF"]["mel_distance"]
        ancestral = [m for m in methods if m.startswith("ancestral WaveNet sampling")]
        griffin = [m for m in methods if m.startswith("Griffin-Lim")]
        if ancestral:
            line = methods[ancestral[0]]["mel_distance"]
            add("mel-conditioned: mel distance at or below ancestral sampling's", f"{ours:.2f} dB", f"{line:.2f} dB",
                _margin(ours, line, False, " dB"))
        if griffin:
            line = methods[griffin[0]]["mel_distance"]
            add("mel-conditioned: mel distance at most 0.7x Griffin-Lim's", f"{ours:.2f} dB",
                f"{line:.2f} dB (x 0.7 = {0.7 * line:.2f})", _margin(ours, 0.7 * line, False, " dB"))
    return rows


def targets_markdown(rows):
    """The target rows as a markdown table, with a count of those met."""
    if not rows:
        return "No case of issue #14's targets was measured (they need super-resolution 4x, 50 ms gaps, " \
               "separation or mel-conditioned generation).\n"
    lines = [f"**Issue #14's targets** ({sum(r[3] for r in rows)} of {len(rows)} met; means over the files; PnF "
             "against the plain methods of the same run, the separation priors against each other)\n",
             "| target | measured | against | status |", "| --- | --- | --- | --- |"]
    lines += [f"| {target} | {measured} | {against} | {status} |" for target, measured, against, _, status in rows]
    return "\n".join(lines) + "\n"


def machine():
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    threads = torch.get_num_threads()           # as the task commands set it (--threads, OMP_NUM_THREADS, cores)
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, {threads} torch "
            f"thread{'s' * (threads > 1)}, torch {torch.__version__} (CPU)")


def write_text(path, text):
    write_atomically(path, lambda f: f.write(text), mode="w")


def readme_pictures(pictures):
    """The README's two pictures: super-resolution 4x (else the first factor) and the longest gap."""
    chosen = {}
    superres = [case for case in pictures if case.startswith("super-resolution")]
    if superres:
        case = "super-resolution 4x, piano" if "super-resolution 4x, piano" in superres else superres[0]
        chosen["superres.png"] = (case, pictures[case])
    gaps = [case for case in pictures if case.startswith("inpainting")]
    if gaps:
        case = max(gaps, key=lambda c: float(c.split()[1]))    # "inpainting <ms> ms, <source>"
        chosen["inpainting.png"] = (case, pictures[case])
    return chosen


def update_readme(readme, block, pictures):
    """Replace the text between the markers of ``readme``; copy ``pictures`` under docs/results/."""
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    if MARK_BEGIN not in text or MARK_END not in text:
        raise PnfError(f"--readme={readme} has no {MARK_BEGIN} ... {MARK_END} block")
    folder = os.path.join(os.path.dirname(os.path.abspath(readme)), "docs", "results")
    os.makedirs(folder, exist_ok=True)
    links = []
    for name, (case, path) in pictures.items():
        shutil.copyfile(path, os.path.join(folder, name))
        links.append(f"![{case}](docs/results/{name})")
    head, rest = text.split(MARK_BEGIN, 1)
    _, tail = rest.split(MARK_END, 1)
    write_text(readme, head + MARK_BEGIN + "\n" + block + "\n" + "\n\n".join(links) + "\n" + MARK_END + tail)


def main(argv=None):
    args = parse_args(__doc__, argv)
    tasks = [t.strip() for t in args["--tasks"].split(",") if t.strip()]
    unknown = set(tasks) - {"superres", "inpainting", "separation", "spectrogram"}
    if unknown:
        raise PnfError(f"--tasks: unknown task(s) {', '.join(sorted(unknown))}")
    factors = parse_list(args["--factors"], "--factors", int)
    antialias = (parse_list(args["--antialias-factors"], "--antialias-factors", int)
                 if args["--antialias-factors"].strip() else [])
    gaps_ms, gap_at = parse_list(args["--gaps-ms"], "--gaps-ms"), parse_float(args["--gap-at"], "--gap-at")
    sweep_text = args["--steps-sweep"] or ""          # docopt gives None for the empty default
    sweep = parse_list(sweep_text, "--steps-sweep", int) if sweep_text.strip() else []
    if any(n < 1 for n in sweep):
        raise PnfError(f"--steps-sweep={sweep_text}: steps per level must be at least 1")
    mean_rows = parse_int(args["--mean-rows"], "--mean-rows", 0)
    if mean_rows == 1:
        raise PnfError("--mean-rows=1: one chain is the PnF row already; give 2 or more chains, or 0 for no row")
    bench = Benchmark(args)
    offset = args["--offset"]
    if offset != "loudest":
        try:
            seconds = parse_float(offset, "--offset", positive=False)
        except PnfError:
            seconds = -1.0                   # not a number: the same answer as a negative one
        if seconds < 0:
            raise PnfError(f"--offset={offset}: give seconds from the start of each file (0 or more), or loudest")
    pianos = excerpts(audio_files(args["--piano"]), os.path.join(bench.out, "excerpts", "piano"), bench.seconds, offset)
    voices = excerpts(audio_files(args["--voice"]), os.path.join(bench.out, "excerpts", "voice"), bench.seconds, offset)
    started = time.perf_counter()
    sources = (("piano", pianos), ("voice", voices))
    sweep_factor = 4 if 4 in factors else factors[0]
    if "superres" in tasks:
        for source, files in sources:
            bench.superres(files, factors, source)
            if mean_rows:
                bench.superres(files, [sweep_factor], source, chains=mean_rows)
            if antialias:
                bench.superres(files, antialias, source, antialias=True)
        for n_steps in sweep:
            bench.superres(pianos, [sweep_factor], "piano", n_steps=n_steps)
    if "inpainting" in tasks:
        for source, files in sources:
            bench.inpainting(files, gaps_ms, gap_at, source)
    if "separation" in tasks:
        bench.separation(pianos, voices)
    if "spectrogram" in tasks:
        bench.spectrogram(voices)
    total = time.perf_counter() - started
    if not bench.rows:
        raise PnfError(f"--models={','.join(bench.models)}: nothing to measure ({'; '.join(bench.notes)}): "
                       "give a folder with the priors of --tasks")
    summary = summarise(bench.rows)
    n_files = {case: len({r["file"] for r in bench.rows if r["case"] == case}) for case in summary}
    command = "python benchmarks/quality.py " + shlex.join(argv if argv is not None else sys.argv[1:])   # as typed
    block = (f"Produced by `{command.strip()}` on {machine()} in {total / 60:.1f} min "
             f"({bench.seconds:g} s of each file from {'its loudest excerpt' if offset == 'loudest' else f'{offset} s'}; "
             f"PnF: --n-steps {bench.n_steps}, tiled windows, separation with --implicit-mixture, seed {bench.seed}"
             f"{f', the mean of {bench.chains} chains' if bench.chains > 1 else ''}"
             f"{', ending with the --denoise step' if bench.denoise else ''}"
             f"{f', at temperature {bench.temperature:g}' if bench.temperature != 1 else ''}"
             f"{f', voiced frames at temperature {bench.voiced_temperature:g}' if bench.voiced_temperature is not None else ''}"
             f"{f', fills low-passed at {bench.fill_band:g} Hz' if isinstance(bench.fill_band, float) else ''}"
             f"{', fills as sampled' if bench.fill_band is None else ''}; "
             + "; ".join(f"{priors} {how}" for priors, how in bench.how.items()) + ")."
             + "".join(f"\n\nNote: {note}." for note in bench.notes) + "\n\n" + markdown(summary, n_files))
    targets = targets_markdown(target_rows(summary, bench.preferences))
    os.makedirs(bench.out, exist_ok=True)
    write_text(os.path.join(bench.out, "results.md"), block + "\n" + targets)
    buffer = io.StringIO()
    fields = ["case", "file", "method"] + [c for c in ("snr", "si_sdr", "gap_snr", "lsd", "mel_distance", "seconds")]
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(bench.rows)
    write_text(os.path.join(bench.out, "results.csv"), buffer.getvalue())
    print(block + "\n" + targets)
    if args["--readme"]:
        update_readme(args["--readme"], block, readme_pictures(bench.pictures))
    return 0


def cli():
    run(main)


if __name__ == "__main__":
    cli()

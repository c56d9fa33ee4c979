"""Mel-spectrogram-conditioned generation with a mel-conditioned prior.

Constraint object: :class:`SpectrogramConditioned` (every sample free; the prior sees the frames).
Command: :data:`COMMAND` (``pnf-spectrogram``, ``wavenet_vocoder/pnf/sgld_spectrogram_descent.py``).
"""
import os
import sys

import numpy as np

from ...deferred import deferred_import
from ...errors import PnfError
from ...baselines import spectrogram_griffin_lim
from ...cli import parse_float
from ...dump_record import check_record
from ...mel_dumps import denormalize, find_utterances, load_mel, statistics_path
from ...quantize import dequantize, to_units
from ...voicing import sample_temperatures, voiced_normalised_frames, voicing_statistics
from ..command import Job, JobResult, TaskCommand
from ..settings import pick
from ..task import TaskBase

torch = deferred_import("torch")


class SpectrogramConditioned(TaskBase):
    """Audio for mel frames ``mel`` (cin, N) with cin_pad context frames at each end.

    The signal has ``(N - 2 * cin_pad) * hop_size`` samples, all free, starting uniform in [0, 256).
    ``estimate``: the plain estimate in quantised units (Griffin-Lim of the frames), for a warm start.
    """

    def __init__(self, mel, cin_pad, hop_size, estimate=None, temperature=None):
        self.estimate = estimate
        self.mel = torch.as_tensor(mel, dtype=torch.float32)
        frames = self.mel.size(1) - 2 * cin_pad
        if frames <= 0:
            raise ValueError(f"{self.mel.size(1)} mel frames leave none after {cin_pad} context frames at each end")
        self.length = frames * hop_size
        self.sample_temperature = None
        if temperature is not None:
            self.sample_temperature = torch.as_tensor(np.asarray(temperature), dtype=torch.float32).reshape(1, -1)
            if self.sample_temperature.size(1) != self.length:
                raise ValueError(f"{self.sample_temperature.size(1)} temperatures for {self.length} samples")

    def initial_state(self, generator):
        return torch.rand(1, self.length, generator=generator) * 256

    def movable(self):
        return torch.ones(1, self.length, dtype=torch.bool)

    def conditioning(self, source):
        return self.mel

    def temperature(self):
        return self.sample_temperature


DETAILS = """\
<checkpoint> is the prior's folder: one checkpoints<sigma>/ folder per level, or one
noise-conditional checkpoint_latest_ema.pth. <dump-root> holds normalised
<name>-<i>-feats.npy files (frames x 80) and, optionally, the matching <name>-<i>-wave.npy
(the original, written as original.wav). With one utterance the outputs go straight into
<output-dir>, with several into one folder each. With --voiced-temperature the frames that
look voiced (most of their energy below 1 kHz, within 30 dB of the loudest frame of the
segment) are sampled at that temperature: the prior's own samples are hoarser than speech,
and a sharper law keeps voicing periodic, while unvoiced sounds want the prior's own noise."""

OPTIONS = """\
  --voiced-temperature=<t>  Temperature of the Langevin noise (as with --temperature) on the
                         samples of voiced frames, the rest keeping the sampler's temperature;
                         0 or more; not in the published code (default: VOICED_TEMPERATURE).
"""


def resolve(args, constants):
    """The task's own values: ``voiced_temperature`` (--voiced-temperature over VOICED_TEMPERATURE;
    None: one temperature everywhere)."""
    value = pick(args, "--voiced-temperature", constants, "VOICED_TEMPERATURE")
    if value is None or str(value).lower() == "none":
        return {"voiced_temperature": None}
    temperature = parse_float(value, "--voiced-temperature", positive=False)
    if temperature < 0:
        raise PnfError(f"--voiced-temperature={value}: give 0 or more (1: as sampled elsewhere)")
    return {"voiced_temperature": temperature}


def check(settings, args):
    """A mel-conditioned preset only, and a dump made with its settings where the dump says
    (``dump.json``); --voiced-temperature only with the prior's statistics."""
    hp = settings.hparams
    if hp.cin_channels <= 0 or not hp.upsample_conditional_features:
        raise PnfError(f"this task needs a mel-conditioned preset (cin_channels > 0), but {args['--preset']} "
                       "has none: use e.g. --preset=egs/mulaw_maxaudio_spectrogram/config.json")
    check_record(args["<dump-root>"], hp)
    if settings.task.get("voiced_temperature") is not None:
        voicing_statistics(args["<checkpoint>"])


def normalisation_note(feats, path, prior_root):
    """A one-line note (or None) when features do not look normalised per band, as the prior's
    training features were (``pnf-preprocess --stats=<prior>/meanvar.npy``): their mean over all
    bands far from 0, a band's mean very far from 0 or spreads far from 1, e.g. raw log10 mel
    magnitudes or another recipe's statistics.  A loud excerpt of normalised speech has band means
    up to about 2 (its mean over all bands stays near 0), so single bands get more room."""
    means, spreads = feats.mean(axis=1), feats.std(axis=1)
    if abs(float(feats.mean())) < 1.5 and np.all(np.abs(means) < 3.0) and 0.2 < float(np.median(spreads)) < 3.0:
        return None
    stats = statistics_path(prior_root)
    made = (f"normalise them with {stats} (pnf-preprocess --stats={stats})" if os.path.isfile(stats)
            else "normalise them with the statistics the prior was trained with (pnf-preprocess --stats)")
    return (f"note: the mel features {path} do not look normalised (band means {means.min():.2f}..{means.max():.2f}, "
            f"median spread {float(np.median(spreads)):.2f}; normalised features have about 0 and 1): {made}")


def segment_frames(mel, start, end, hp):
    """The mel frames (cin, n + 2 cin_pad) of samples [start, end) (multiples of hop_size), edge-padded as
    :func:`~wavenet_vocoder.mel_dumps.load_mel` pads a file holding only those frames."""
    pad = hp.cin_pad
    frames = mel[:, pad:mel.shape[1] - pad][:, start // hp.hop_size:end // hp.hop_size]
    return np.pad(frames, [(0, 0), (pad, pad)], mode="edge")


def jobs(args, settings):
    """One job per utterance of the dump folder: audio generated for its mel frames."""
    hp = settings.hparams
    utterances = find_utterances(args["<dump-root>"])
    frames = settings.sample_size // hp.hop_size if settings.sample_size > 0 else -1
    if settings.sample_size > 0 and frames == 0:
        raise PnfError(f"--sample-size={settings.sample_size} is less than one frame ({hp.hop_size} samples)")
    temperatures = None                  # (meanvar, voiced temperature, temperature) for --voiced-temperature
    if settings.task.get("voiced_temperature") is not None:
        temperatures = (voicing_statistics(args["<checkpoint>"]), settings.task["voiced_temperature"],
                        settings.sampler.temperature)
    for name, feats, wave in utterances:
        folder = args["<output-dir>"] if len(utterances) == 1 else os.path.join(args["<output-dir>"], name)
        mel = load_mel(feats, hp.cin_channels, frames, hp.cin_pad)
        note = normalisation_note(mel, feats, args["<checkpoint>"])
        if note:
            print(note, file=sys.stderr)
        length = (mel.shape[1] - 2 * hp.cin_pad) * hp.hop_size
        original = None
        if wave is not None:
            original = dequantize(np.load(wave)[:length], hp.input_type, hp.quantize_channels)
        estimate = griffin_lim_units(mel, hp, args["<checkpoint>"], length) if settings.sampler.init == "baseline" else None
        yield _job(folder, name, feats, wave, mel, length, original, hp, estimate, temperatures)


def statistics_missing(args):
    """Why Griffin-Lim cannot start these runs (the prior has no meanvar.npy), or None."""
    stats = statistics_path(args["<checkpoint>"])
    return None if os.path.isfile(stats) else f"{stats} is missing, so the frames cannot be turned back into a waveform"


def griffin_lim_units(mel, hp, prior_root, length):
    """Griffin-Lim audio of the normalised frames ``mel`` (cin, N + 2 cin_pad), in quantised units:
    the frames are de-normalised with the prior's ``meanvar.npy``."""
    stats = statistics_path(prior_root)
    if not os.path.isfile(stats):
        raise PnfError(f"--init baseline needs the prior's training statistics {stats} to turn the frames back "
                       "into magnitudes for Griffin-Lim: use --init noise, or put meanvar.npy there")
    frames = mel[:, hp.cin_pad:mel.shape[1] - hp.cin_pad].T
    audio = spectrogram_griffin_lim(denormalize(frames, np.load(stats)), hp)[:length]
    audio = np.pad(audio, (0, max(0, length - audio.size)))
    peak = np.max(np.abs(audio))
    audio = audio / peak if peak > 0 else audio
    return to_units(torch.as_tensor(audio), hp.input_type, hp.quantize_channels).numpy()


def _job(folder, name, feats, wave, mel, length, original, hp, estimate=None, temperatures=None):
    """``temperatures``: (meanvar, voiced temperature, temperature) for --voiced-temperature, or None."""
    voiced_per_segment = {}          # segment start -> frames judged voiced there, for run.json

    def make_task(start, end):
        frames = segment_frames(mel, start, end, hp)
        per_sample = None
        if temperatures is not None:
            meanvar, voiced_temperature, temperature = temperatures
            voiced = voiced_normalised_frames(frames[:, hp.cin_pad:frames.shape[1] - hp.cin_pad], hp, meanvar)
            per_sample = sample_temperatures(voiced, hp.hop_size, voiced_temperature, temperature)
            voiced_per_segment[start] = int(voiced.sum())
        return SpectrogramConditioned(frames, hp.cin_pad, hp.hop_size,
                                      None if estimate is None else estimate[start:end], per_sample)

    def outputs(state, start, end):
        return {"out": dequantize(state[0], hp.input_type, hp.quantize_channels)}

    def finish(joined, seconds):
        estimate = joined["out"]
        panels = ([("original", original)] if original is not None else []) + \
            [("PnF output from the mel frames", estimate)]
        frames = int(mel.shape[1] - 2 * hp.cin_pad)
        extra = {"utterance": name, "samples": length, "frames": frames}
        if temperatures is not None:
            extra["voiced_frames"] = sum(voiced_per_segment.values())     # sampled at --voiced-temperature
        return JobResult(wavs={"out.wav": estimate}, panels=panels, extra=extra,
                         json={"info.json": {"seconds": seconds, "utterance": name, "samples": length}})

    return Job(folder, [feats] + ([wave] if wave else []), length, make_task, outputs, finish,
               before={"original.wav": original} if original is not None else {},
               align=hp.hop_size, window_align=hp.hop_size,
               names=("*.wav", "comparison.png", "run.json", "info.json"))


COMMAND = TaskCommand(
    name="spectrogram",
    script="sgld_spectrogram_descent.py",
    summary="Spectrogram-conditioned generation: audio for each mel spectrogram in <dump-root>.",
    usage=("<checkpoint> <dump-root> <output-dir> [options]",),
    details=DETAILS,
    options=OPTIONS,
    priors=("<checkpoint>",),
    resolve=resolve,
    check=check,
    jobs=jobs,
    constants={"VOICED_TEMPERATURE": "--voiced-temperature"},
    baseline_missing=statistics_missing,
)

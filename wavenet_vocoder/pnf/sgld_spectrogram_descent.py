"""Mel-spectrogram-conditioned generation with a mel-conditioned WaveNet prior.

Edit the constants below or pass them as flags.
"""
import os

import numpy as np

from wavenet_vocoder.cli import parse_args, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.mel_dumps import find_utterances, load_mel
from wavenet_vocoder.pnf import runner
from wavenet_vocoder.pnf.inverse_problems import SpectrogramConditioned
from wavenet_vocoder.pnf.langevin import Prior
from wavenet_vocoder.quantize import dequantize

SAMPLE_SIZE = 256 * 200  # samples to generate (whole frames); -1: every frame of the utterance
SGLD_WINDOW = 32000      # samples per Langevin window (a multiple of the hop size)
BATCH_SIZE = 2           # windows per step
N_STEPS = 256            # moves of each sample per noise level
STEP_SCALE = 0.1         # eta = STEP_SCALE * sigma^2

USAGE = f"""Spectrogram-conditioned generation: audio for each mel spectrogram in <dump-root>.

Usage:
  sgld_spectrogram_descent.py <checkpoint> <dump-root> <output-dir> [options]

<checkpoint> is the root folder holding one checkpoints<sigma>/ folder per level;
<dump-root> holds normalised <name>-<i>-feats.npy files (frames x 80) and, optionally,
the matching <name>-<i>-wave.npy (the original, written as original.wav). With one
utterance the outputs go straight into <output-dir>, with several into one folder each.

Options:
{runner.COMMON_OPTIONS}
Constants: SAMPLE_SIZE={SAMPLE_SIZE} SGLD_WINDOW={SGLD_WINDOW} BATCH_SIZE={BATCH_SIZE} N_STEPS={N_STEPS} STEP_SCALE={STEP_SCALE}
"""


def main(argv=None):
    args = parse_args(USAGE, argv)
    settings = runner.settings_from_args(args, dict(
        SAMPLE_SIZE=SAMPLE_SIZE, SGLD_WINDOW=SGLD_WINDOW, BATCH_SIZE=BATCH_SIZE, N_STEPS=N_STEPS, STEP_SCALE=STEP_SCALE))
    hp = settings.hparams
    if hp.cin_channels <= 0 or not hp.upsample_conditional_features:
        raise PnfError("this task needs a mel-conditioned preset (cin_channels > 0): "
                       "use --preset=egs/mulaw_maxaudio_spectrogram/config.json")
    prior = Prior(args["<checkpoint>"], hp, settings.sampler.device)
    prior.require(hp.sigmas)
    utterances = find_utterances(args["<dump-root>"])
    frames = settings.sample_size // hp.hop_size if settings.sample_size > 0 else -1
    if settings.sample_size > 0 and frames == 0:
        raise PnfError(f"--sample-size={settings.sample_size} is less than one frame ({hp.hop_size} samples)")
    for name, feats, wave in utterances:
        folder = args["<output-dir>"] if len(utterances) == 1 else os.path.join(args["<output-dir>"], name)
        mel = load_mel(feats, hp.cin_channels, frames, hp.cin_pad)
        length = (mel.shape[1] - 2 * hp.cin_pad) * hp.hop_size
        run_settings = runner.fit_window(settings, length, align=hp.hop_size)
        out = runner.OutputDir(folder, hp.sample_rate, inputs=[feats] + ([wave] if wave else []))
        original = None
        if wave is not None:
            original = dequantize(np.load(wave)[:length], hp.input_type, hp.quantize_channels)
            out.wav("original.wav", original)
        joined, reports, seconds, segments = runner.sample(
            lambda start, end: SpectrogramConditioned(segment_frames(mel, start, end, hp), hp.cin_pad, hp.hop_size),
            runner.segments(run_settings, length, align=hp.hop_size), [prior], run_settings,
            lambda state, start, end: {"out": runner.to_audio(state[0], hp)}, out)
        estimate = joined["out"]
        out.wav("out.wav", estimate)
        if args["--plot"]:
            panels = ([("original", original)] if original is not None else []) + [("PnF output from the mel frames", estimate)]
            out.plot("comparison.png", panels)
        out.json("info.json", {"seconds": seconds, "utterance": name, "samples": length})
        out.json("run.json", runner.run_report("spectrogram", args, run_settings, reports, seconds, None,
                                               {"utterance": name, "samples": length, "segments": segments,
                                                "frames": int(mel.shape[1] - 2 * hp.cin_pad)}))
    return 0


def segment_frames(mel, start, end, hp):
    """The mel frames (cin, n + 2 cin_pad) of samples [start, end) (multiples of hop_size), edge-padded as
    :func:`~wavenet_vocoder.mel_dumps.load_mel` pads a file holding only those frames."""
    pad = hp.cin_pad
    frames = mel[:, pad:mel.shape[1] - pad][:, start // hp.hop_size:end // hp.hop_size]
    return np.pad(frames, [(0, 0), (pad, pad)], mode="edge")


def cli():
    run(main)


if __name__ == "__main__":
    cli()

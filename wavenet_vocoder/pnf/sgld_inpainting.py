"""Inpainting with a WaveNet prior: silence a gap and sample it back.

Edit the constants below or pass them as flags.
"""
import numpy as np

from wavenet_vocoder.audio import load_audio
from wavenet_vocoder.baselines import inpaint_linear
from wavenet_vocoder.cli import parse_args, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.metrics import score, snr
from wavenet_vocoder.pnf import runner
from wavenet_vocoder.pnf.inverse_problems import Inpainting
from wavenet_vocoder.pnf.langevin import Prior
from wavenet_vocoder.quantize import dequantize, quantize, requantize

SAMPLE_SIZE = -1        # samples of the input to use; -1: the whole file
SGLD_WINDOW = 50000     # samples per Langevin window
BATCH_SIZE = 1          # windows per step
N_STEPS = 256           # moves of each sample per noise level
STEP_SCALE = 0.05       # eta = STEP_SCALE * sigma^2
GAP = (1.1, 1.3)        # start and end of the gap, seconds

USAGE = f"""Inpainting: silence GAP in <input-file> and sample it back.

Usage:
  sgld_inpainting.py <checkpoint> <input-file> <output-dir> [options]

<checkpoint> is the root folder holding one checkpoints<sigma>/ folder per level.

Options:
  --gap=<start,end>      Gap to inpaint, in seconds (GAP).
{runner.COMMON_OPTIONS}
Constants: SAMPLE_SIZE={SAMPLE_SIZE} SGLD_WINDOW={SGLD_WINDOW} BATCH_SIZE={BATCH_SIZE} N_STEPS={N_STEPS} STEP_SCALE={STEP_SCALE} GAP={GAP}
"""


def parse_gap(text, length, sample_rate):
    """``"start,end"`` in seconds (or a tuple) -> (start, end) samples inside a signal of ``length``."""
    try:
        start, end = (float(v) for v in (text.split(",") if isinstance(text, str) else text))
    except ValueError:
        raise PnfError(f"--gap={text}: expected two numbers of seconds, start,end (e.g. 1.1,1.3)") from None
    a, b = int(round(start * sample_rate)), int(round(end * sample_rate))
    if not 0 <= a < b <= length:
        raise PnfError(f"--gap={start:g},{end:g} s lies outside the input of {length / sample_rate:.3f} s "
                       "(or is empty): choose start < end inside the file")
    return a, b


def main(argv=None):
    args = parse_args(USAGE, argv)
    settings = runner.settings_from_args(args, dict(
        SAMPLE_SIZE=SAMPLE_SIZE, SGLD_WINDOW=SGLD_WINDOW, BATCH_SIZE=BATCH_SIZE, N_STEPS=N_STEPS, STEP_SCALE=STEP_SCALE))
    hp = settings.hparams
    prior = Prior(args["<checkpoint>"], hp, settings.sampler.device)
    prior.require(hp.sigmas)
    clean = runner.crop(load_audio(args["<input-file>"], hp.sample_rate), settings.sample_size,
                        args["<input-file>"])
    start, end = parse_gap(args["--gap"] or GAP, clean.size, hp.sample_rate)
    settings = runner.fit_window(settings, clean.size)
    observed = quantize(clean, hp.input_type, hp.quantize_channels)
    silence = float(quantize(np.zeros(1), hp.input_type, hp.quantize_channels)[0])
    task = Inpainting(observed, [(start, end)], silence=silence)
    out = runner.OutputDir(args["<output-dir>"], hp.sample_rate, inputs=[args["<input-file>"]])
    degraded = clean.copy()
    degraded[start:end] = dequantize(silence, hp.input_type, hp.quantize_channels)
    out.wav("x_original.wav", clean)
    out.wav("x_modified.wav", degraded)

    def restore(state):
        # Outside the gap the input is returned bit for bit, not through the quantiser.
        y = clean.astype(np.float64)
        y[start:end] = runner.to_audio(state[0, start:end], hp)
        return y

    x, reports, seconds = runner.sample(task, [prior], settings,
                                        on_level=lambda s, state: out.wav(f"out_{s}.wav", restore(state)))
    estimate = restore(x)
    out.wav("out.wav", estimate)
    if args["--plot"]:
        out.plot("comparison.png", [("original", clean), ("input: gap silenced", degraded), ("PnF output", estimate)],
                 gaps=[(start, end)])
    baseline = inpaint_linear(clean, start, end)
    ceiling = requantize(clean, hp.input_type, hp.quantize_channels)
    metrics = {}
    for name, y in (("pnf", estimate), ("baseline", baseline), ("ceiling", ceiling)):
        metrics[name] = score(clean, y, hp.sample_rate)
        metrics[name]["gap_snr"] = snr(clean[start:end], y[start:end])
    out.json("run.json", runner.run_report("inpainting", args, settings, reports, seconds, metrics,
                                           {"gap_seconds": [start / hp.sample_rate, end / hp.sample_rate],
                                            "gap_samples": [start, end], "samples": int(clean.size)}))
    return 0


def cli():
    run(main)


if __name__ == "__main__":
    cli()

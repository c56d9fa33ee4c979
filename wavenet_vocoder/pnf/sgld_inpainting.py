"""Inpainting with a WaveNet prior: silence gaps (or find dropouts) and sample them back.

Edit the constants below or pass them as flags.
"""
import numpy as np

from wavenet_vocoder.audio import load_audio
from wavenet_vocoder.baselines import inpaint_linear
from wavenet_vocoder.cli import parse_args, parse_float, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.gaps import find_dropouts, merge_gaps, parse_gap, read_gaps_file
from wavenet_vocoder.metrics import score, snr
from wavenet_vocoder.pnf import runner
from wavenet_vocoder.pnf.inverse_problems import Inpainting
from wavenet_vocoder.pnf.langevin import Prior
from wavenet_vocoder.quantize import dequantize, quantize, requantize
from wavenet_vocoder.wavenet import receptive_field_size

SAMPLE_SIZE = -1        # samples of the input to use; -1: the whole file
SGLD_WINDOW = 50000     # samples per Langevin window
BATCH_SIZE = 1          # windows per step
N_STEPS = 256           # moves of each sample per noise level
STEP_SCALE = 0.05       # eta = STEP_SCALE * sigma^2
GAP = (1.1, 1.3)        # start and end of the gap, seconds

USAGE = f"""Inpainting: silence GAP in <input-file> and sample it back.

Usage:
  sgld_inpainting.py <checkpoint> <input-file> <output-dir> [--gap=<start,end>]... [options]

<checkpoint> is the root folder holding one checkpoints<sigma>/ folder per level. Gaps given
with --gap or --gaps-file are silenced in the input first (for measuring on a clean file:
run.json compares the output with the input); gaps found with --find-dropouts are silent
already (a real recording: run.json lists them but has no reference to measure against).
Overlapping gaps are joined.

Options:
  --gap=<start,end>      A gap to inpaint, in seconds; repeat for several (default: GAP).
  --gaps-file=<file>     Also inpaint the gaps listed in this text file, one "start end" in
                         seconds per line ("#" starts a comment).
  --find-dropouts=<ms>   Also inpaint every run of exact digital silence (samples equal to
                         0) at least this many milliseconds long.
{runner.COMMON_OPTIONS}
Constants: SAMPLE_SIZE={SAMPLE_SIZE} SGLD_WINDOW={SGLD_WINDOW} BATCH_SIZE={BATCH_SIZE} N_STEPS={N_STEPS} STEP_SCALE={STEP_SCALE} GAP={GAP}
"""


def collect_gaps(args, clean, sample_rate):
    """(merged gaps as sample spans, whether any was found as digital silence) from the flags."""
    gaps, found = [], False
    for text in args["--gap"]:
        gaps.append(parse_gap(text, clean.size, sample_rate))
    if args["--gaps-file"]:
        gaps += read_gaps_file(args["--gaps-file"], clean.size, sample_rate)
    if args["--find-dropouts"] is not None:
        ms = parse_float(args["--find-dropouts"], "--find-dropouts")
        dropouts = find_dropouts(clean, sample_rate, ms)
        if not dropouts:
            raise PnfError(f"--find-dropouts={ms:g}: {args['<input-file>']} has no run of digital silence "
                           f"of {ms:g} ms or more: nothing to inpaint")
        gaps += dropouts
        found = True
    if not gaps:
        gaps.append(parse_gap(GAP, clean.size, sample_rate))
    return merge_gaps(gaps), found


def main(argv=None):
    args = parse_args(USAGE, argv)
    settings = runner.settings_from_args(args, dict(
        SAMPLE_SIZE=SAMPLE_SIZE, SGLD_WINDOW=SGLD_WINDOW, BATCH_SIZE=BATCH_SIZE, N_STEPS=N_STEPS, STEP_SCALE=STEP_SCALE))
    hp = settings.hparams
    prior = Prior(args["<checkpoint>"], hp, settings.sampler.device)
    prior.require(hp.sigmas)
    clean = runner.crop(load_audio(args["<input-file>"], hp.sample_rate), settings.sample_size,
                        args["<input-file>"])
    gaps, found = collect_gaps(args, clean, hp.sample_rate)
    settings = runner.fit_window(settings, clean.size)
    observed = quantize(clean, hp.input_type, hp.quantize_channels)
    silence = float(quantize(np.zeros(1), hp.input_type, hp.quantize_channels)[0])
    mask = Inpainting(observed, gaps, silence=silence).gap_mask().numpy()
    out = runner.OutputDir(args["<output-dir>"], hp.sample_rate, inputs=[args["<input-file>"]])
    degraded = clean.copy()
    degraded[mask] = dequantize(silence, hp.input_type, hp.quantize_channels)
    out.wav("x_original.wav", clean)
    out.wav("x_modified.wav", degraded)

    def make_task(start, end):
        inside = [(max(a, start) - start, min(b, end) - start) for a, b in gaps if a < end and b > start]
        return Inpainting(observed[start:end], inside, silence=silence) if inside else None

    def outputs(state, start, end):
        # Outside the gaps the input is returned bit for bit, not through the quantiser.
        y = clean[start:end].astype(np.float64)
        if state is not None:
            inside = mask[start:end]
            y[inside] = runner.to_audio(state[0, inside], hp)
        return {"out": y}

    # A cut never falls within a receptive field of a gap: each gap keeps its context on both sides.
    field = receptive_field_size(hp.layers, hp.stacks, hp.kernel_size)
    bounds = runner.segments(settings, clean.size, keep_clear=[(a - field, b + field) for a, b in gaps])
    joined, reports, seconds, segments = runner.sample(make_task, bounds, [prior], settings, outputs, out)
    estimate = joined["out"]
    out.wav("out.wav", estimate)
    if args["--plot"]:
        panels = ([("input, dropouts marked", clean)] if found else
                  [("original", clean), ("input: gaps silenced", degraded)])
        out.plot("comparison.png", panels + [("PnF output", estimate)], gaps=gaps)
    sr = hp.sample_rate
    listed = [{"samples": [a, b], "seconds": [a / sr, b / sr]} for a, b in gaps]
    extra = {"gaps": listed, "found_dropouts": found, "samples": int(clean.size), "segments": segments}
    if len(gaps) == 1:
        extra.update(gap_seconds=listed[0]["seconds"], gap_samples=listed[0]["samples"])
    metrics = None
    if not found:
        baseline = clean.astype(np.float64)
        for a, b in gaps:
            baseline = inpaint_linear(baseline, a, b)
        ceiling = requantize(clean, hp.input_type, hp.quantize_channels)
        metrics = {}
        for name, y in (("pnf", estimate), ("baseline", baseline), ("ceiling", ceiling)):
            metrics[name] = score(clean, y, sr)
            metrics[name]["gap_snr"] = snr(clean[mask], y[mask])
            for item, (a, b) in zip(listed, gaps):
                item.setdefault("gap_snr", {})[name] = snr(clean[a:b], y[a:b])
    out.json("run.json", runner.run_report("inpainting", args, settings, reports, seconds, metrics, extra))
    return 0


def cli():
    run(main)


if __name__ == "__main__":
    cli()

"""Super-resolution with a WaveNet prior: keep every r-th sample, sample the rest.

Edit the constants below or pass them as flags.
"""
from wavenet_vocoder.audio import load_audio
from wavenet_vocoder.baselines import superres_bandlimited
from wavenet_vocoder.cli import parse_args, run
from wavenet_vocoder.metrics import score
from wavenet_vocoder.pnf import runner
from wavenet_vocoder.pnf.inverse_problems import SuperResolution
from wavenet_vocoder.pnf.langevin import Prior
from wavenet_vocoder.quantize import quantize, requantize

SAMPLE_SIZE = -1        # samples of the input to use; -1: the whole file
SGLD_WINDOW = 20000     # samples per Langevin window
BATCH_SIZE = 2          # windows per step
N_STEPS = 256           # moves of each sample per noise level
STEP_SCALE = 0.05       # eta = STEP_SCALE * sigma^2

USAGE = f"""Super-resolution: restore every sample of <input-file> from every r-th one.

Usage:
  sgld_superres.py <checkpoint> <input-file> <output-dir> [options]

<checkpoint> is the root folder holding one checkpoints<sigma>/ folder per level.

Options:
  --downsample_interval=<r>  Keep every r-th sample (r >= 2) [default: 4].
{runner.COMMON_OPTIONS}
Constants: SAMPLE_SIZE={SAMPLE_SIZE} SGLD_WINDOW={SGLD_WINDOW} BATCH_SIZE={BATCH_SIZE} N_STEPS={N_STEPS} STEP_SCALE={STEP_SCALE}
"""


def main(argv=None):
    args = parse_args(USAGE, argv)
    settings = runner.settings_from_args(args, dict(
        SAMPLE_SIZE=SAMPLE_SIZE, SGLD_WINDOW=SGLD_WINDOW, BATCH_SIZE=BATCH_SIZE, N_STEPS=N_STEPS, STEP_SCALE=STEP_SCALE))
    hp = settings.hparams
    interval = runner.parse_int(args["--downsample_interval"], "--downsample_interval", 2)
    prior = Prior(args["<checkpoint>"], hp, settings.sampler.device)
    prior.require(hp.sigmas)
    clean = runner.crop(load_audio(args["<input-file>"], hp.sample_rate), settings.sample_size,
                        args["<input-file>"])
    settings = runner.fit_window(settings, clean.size)
    observed = quantize(clean, hp.input_type, hp.quantize_channels)
    task = SuperResolution(observed, interval)
    out = runner.OutputDir(args["<output-dir>"], hp.sample_rate, inputs=[args["<input-file>"]])
    baseline = superres_bandlimited(clean[::interval], interval, clean.size)
    out.wav("x_original.wav", clean)
    out.wav("x_modified.wav", baseline)

    def restore(state):
        # The kept samples are returned as they were in the input, not through the quantiser.
        y = runner.to_audio(state[0], hp)
        y[::interval] = clean[::interval]
        return y

    x, reports, seconds = runner.sample(task, [prior], settings,
                                        on_level=lambda s, state: out.wav(f"out_{s}.wav", restore(state)))
    estimate = restore(x)
    out.wav("out.wav", estimate)
    if args["--plot"]:
        out.plot("comparison.png", [("original", clean), (f"input: every {interval}th sample, band-limited interpolation", baseline),
                                    ("PnF output", estimate)],
                 cutoff_hz=hp.sample_rate / (2 * interval))
    metrics = {"pnf": score(clean, estimate, hp.sample_rate), "baseline": score(clean, baseline, hp.sample_rate),
               "ceiling": score(clean, requantize(clean, hp.input_type, hp.quantize_channels), hp.sample_rate)}
    out.json("run.json", runner.run_report("superres", args, settings, reports, seconds, metrics,
                                           {"downsample_interval": interval, "samples": int(clean.size)}))
    return 0


def cli():
    run(main)


if __name__ == "__main__":
    cli()

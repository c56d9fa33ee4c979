"""Mel-spectrogram-conditioned generation with a mel-conditioned WaveNet prior.

Edit the constants below or pass them as flags (``--help`` lists both).
"""
from wavenet_vocoder.cli import run
from wavenet_vocoder.pnf.command import run_task
from wavenet_vocoder.pnf.tasks import spectrogram

SAMPLE_SIZE = 256 * 200  # samples to generate (whole frames); -1: every frame of the utterance
SGLD_WINDOW = 32000      # samples per Langevin window (a multiple of the hop size)
BATCH_SIZE = 2           # windows per step
N_STEPS = 256            # moves of each sample per noise level
STEP_SCALE = 0.1         # eta = STEP_SCALE * sigma^2
INIT = "baseline"        # start: "baseline" (the plain estimate, noised; warm from the preset's
                         # warm_start_sigma) or "noise" (every level from noise, as published)
VOICED_TEMPERATURE = None  # temperature of the Langevin noise on voiced frames (e.g. 0.25: periodic
                           # voicing where the prior's own samples are hoarse); None: one temperature


def main(argv=None):
    return run_task(spectrogram.COMMAND, dict(
        SAMPLE_SIZE=SAMPLE_SIZE, SGLD_WINDOW=SGLD_WINDOW, BATCH_SIZE=BATCH_SIZE, N_STEPS=N_STEPS,
        STEP_SCALE=STEP_SCALE, INIT=INIT, VOICED_TEMPERATURE=VOICED_TEMPERATURE), argv)


def cli():
    run(main)


if __name__ == "__main__":
    cli()

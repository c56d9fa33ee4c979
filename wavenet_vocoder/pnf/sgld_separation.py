"""Two-source separation with two linear-quantised WaveNet priors (mixture = source0 + source1).

Edit the constants below or pass them as flags (``--help`` lists both).
"""
from wavenet_vocoder.cli import run
from wavenet_vocoder.pnf.command import run_task
from wavenet_vocoder.pnf.tasks import separation

SAMPLE_SIZE = -1        # samples of the input to use; -1: the whole file
SGLD_WINDOW = 20000     # samples per Langevin window
BATCH_SIZE = 2          # windows per step
N_STEPS = 256           # moves of each sample per noise level
STEP_SCALE = 0.05       # eta = STEP_SCALE * sigma^2
INIT = "baseline"       # start: "baseline" (the plain estimate, noised; warm from the preset's
                        # warm_start_sigma) or "noise" (every level from noise, as published)
GAMMA_SCALE = 15.0      # weight of the mixture term, gamma = GAMMA_SCALE / sigma^2
MIX_PEAK = 1.4          # the mixture is scaled to this peak (keeps each source inside the quantiser)
FILL_BAND = "auto"      # low-pass each source to this band edge, Hz ("none,8000": one per source);
                        # "auto": half the rate of the source's file (or the mixture's) when below the preset's


def main(argv=None):
    return run_task(separation.COMMAND, dict(
        SAMPLE_SIZE=SAMPLE_SIZE, SGLD_WINDOW=SGLD_WINDOW, BATCH_SIZE=BATCH_SIZE, N_STEPS=N_STEPS,
        STEP_SCALE=STEP_SCALE, INIT=INIT, GAMMA_SCALE=GAMMA_SCALE, MIX_PEAK=MIX_PEAK,
        FILL_BAND=FILL_BAND), argv)


def cli():
    run(main)


if __name__ == "__main__":
    cli()

"""Inpainting with a WaveNet prior: silence gaps (or find dropouts) and sample them back.

Edit the constants below or pass them as flags (``--help`` lists both).
"""
from wavenet_vocoder.cli import run
from wavenet_vocoder.pnf.command import run_task
from wavenet_vocoder.pnf.tasks import inpainting

SAMPLE_SIZE = -1        # samples of the input to use; -1: the whole file
SGLD_WINDOW = 50000     # samples per Langevin window
BATCH_SIZE = 1          # windows per step
N_STEPS = 256           # moves of each sample per noise level
STEP_SCALE = 0.05       # eta = STEP_SCALE * sigma^2
INIT = "baseline"       # start: "baseline" (the plain estimate, noised; warm from the preset's
                        # warm_start_sigma) or "noise" (every level from noise, as published)
GAP = (1.1, 1.3)        # start and end of the gap, seconds (when no --gap is given)
FILL_BAND = "auto"      # low-pass the fill to this band edge, Hz; "auto": half the input file's rate
                        # when below the preset's (a 16 kHz recording has nothing above 8 kHz); "none"


def main(argv=None):
    return run_task(inpainting.COMMAND, dict(
        SAMPLE_SIZE=SAMPLE_SIZE, SGLD_WINDOW=SGLD_WINDOW, BATCH_SIZE=BATCH_SIZE, N_STEPS=N_STEPS,
        STEP_SCALE=STEP_SCALE, INIT=INIT, GAP=GAP, FILL_BAND=FILL_BAND), argv)


def cli():
    run(main)


if __name__ == "__main__":
    cli()

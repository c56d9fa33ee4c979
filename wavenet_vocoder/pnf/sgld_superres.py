"""Super-resolution with a WaveNet prior: keep every r-th sample and sample the rest, or upsample a low-rate file.

Edit the constants below or pass them as flags (``--help`` lists both).
"""
from wavenet_vocoder.cli import run
from wavenet_vocoder.pnf.command import run_task
from wavenet_vocoder.pnf.tasks import superres

SAMPLE_SIZE = -1        # samples of the input to use; -1: the whole file
SGLD_WINDOW = 20000     # samples per Langevin window
BATCH_SIZE = 2          # windows per step
N_STEPS = 256           # moves of each sample per noise level
STEP_SCALE = 0.05       # eta = STEP_SCALE * sigma^2
INIT = "baseline"       # start: "baseline" (the plain estimate, noised; warm from the preset's
                        # warm_start_sigma) or "noise" (every level from noise, as published)
OBS_WEIGHT = 1.0        # low-rate observation term: gamma = OBS_WEIGHT / sigma^2
FILL_BAND = "auto"      # low-pass the filled-in samples to this band edge, Hz; "auto": half the input
                        # file's rate when below the preset's (a 16 kHz recording: 8000); "none"


def main(argv=None):
    return run_task(superres.COMMAND, dict(
        SAMPLE_SIZE=SAMPLE_SIZE, SGLD_WINDOW=SGLD_WINDOW, BATCH_SIZE=BATCH_SIZE, N_STEPS=N_STEPS,
        STEP_SCALE=STEP_SCALE, INIT=INIT, OBS_WEIGHT=OBS_WEIGHT, FILL_BAND=FILL_BAND), argv)


def cli():
    run(main)


if __name__ == "__main__":
    cli()

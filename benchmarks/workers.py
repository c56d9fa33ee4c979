"""Threads and processes on a shared CPU machine, side by side in one run.

Usage:
  workers.py [options]

1. Threads: one task command (super-resolution with the bundled small piano prior on the
   first --seconds of egs/sample_piano.wav) at --threads 1 and 2, alone and beside one busy
   process (a Python loop), each in a fresh process; the wall time of each.
2. Processes: a folder of --files excerpts of the same file, sampled by one process (all the
   machine's threads) and by `torchrun --nproc_per_node 2` (one thread each); files per minute.

Options:
  --prior=<dir>          Prior folder [default: egs/pnf_small/mulaw_piano].
  --preset=<json>        Its preset [default: egs/pnf_small/mulaw_piano.json].
  --input=<wav>          Audio to cut the inputs from [default: egs/sample_piano.wav].
  --seconds=<s>          Seconds of audio per run or file [default: 0.5].
  --n-steps=<n>          Moves per sample per level [default: 8].
  --files=<n>            Files of the processes measurement [default: 4].
  --timeout=<s>          Give up on one run after this many seconds (reported as more than it)
                         [default: 600].
  --out=<dir>            Working folder [default: workers_outputs].
  -h, --help             Show this help.
"""
import os
import shutil
import subprocess
import sys
import time

import soundfile as sf
from docopt import docopt

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(command, timeout, env=None):
    """Wall seconds of ``command`` (a list), or None when it ran past ``timeout``; raises when it fails."""
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        raise SystemExit(f"error: {' '.join(command)} failed:\n{done.stderr[-1500:]}")
    return time.perf_counter() - started


def busy():
    """Start one process that keeps one core busy; the caller kills it."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def shown(seconds, timeout):
    return f"more than {timeout:g} s" if seconds is None else f"{seconds:.1f} s"


def main(argv=None):
    args = docopt(__doc__, argv=argv)
    out = args["--out"]
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    timeout = float(args["--timeout"])
    audio, rate = sf.read(os.path.join(REPO, args["--input"]) if not os.path.isabs(args["--input"]) else args["--input"])
    n = int(float(args["--seconds"]) * rate)
    task = [sys.executable, "-m", "wavenet_vocoder.pnf.sgld_superres", args["--prior"]]
    flags = [f"--preset={args['--preset']}", "--downsample_interval=4", f"--n-steps={args['--n-steps']}",
             "--step-scale=1.0", "--schedule=tiled", "--no-progress", "--init=noise"]   # every level, as measured
    single = os.path.join(out, "single.wav")
    sf.write(single, audio[:n], rate)

    rows = []
    for load in (False, True):
        for threads in (1, 2):
            other = busy() if load else None
            try:
                seconds = timed(task + [single, os.path.join(out, f"t{threads}{'_busy' if load else ''}"),
                                        f"--threads={threads}"] + flags, timeout, {"OMP_NUM_THREADS": ""})
            finally:
                if other is not None:
                    other.kill()
                    other.wait()
            rows.append((threads, load, seconds))
    print(f"Threads: pnf-superres on {n / rate:g} s, {args['--n-steps']} steps per level, {os.cpu_count()} cores\n")
    print("| threads | alone | beside one busy process |\n| --- | --- | --- |")
    for threads in (1, 2):
        alone = next(s for t, load, s in rows if t == threads and not load)
        loaded = next(s for t, load, s in rows if t == threads and load)
        print(f"| {threads} | {shown(alone, timeout)} | {shown(loaded, timeout)} |")

    folder = os.path.join(out, "files")
    os.makedirs(folder)
    count = int(args["--files"])
    for k in range(count):
        start = (k * n) % max(1, audio.shape[0] - n)
        sf.write(os.path.join(folder, f"part{k}.wav"), audio[start:start + n], rate)
    one = timed(task + [folder, os.path.join(out, "one_process")] + flags, timeout)
    two = timed([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                 "-m", "wavenet_vocoder.pnf.sgld_superres", args["--prior"], folder, os.path.join(out, "two_processes")]
                + flags, timeout, {"OMP_NUM_THREADS": "1"})
    # The two ways differ in threads per process, so in the order of float sums: a sample may round to the
    # next step of the 16-bit file, and no further.
    steps = max(largest_step_difference(os.path.join(out, "one_process", f"part{k}", "out.wav"),
                                        os.path.join(out, "two_processes", f"part{k}", "out.wav")) for k in range(count))
    print(f"\nProcesses: {count} files of {n / rate:g} s each\n")
    print("| how | wall time | files per minute |\n| --- | --- | --- |")
    for label, seconds in (("one process, all threads", one), ("torchrun, 2 processes x 1 thread", two)):
        rate_text = "" if seconds is None else f"{60 * count / seconds:.1f}"
        print(f"| {label} | {shown(seconds, timeout)} | {rate_text} |")
    print(f"\nThe two ways wrote the same out.wav for every file, up to float rounding (at most one step of the "
          f"16-bit file apart): {steps <= 1} (largest difference: {steps} steps)")
    return 0


def largest_step_difference(a, b):
    """The largest difference between two 16-bit wav files' samples, in steps of the file (1/32768)."""
    x, y = (sf.read(path, dtype="int16")[0].astype(int) for path in (a, b))
    if x.shape != y.shape:
        raise SystemExit(f"error: {a} and {b} hold different numbers of samples")
    return int(abs(x - y).max(initial=0))


if __name__ == "__main__":
    sys.exit(main())

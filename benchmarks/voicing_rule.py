"""How well --voiced-temperature's rule (wavenet_vocoder.voicing: most of a mel frame's energy below 1 kHz,
within 30 dB of the loudest frame) finds the frames where a recording is voiced.

Usage:
  voicing_rule.py [options] <audio>...

For each file (mono, at the preset's rate, peak 1), its log-mel frames are computed as pnf-preprocess computes
them, the rule judges each frame, and the recording's own periodicity (benchmarks/fine_structure.py's voiced
frames: periodicity at least 0.45, within 30 dB of the loudest frame) judges the same frame's centre. One row
per file and one for all files together: the frames, the share voiced by the recording and by the rule, their
agreement, and the rule's recall (voiced frames it finds) and precision (its frames that are voiced).

Options:
  --preset=<json>        Mel preset (sample rate, STFT, mel bands) [default: egs/pnf_real/mel_voice.json].
  -h, --help             Show this help.
"""
import os

import numpy as np

from wavenet_vocoder.audio import load_audio, logmelspectrogram
from wavenet_vocoder.cli import parse_args, run
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.metrics import voiced_at
from wavenet_vocoder.voicing import voiced_mel_frames


def judged_frames(audio, hp):
    """(by the recording, by the rule): two (frames,) bool arrays for ``audio`` at ``hp.sample_rate``."""
    rule = voiced_mel_frames(logmelspectrogram(audio, hp), hp)
    recording = voiced_at(audio, np.arange(rule.size) * hp.hop_size, hp.sample_rate)
    return recording, rule


def row(name, recording, rule):
    both = np.sum(recording & rule)
    share = lambda mask: f"{np.mean(mask):.2f}"
    ratio = lambda num, den: f"{num / den:.2f}" if den else "-"
    return (f"| {name} | {recording.size} | {share(recording)} | {share(rule)} | {share(recording == rule)} "
            f"| {ratio(both, recording.sum())} | {ratio(both, rule.sum())} |")


def main(argv=None):
    args = parse_args(__doc__, argv)
    hp = load_preset(args["--preset"])
    judged = [(path, *judged_frames(load_audio(path, hp.sample_rate), hp)) for path in args["<audio>"]]
    lines = ["| file | frames | voiced (recording) | voiced (rule) | agreement | recall | precision |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [row(os.path.basename(path), recording, rule) for path, recording, rule in judged]
    if len(judged) > 1:
        lines.append(row("all", np.concatenate([j[1] for j in judged]), np.concatenate([j[2] for j in judged])))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    run(main)

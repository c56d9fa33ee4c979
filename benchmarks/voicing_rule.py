"""How well --voiced-temperature's rule (wavenet_vocoder.voicing: most of a mel frame's energy below 1 kHz,
within 30 dB of the loudest frame) finds the frames where a recording is voiced.

Usage:
  voicing_rule.py [options] <audio>...

Each <audio> is an audio file, a folder searched recursively as pnf-preprocess searches it, or a quoted pattern
such as 'voice/en-*.wav'. For each file (mono, at the preset's rate, peak 1), its log-mel frames are computed as
pnf-preprocess computes them, the rule judges each frame, and the recording's own periodicity
(benchmarks/fine_structure.py's voiced frames: periodicity at least 0.45, within 30 dB of the loudest frame)
judges the same frame's centre. One row per <audio> (its files' frames together) and one for all of them: the
frames, the share voiced by the recording and by the rule, their agreement, and the rule's recall (voiced frames
it finds) and precision (its frames that are voiced). The rule's three numbers can be varied, e.g. to try
another rule on a prior's training speech before its held-out speech.

Options:
  --preset=<json>        Mel preset (sample rate, STFT, mel bands) [default: egs/pnf_real/mel_voice.json].
  --low-hz=<hz>          The rule's edge: the bands centred below it are the low ones; default: the
                         rule's own (wavenet_vocoder.voicing.VOICED_LOW_HZ, 1000).
  --low-share=<f>        The share of a frame's energy (0 to 1) that must lie in the low bands; default:
                         the rule's own (VOICED_LOW_SHARE, 0.5).
  --range-db=<db>        How far below the file's loudest frame a voiced frame may lie; default: the
                         rule's own (VOICED_RANGE_DB, 30).
  --max-files=<n>        At most this many files of each folder or pattern, evenly spaced in sorted order;
                         0 for all [default: 0].
  -h, --help             Show this help.
"""

import numpy as np

from wavenet_vocoder.audio import load_audio, logmelspectrogram
from wavenet_vocoder.cli import parse_args, parse_float, parse_int, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.metrics import voiced_at
from wavenet_vocoder.preprocess import audio_files, audio_label
from wavenet_vocoder.voicing import VOICED_LOW_HZ, VOICED_LOW_SHARE, VOICED_RANGE_DB, voiced_mel_frames


def judged_frames(audio, hp, **rule):
    """(by the recording, by the rule): two (frames,) bool arrays for ``audio`` at ``hp.sample_rate``; ``rule``:
    :func:`voiced_mel_frames`'s low_hz, low_share and range_db."""
    by_rule = voiced_mel_frames(logmelspectrogram(audio, hp), hp, **rule)
    recording = voiced_at(audio, np.arange(by_rule.size) * hp.hop_size, hp.sample_rate)
    return recording, by_rule


def row(name, recording, rule):
    both = np.sum(recording & rule)
    share = lambda mask: f"{np.mean(mask):.2f}"
    ratio = lambda num, den: f"{num / den:.2f}" if den else "-"
    return (f"| {name} | {recording.size} | {share(recording)} | {share(rule)} | {share(recording == rule)} "
            f"| {ratio(both, recording.sum())} | {ratio(both, rule.sum())} |")


def main(argv=None):
    args = parse_args(__doc__, argv)
    hp = load_preset(args["--preset"])
    given = lambda flag, default, **kw: default if args[flag] is None else parse_float(args[flag], flag, **kw)
    rule = dict(low_hz=given("--low-hz", VOICED_LOW_HZ), range_db=given("--range-db", VOICED_RANGE_DB),
                low_share=given("--low-share", VOICED_LOW_SHARE, positive=False))
    if not 0 <= rule["low_share"] <= 1:
        raise PnfError(f"--low-share={args['--low-share']}: give a share from 0 to 1")
    max_files = parse_int(args["--max-files"], "--max-files", 0)
    sets = [(path, audio_files(path, max_files)) for path in args["<audio>"]]   # all checked first
    judged = []
    for path, files in sets:
        pairs = [judged_frames(load_audio(f, hp.sample_rate), hp, **rule) for f in files]
        judged.append((audio_label(path), np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])))
    lines = ["| audio | frames | voiced (recording) | voiced (rule) | agreement | recall | precision |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [row(name, recording, by_rule) for name, recording, by_rule in judged]
    if len(judged) > 1:
        lines.append(row("all", np.concatenate([j[1] for j in judged]), np.concatenate([j[2] for j in judged])))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    run(main)

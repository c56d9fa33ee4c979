"""How periodic generated speech is where the original is voiced: the fine structure that a mel spectrogram
leaves open (a vocoder can match every mel band and still be hoarse, or buzz).

Usage:
  fine_structure.py [options] <reference> <estimate>...
  fine_structure.py [options] --own <path>...

Each <estimate> is one row, scored against <reference> (both read at --sample-rate, levels as stored; the
longer of the two is cut to the shorter). On the reference's voiced frames (periodicity at least 0.45 and
power within 30 dB of its loudest frame; frames of 60 ms, every 10 ms), the row gives the mean harmonic-to-
noise ratio (HNR, dB; Boersma's autocorrelation method, pitch 75-500 Hz) of the reference and of the estimate,
their mean absolute difference frame by frame, the share of those frames that are voiced in the estimate too,
and the mel distance (dB, as in benchmarks/quality.py) of the whole file, of its voiced frames and of the
others (each mel frame judged by the nearest voicing frame).  For a mel-conditioned output, an estimate HNR
below the reference's means noisier voicing than the recording's, above it more buzz.

With --own, each <path> (an audio file, a folder searched recursively as pnf-preprocess searches it, or a
quoted pattern such as 'voice/en-*.wav') is one row of recordings' own voicing, e.g. a prior's training
speech: its files, those with a voiced frame, their voiced frames, and the mean HNR (dB) over the files with a
voiced frame, each file's being the mean over its own voiced frames (every file weighs the same), and the mean
over all their voiced frames pooled.

Options:
  --own                  Score each path's own voicing, not estimates against a reference.
  --sample-rate=<hz>     Rate the files are resampled to [default: 22050].
  --max-files=<n>        With --own, at most this many files of each folder or pattern, evenly spaced in
                         sorted order; 0 for all [default: 0].
  -h, --help             Show this help.
"""
import sys

import numpy as np

from wavenet_vocoder.audio import load_audio
from wavenet_vocoder.cli import parse_args, parse_int, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.metrics import mel_distance, mel_distance_by_voicing, voiced_hnr
from wavenet_vocoder.preprocess import audio_files, audio_label


def fine_structure_row(reference, estimate, sample_rate):
    """``voiced_hnr``'s measures of ``estimate`` against ``reference`` (arrays, cut to the shorter), with the
    mel distances (dB) added: ``"mel_distance"`` of the whole, ``"mel_voiced"`` and ``"mel_other"``."""
    length = min(reference.size, estimate.size)
    reference, estimate = reference[:length], estimate[:length]
    row = voiced_hnr(reference, estimate, sample_rate)
    row["mel_distance"] = mel_distance(reference, estimate, sample_rate)
    row["mel_voiced"], row["mel_other"] = mel_distance_by_voicing(reference, estimate, sample_rate)
    return row


def own_voicing_row(files, sample_rate):
    """The voicing of recordings by their own voiced frames: ``{"files", "voiced_files", "frames",
    "file_mean_hnr", "frame_mean_hnr"}``, the two HNRs (dB) the mean over the files with a voiced frame of
    each one's mean, and the mean over all those frames; NaN where no file has a voiced frame."""
    rows = [voiced_hnr(audio, audio, sample_rate)
            for audio in (load_audio(f, sample_rate, normalize=False) for f in files)]
    rows = [row for row in rows if row["frames"]]
    frames = sum(row["frames"] for row in rows)
    nan = float("nan")
    return {"files": len(files), "voiced_files": len(rows), "frames": frames,
            "file_mean_hnr": float(np.mean([row["reference_hnr"] for row in rows])) if rows else nan,
            "frame_mean_hnr": sum(row["reference_hnr"] * row["frames"] for row in rows) / frames if rows else nan}


def own_voicing(paths, sample_rate, max_files):
    """The ``--own`` table: one :func:`own_voicing_row` per path (a file, a folder or a pattern: ``audio_files``)."""
    sets = [(path, audio_files(path, max_files)) for path in paths]    # every path checked first
    lines = ["| audio | files | with voiced frames | voiced frames | HNR, mean of files (dB) "
             "| HNR, mean of frames (dB) |", "| --- | --- | --- | --- | --- | --- |"]
    for path, files in sets:
        row = own_voicing_row(files, sample_rate)
        lines.append(f"| {audio_label(path)} | {row['files']} | {row['voiced_files']} "
                     f"| {row['frames']} | {row['file_mean_hnr']:.2f} | {row['frame_mean_hnr']:.2f} |")
    return lines


def main(argv=None):
    args = parse_args(__doc__, argv)
    rate = parse_int(args["--sample-rate"], "--sample-rate", 8000)
    if args["--own"]:
        print("\n".join(own_voicing(args["<path>"], rate, parse_int(args["--max-files"], "--max-files", 0))))
        return 0
    reference = load_audio(args["<reference>"], rate, normalize=False)
    estimates = [(path, load_audio(path, rate, normalize=False)) for path in args["<estimate>"]]
    lines = [f"reference: {args['<reference>']}",
             "| estimate | voiced frames | reference HNR (dB) | estimate HNR (dB) | HNR error (dB) | voiced too "
             "| mel dist. (dB) | mel dist. voiced (dB) | mel dist. other (dB) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for path, estimate in estimates:
        if estimate.size != reference.size:
            print(f"note: {path} has {estimate.size} samples, the reference {reference.size}: both cut to the "
                  f"shorter", file=sys.stderr)
        row = fine_structure_row(reference, estimate, rate)
        if row["frames"] == 0:
            raise PnfError(f"{args['<reference>']}: no voiced frame to score (is it speech, and not silent?)")
        lines.append(f"| {path} | {row['frames']} | {row['reference_hnr']:.2f} | {row['estimate_hnr']:.2f} "
                     f"| {row['hnr_error']:.2f} | {row['voiced']:.2f} | {row['mel_distance']:.2f} "
                     f"| {row['mel_voiced']:.2f} | {row['mel_other']:.2f} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    run(main)

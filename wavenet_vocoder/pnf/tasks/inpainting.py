"""Inpainting: silence gaps (or find dropouts) and sample them back under the prior.

Constraint object: :class:`Inpainting` (samples inside the gaps move, the rest stays as observed).
Command: :data:`COMMAND` (``pnf-inpainting``, ``wavenet_vocoder/pnf/sgld_inpainting.py``).
"""
import numpy as np

from ...audio import audio_rate, load_audio
from ...deferred import deferred_import
from ...baselines import inpaint_linear, inpaint_lpc
from ...cli import parse_float
from ...errors import PnfError
from ...band import check_fill_band, fill_band_hz, limit_fill_band, parse_fill_band
from ...gaps import find_dropouts, merge_gaps, parse_gap, read_gaps_file, rescale_gaps
from ...metrics import score, snr
from ...quantize import dequantize, quantize, requantize, silence_units, to_units
from ..command import Job, JobResult, TaskCommand
from ..settings import load_input, pick
from ..task import TaskBase

torch = deferred_import("torch")


class Inpainting(TaskBase):
    """Samples inside the gaps start as silence and move; everything else stays as observed.

    ``observed``: (T,) quantised units; ``gaps``: (start, end) samples, end exclusive;
    ``silence``: the quantised value the gaps start from (and the context before the signal);
    ``estimate``: (T,) the plain estimate in quantised units (LPC extrapolation across each gap),
    for a warm start.
    """

    def __init__(self, observed, gaps, silence=silence_units(), estimate=None):
        self.estimate = estimate
        self.observed = torch.as_tensor(observed, dtype=torch.float32).reshape(-1)
        self.length = self.observed.numel()
        self.gaps = [(int(a), int(b)) for a, b in gaps]
        self.silence = float(silence)
        for a, b in self.gaps:
            if not 0 <= a < b <= self.length:
                raise ValueError(f"gap [{a}, {b}) lies outside the signal of {self.length} samples")

    def gap_mask(self):
        """(length,) bool: True inside a gap."""
        mask = torch.zeros(self.length, dtype=torch.bool)
        for a, b in self.gaps:
            mask[a:b] = True
        return mask

    def initial_state(self, generator):
        x = self.observed.clone().unsqueeze(0)
        x[0, self.gap_mask()] = self.silence
        return x

    def movable(self):
        return self.gap_mask().unsqueeze(0)

    def movable_span(self):
        return min(a for a, _ in self.gaps), max(b for _, b in self.gaps)


DETAILS = """\
<checkpoint> is the prior's folder: one checkpoints<sigma>/ folder per level, or one
noise-conditional checkpoint_latest_ema.pth. Gaps given with --gap or --gaps-file are
silenced in the input first (for measuring on a clean file: run.json compares the output
with the input); gaps found with --find-dropouts are silent already (a real recording:
run.json lists them but has no reference to measure against). Overlapping gaps are joined.
The fill in out.wav is low-passed to the band the recording can have: by default, when the
input file's own rate is below the preset's, to half of it (a 16 kHz recording has nothing
above 8 kHz, while the prior would fill the gap with hiss there); the out_<sigma>.wav files
keep the chain's state as sampled."""

OPTIONS = """\
  --gap=<start,end>      A gap to inpaint, in seconds; repeat for several (default: GAP).
  --gaps-file=<file>     Also inpaint the gaps listed in this text file, one "start end" in
                         seconds per line ("#" starts a comment).
  --find-dropouts=<ms>   Also inpaint every run of exact digital silence (samples equal to
                         0) at least this many milliseconds long.
  --fill-band=<hz>       Low-pass the fill to this band edge in Hz (e.g. 8000 for a recording
                         made at 16 kHz and resampled); auto: half the input file's rate when
                         below the preset's; none: the fill as sampled (default: FILL_BAND).
"""


def resolve(args, constants):
    """The task's own values: the default gap (GAP, seconds) used when no gap is given, and the
    fill's band limit (--fill-band over FILL_BAND: "auto", None or Hz; see
    :func:`~wavenet_vocoder.band.fill_band_hz`)."""
    band = pick(args, "--fill-band", constants, "FILL_BAND")
    return {"default_gap": tuple(constants["GAP"]), "fill_band": parse_fill_band(str(band))}


def check(settings, args):
    """Refuse a --fill-band at or above half the preset's sample rate (there is no band above it)."""
    check_fill_band(settings.task["fill_band"], settings.hparams.sample_rate)


def collect_gaps(args, settings, clean, file_rate):
    """(merged gaps as sample spans, whether any was found as digital silence) from the flags;
    ``file_rate``: the input file's own sample rate (Hz), where dropouts are looked for."""
    sample_rate = settings.hparams.sample_rate
    gaps, found = [], False
    for text in args["--gap"]:
        gaps.append(parse_gap(text, clean.size, sample_rate))
    if args["--gaps-file"]:
        gaps += read_gaps_file(args["--gaps-file"], clean.size, sample_rate)
    if args["--find-dropouts"] is not None:
        ms = parse_float(args["--find-dropouts"], "--find-dropouts")
        if file_rate == sample_rate:
            dropouts = find_dropouts(clean, sample_rate, ms)
        else:
            # resampling smears a run of zeros into tiny values: find the runs in the file at its own rate
            native = load_audio(args["<input-file>"], file_rate, normalize=False)
            dropouts = rescale_gaps(find_dropouts(native, file_rate, ms), file_rate, sample_rate, clean.size)
        if not dropouts:
            raise PnfError(f"--find-dropouts={ms:g}: {args['<input-file>']} has no run of digital silence "
                           f"of {ms:g} ms or more: nothing to inpaint")
        gaps += dropouts
        found = True
    if not gaps:
        gaps.append(parse_gap(settings.task["default_gap"], clean.size, sample_rate, source="GAP"))
    return merge_gaps(gaps), found


def jobs(args, settings):
    """One job: the input with its gaps silenced (or found), the gaps sampled back."""
    hp, path = settings.hparams, args["<input-file>"]
    clean = load_input(path, settings)
    file_rate = audio_rate(path)
    gaps, found = collect_gaps(args, settings, clean, file_rate)
    band = fill_band_hz(settings.task["fill_band"], file_rate, hp.sample_rate)
    observed = quantize(clean, hp.input_type, hp.quantize_channels)
    silence = silence_units(hp.quantize_channels)
    mask = Inpainting(observed, gaps, silence=silence).gap_mask().numpy()
    degraded = clean.copy()
    degraded[mask] = dequantize(silence, hp.input_type, hp.quantize_channels)

    estimate = None
    if settings.sampler.init == "baseline":            # LPC extrapolation from both sides of each gap
        filled = clean.astype(np.float64)
        for a, b in gaps:
            filled = inpaint_lpc(filled, a, b)
        estimate = to_units(torch.as_tensor(filled), hp.input_type, hp.quantize_channels).numpy()

    def make_task(start, end):
        inside = [(max(a, start) - start, min(b, end) - start) for a, b in gaps if a < end and b > start]
        if not inside:
            return None
        return Inpainting(observed[start:end], inside, silence=silence,
                          estimate=None if estimate is None else estimate[start:end])

    def outputs(state, start, end):
        # Outside the gaps the input is returned bit for bit, not through the quantiser.
        y = clean[start:end].astype(np.float64)
        if state is not None:
            inside = mask[start:end]
            y[inside] = dequantize(state[0, inside], hp.input_type, hp.quantize_channels)
        return {"out": y}

    def finish(joined, seconds):
        estimate = joined["out"]
        sr = hp.sample_rate
        if band is not None:
            estimate = limit_fill_band(estimate, mask, band, sr)
        listed = [{"samples": [a, b], "seconds": [a / sr, b / sr]} for a, b in gaps]
        extra = {"gaps": listed, "found_dropouts": found, "samples": int(clean.size), "fill_band_hz": band}
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
        panels = ([("input, dropouts marked", clean)] if found else
                  [("original", clean), ("input: gaps silenced", degraded)])
        return JobResult(wavs={"out.wav": estimate}, panels=panels + [("PnF output", estimate)],
                         marks={"gaps": gaps}, metrics=metrics, extra=extra)

    # A cut never falls within a receptive field of a gap: each gap keeps its context on both sides.
    field = hp.receptive_field
    yield Job(args["<output-dir>"], [path] + ([args["--gaps-file"]] if args["--gaps-file"] else []), clean.size,
              make_task, outputs, finish, before={"x_original.wav": clean, "x_modified.wav": degraded},
              keep_clear=[(a - field, b + field) for a, b in gaps])


COMMAND = TaskCommand(
    name="inpainting",
    script="sgld_inpainting.py",
    summary="Inpainting: silence GAP in <input-file> and sample it back.",
    usage=("<checkpoint> <input-file> <output-dir> [--gap=<start,end>]... [options]",),
    details=DETAILS,
    options=OPTIONS,
    priors=("<checkpoint>",),
    many="<input-file>",
    constants={"GAP": None, "FILL_BAND": "--fill-band"},
    resolve=resolve,
    check=check,
    jobs=jobs,
)

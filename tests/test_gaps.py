"""Gap lists: parsing, files, dropout detection and merging, in samples."""
import numpy as np
import pytest
import scipy.signal

from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.gaps import find_dropouts, merge_gaps, parse_gap, read_gaps_file, rescale_gaps


def test_parse_gap_rounds_seconds_to_samples_and_checks_the_range():
    assert parse_gap("0.5,0.6", 44100, 22050) == (11025, 13230)
    assert parse_gap("0.5 0.6", 44100, 22050) == (11025, 13230)
    with pytest.raises(PnfError, match="lies outside the input"):
        parse_gap("1.9,2.1", 44100, 22050)
    with pytest.raises(PnfError, match="lies outside the input"):
        parse_gap("0.6,0.5", 44100, 22050)


def test_dropouts_are_runs_of_exact_zeros_at_least_the_asked_length():
    x = np.ones(100)
    x[0:10] = 0          # at the start
    x[30:34] = 0         # too short
    x[50:60] = 0.0
    x[95:] = 0           # at the end, 5 samples
    assert find_dropouts(x, 1000, 5) == [(0, 10), (50, 60), (95, 100)]
    assert find_dropouts(x, 1000, 6) == [(0, 10), (50, 60)]
    x[55] = 1e-9         # not digital silence
    assert find_dropouts(x, 1000, 6) == [(0, 10)]


def test_gaps_found_at_one_rate_cover_the_same_time_at_another():
    # 16 kHz -> 22.05 kHz: 1600 * 1.378125 = 2205 exactly, 1601 * 1.378125 = 2206.38 -> 2207 (widened)
    assert rescale_gaps([(1600, 1920), (1601, 1700)], 16000, 22050, 10000) == [(2205, 2646), (2206, 2343)]
    # cut to the (cropped) signal's length; a span wholly beyond it is dropped
    assert rescale_gaps([(100, 300), (800, 900)], 16000, 22050, 300) == [(137, 300)]


def test_merge_joins_overlapping_and_touching_gaps():
    assert merge_gaps([(50, 60), (0, 10), (5, 20), (20, 25), (70, 80)]) == [(0, 25), (50, 60), (70, 80)]


def test_gaps_file_names_the_bad_line(tmp_path):
    path = tmp_path / "gaps.txt"
    path.write_text("0.1 0.2  # first\n\n0.3,0.4\n")
    assert read_gaps_file(str(path), 22050, 22050) == [(2205, 4410), (6615, 8820)]
    path.write_text("# nothing\n")
    with pytest.raises(PnfError, match="lists no gap"):
        read_gaps_file(str(path), 22050, 22050)
    with pytest.raises(PnfError, match="cannot read it"):
        read_gaps_file(str(tmp_path / "missing.txt"), 22050, 22050)

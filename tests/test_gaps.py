"""Gap lists: parsing, files, dropout detection and merging, in samples; the band a fill keeps."""
import numpy as np
import pytest
import scipy.signal

from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.gaps import (fill_band_filter, fill_band_hz, find_dropouts, limit_fill_band, merge_gaps,
                                  parse_fill_band, parse_gap, read_gaps_file, rescale_gaps)


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


@pytest.mark.parametrize("edge, rate", [(8000, 22050), (4000, 22050), (8000, 44100), (500, 16000)])
def test_fill_band_filter_passes_the_band_and_stops_above_its_edge(edge, rate):
    taps = fill_band_filter(edge, rate)
    assert taps.size % 2 == 1 and np.allclose(taps, taps[::-1])         # odd and symmetric: zero phase once centred
    freqs, response = scipy.signal.freqz(taps, worN=1 << 15, fs=rate)
    gain_db = 20 * np.log10(np.abs(response) + 1e-300)
    transition = min(250, edge / 2)
    assert np.abs(gain_db[freqs <= edge - transition]).max() < 0.01     # the band: within 0.01 dB
    assert gain_db[freqs >= edge].max() < -78                           # above the edge: about -80 dB
    with pytest.raises(ValueError, match="must lie between 0 and"):
        fill_band_filter(rate / 2, rate)


def test_limit_fill_band_removes_the_upper_band_inside_the_gaps_only():
    rate = 22050
    t = np.arange(rate) / rate
    low, high = np.sin(2 * np.pi * 1000 * t), 0.3 * np.sin(2 * np.pi * 9000 * t)
    gaps = [(5000, 6100), (15000, 15500)]
    out = limit_fill_band(low + high, gaps, 8000, rate)
    inside = np.zeros(rate, dtype=bool)
    for a, b in gaps:
        inside[a:b] = True
    np.testing.assert_array_equal(out[~inside], (low + high)[~inside])  # the context, bit for bit
    np.testing.assert_allclose(out[inside], low[inside], atol=1e-4)     # the 9 kHz tone gone (-80 dB), 1 kHz kept
    # a gap at the very start: the signal is continued point-symmetrically beyond its ends
    start = limit_fill_band(low + high, [(0, 300)], 8000, rate)
    np.testing.assert_allclose(start[:300], low[:300], atol=1e-3)


def test_fill_band_flag_values():
    assert parse_fill_band("auto") == "auto" and parse_fill_band("None") is None
    assert parse_fill_band("8000") == 8000.0 and parse_fill_band("7.5e3") == 7500.0
    for bad in ("-1", "0", "nan", "inf", "8 kHz"):
        with pytest.raises(PnfError, match=f"--fill-band={bad}: expected a frequency in Hz above 0"):
            parse_fill_band(bad)
    # auto: half the file's own rate where it is below the rate sampled at; else no limit
    assert fill_band_hz("auto", 16000, 22050) == 8000
    assert fill_band_hz("auto", 22050, 22050) is None and fill_band_hz("auto", 44100, 22050) is None
    assert fill_band_hz(7000.0, 44100, 22050) == 7000.0 and fill_band_hz(None, 16000, 22050) is None

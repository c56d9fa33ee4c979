"""The band a fill keeps: the --fill-band values, the low-pass and where it applies (samples, Hz)."""
import re

import numpy as np
import pytest
import scipy.signal

from wavenet_vocoder.band import (FILL_BAND_MAX_PASSES, check_fill_band, fill_band_filter, fill_band_hz, limit_fill_band,
                                  limit_source_bands, low_pass, parse_fill_band, parse_source_bands)
from wavenet_vocoder.errors import PnfError


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


def test_limit_fill_band_removes_the_upper_band_from_the_filled_samples_only():
    rate = 22050
    t = np.arange(rate) / rate
    low, high = np.sin(2 * np.pi * 1000 * t), 0.3 * np.sin(2 * np.pi * 9000 * t)
    inside = np.zeros(rate, dtype=bool)
    inside[5000:6100] = inside[15000:15500] = True                      # two gaps
    out = limit_fill_band(low + high, inside, 8000, rate)
    np.testing.assert_array_equal(out[~inside], (low + high)[~inside])  # the context, bit for bit
    np.testing.assert_allclose(out[inside], low[inside], atol=1e-4)     # the 9 kHz tone gone (-80 dB), 1 kHz kept
    # a gap at the very start: the signal is continued point-symmetrically beyond its ends
    first = np.zeros(rate, dtype=bool)
    first[:300] = True
    np.testing.assert_allclose(limit_fill_band(low + high, first, 8000, rate)[:300], low[:300], atol=1e-3)
    # super-resolution's fill: every sample but each 4th, which stays as observed (a recording without
    # the band); the fill carries hiss above 8 kHz. One pass leaves the hiss's leak into the kept samples
    # above the edge, as a spike train where they are put back; passes to convergence remove it.
    kept = np.zeros(rate, dtype=bool)
    kept[::4] = True
    hissy = np.where(kept, low, low + high)
    one = limit_fill_band(hissy, ~kept, 8000, rate)
    out = limit_fill_band(hissy, ~kept, 8000, rate, passes=FILL_BAND_MAX_PASSES)
    np.testing.assert_array_equal(out[kept], low[kept])
    inner = slice(1000, rate - 1000)  # (the signal's end is no zero crossing: odd reflection there leaves a kink)
    np.testing.assert_allclose(out[inner], low[inner], atol=1e-4)
    assert np.abs(one[inner] - low[inner]).max() > 1e-2

    def above(y):                     # energy above the edge, relative to the 1 kHz tone's
        spectrum = np.abs(np.fft.rfft(y[inner] * np.hanning(rate - 2000))) ** 2
        freqs = np.fft.rfftfreq(rate - 2000, 1 / rate)
        return spectrum[freqs > 8250].sum() / spectrum.sum()
    assert above(out) < 1e-8 < 1e-4 < above(one)
    with pytest.raises(ValueError, match="mask of filled samples has shape"):
        limit_fill_band(low, kept[:-1], 8000, rate)


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
    # an edge in Hz must lie below half the rate sampled at; auto and none always pass
    for fine in ("auto", None, 11024.0):
        check_fill_band(fine, 22050)
    with pytest.raises(PnfError, match="--fill-band=11025 Hz is not below half the preset's sample rate"):
        check_fill_band(11025.0, 22050)


def test_separated_sources_keep_their_bands_and_their_sum():
    rate = 22050
    t = np.arange(4410) / rate
    inside = slice(fill_band_filter(8000, rate).size, -fill_band_filter(8000, rate).size)   # clear of the ends
    rng = np.random.default_rng(0)
    piano, voice = 0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 300 * t)
    hiss = limit_fill_band(rng.standard_normal(t.size), np.ones(t.size, bool), 10000, rate) * 0.05
    hiss -= low_pass(hiss, 9000, rate)                  # hiss between 9 and 10 kHz, equal and opposite
    sampled = np.stack([piano + hiss, voice - hiss])
    # one edge each: the voice (8 kHz) loses the hiss, the piano (no limit) takes back what it lost
    out = limit_source_bands(sampled, (None, 8000.0), rate)
    np.testing.assert_allclose(out.sum(axis=0), sampled.sum(axis=0), atol=1e-12)
    assert np.abs(hiss).max() > 0.03
    np.testing.assert_allclose(out[1][inside], voice[inside], atol=1e-5)
    np.testing.assert_allclose(out[0][inside], piano[inside], atol=1e-5)
    # one edge for both: both lose the hiss, equal and opposite, so the sum is the same
    both = limit_source_bands(sampled, (8000.0, 8000.0), rate)
    np.testing.assert_allclose(both[:, inside], np.stack([piano, voice])[:, inside], atol=1e-5)
    np.testing.assert_allclose(both.sum(axis=0), sampled.sum(axis=0), atol=1e-12)
    # no limit: unchanged
    np.testing.assert_array_equal(limit_source_bands(sampled, (None, None), rate), sampled)


def test_separated_sources_with_two_edges_hand_the_band_between_them_to_the_wider_source():
    rate = 22050
    t = np.arange(4410) / rate
    inside = slice(fill_band_filter(6000, rate).size, -fill_band_filter(6000, rate).size)
    low, mid = 0.4 * np.sin(2 * np.pi * 500 * t), 0.2 * np.sin(2 * np.pi * 8000 * t)
    for bands, wide in (((10000.0, 6000.0), 0), ((6000.0, 10000.0), 1)):
        sampled = np.stack([low, mid] if wide == 0 else [mid, low])   # the 8 kHz tone in the narrower source
        out = limit_source_bands(sampled, bands, rate)
        np.testing.assert_allclose(out.sum(axis=0), sampled.sum(axis=0), atol=1e-12)
        # the narrow source keeps nothing above its edge, the wide one gets the 8 kHz tone
        np.testing.assert_allclose(out[1 - wide][inside], 0, atol=1e-5)
        np.testing.assert_allclose(out[wide][inside], (low + mid)[inside], atol=1e-5)
    with pytest.raises(ValueError, match="two sources"):
        limit_source_bands(np.stack([low]), (None, None), rate)

def test_separation_fill_band_flag_values():
    assert parse_source_bands("auto") == ("auto", "auto") and parse_source_bands("8000") == (8000.0, 8000.0)
    assert parse_source_bands("none,8000") == (None, 8000.0) and parse_source_bands(" 6e3 , auto") == (6000.0, "auto")
    for bad, message in (("1,2,3", "give one band edge for both sources or two"),
                         ("x,8000", "'x' is not a frequency in Hz above 0"), ("8000,", "'' is not a frequency"),
                         ("-5", "--fill-band=-5: expected a frequency in Hz above 0")):
        with pytest.raises(PnfError, match=re.escape(message)):
            parse_source_bands(bad)

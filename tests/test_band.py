"""The band a fill keeps: the --fill-band values, the low-pass and where it applies (samples, Hz)."""
import numpy as np
import pytest
import scipy.signal

from wavenet_vocoder.band import (FILL_BAND_MAX_PASSES, check_fill_band, fill_band_filter, fill_band_hz, limit_fill_band,
                                  parse_fill_band)
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

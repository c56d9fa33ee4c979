import os

import librosa
import numpy as np
import pytest
import soundfile as sf

from wavenet_vocoder.audio import WavStream, load_audio, logmelspectrogram, save_wav, trim_silence
from wavenet_vocoder.errors import AudioError
from wavenet_vocoder.hparams import default_hparams


def test_load_audio_mixes_down_resamples_and_normalises(tmp_path):
    t = np.arange(44100) / 44100
    left = 0.3 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([left, left], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, 44100, subtype="FLOAT")
    x = load_audio(path, 22050)
    assert x.shape == (22050,) and x.dtype == np.float32
    assert abs(np.max(np.abs(x)) - 1.0) < 1e-6  # float32 rounding of the scaled peak
    # The tone is still a 440 Hz tone after resampling.
    spectrum = np.abs(np.fft.rfft(x))
    assert abs(np.argmax(spectrum) * 22050 / len(x) - 440) < 2


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"), (b"garbage", "cannot read"), ("empty", "is empty"), ("silent", "is silent")])
def test_load_audio_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "in.wav"
    if content == "empty":
        sf.write(path, np.zeros(0), 22050)
    elif content == "silent":
        sf.write(path, np.zeros(100), 22050)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioError, match=message) as err:
        load_audio(path, 22050)
    assert str(path) in str(err.value)


def test_save_wav_is_atomic_and_refuses_nan(tmp_path):
    path = tmp_path / "out.wav"
    save_wav(path, np.array([0.0, 0.5, -2.0]), 22050)
    data, rate = sf.read(path)
    assert rate == 22050
    np.testing.assert_allclose(data, [0.0, 0.5, -1.0], atol=1 / 32768)  # one 16-bit step
    with pytest.raises(ValueError, match="NaN"):
        save_wav(path, np.array([0.0, np.nan]), 22050)
    np.testing.assert_allclose(sf.read(path)[0], data)          # the old file is intact
    assert sorted(os.listdir(tmp_path)) == ["out.wav"]           # no temporary left behind


def test_logmelspectrogram_matches_direct_computation():
    hp = default_hparams()
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 5000).astype(np.float32)
    mel = logmelspectrogram(x, hp)
    assert mel.shape == (1 + 5000 // 256, 80) and mel.dtype == np.float32
    # Direct: hann-windowed frames of the reflect-padded signal, |rfft|, mel basis, log10.
    padded = np.pad(x, 512, mode="reflect")
    window = np.hanning(1025)[:-1]                                # periodic hann of length 1024
    frames = np.stack([padded[i * 256:i * 256 + 1024] * window for i in range(mel.shape[0])])
    magnitude = np.abs(np.fft.rfft(frames, axis=1))
    basis = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=125, fmax=7600)
    expected = np.log10(np.maximum(magnitude @ basis.T, 1e-10))
    np.testing.assert_allclose(mel, expected, atol=1e-3)  # log10 units: librosa's float32 STFT against float64


def test_trim_silence():
    x = np.concatenate([np.zeros(3000), np.ones(1000) * 0.5, np.zeros(3000)]).astype(np.float32)
    trimmed = trim_silence(x)
    assert 1000 <= len(trimmed) < len(x) - 2000             # librosa trims in frames of 512 samples
    assert np.count_nonzero(trimmed) == 1000


def test_a_streamed_wav_equals_the_whole_and_appears_only_when_closed(tmp_path):
    x = 0.8 * np.sin(np.arange(5000) / 7.0)
    stream = WavStream(tmp_path / "s.wav", 22050)
    for block in np.array_split(x, 7):
        stream.write(block)
    assert not (tmp_path / "s.wav").exists()
    stream.close()
    save_wav(tmp_path / "w.wav", x, 22050)
    assert (tmp_path / "s.wav").read_bytes() == (tmp_path / "w.wav").read_bytes()
    broken = WavStream(tmp_path / "n.wav", 22050)
    broken.write(x[:100])
    with pytest.raises(ValueError, match="NaN"):
        broken.write(np.array([0.1, np.nan]))
    assert sorted(os.listdir(tmp_path)) == ["s.wav", "w.wav"]           # no file, no temporary left

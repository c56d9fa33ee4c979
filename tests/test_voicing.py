"""Voiced frames judged from the mel frames alone, and the per-sample temperatures of --voiced-temperature."""
import numpy as np
import pytest

from conftest import tiny_hparams
from wavenet_vocoder.voicing import sample_temperatures, voiced_mel_frames, voiced_normalised_frames


def test_voiced_frames_are_loud_frames_with_most_of_their_energy_below_1_khz():
    hp = tiny_hparams(conditional=True)                 # 5 mel bands, 125..7600 Hz: one centred below 1 kHz
    log_mel = np.full((5, 5), -3.0)                     # log10 magnitudes, frames x bands
    log_mel[0, 0] = 0.0                                 # a loud low frame: voiced
    log_mel[1, 4] = 0.0                                 # a loud high frame (a fricative): not voiced
    log_mel[2, 0] = -1.0                                # low, 20 dB below the loudest: voiced
    log_mel[3, 0] = -2.0                                # low, but 40 dB below the loudest: not voiced
    log_mel[4, :] = -0.5                                # loud but spread evenly: most energy above 1 kHz
    assert voiced_mel_frames(log_mel, hp).tolist() == [True, False, True, False, False]
    assert not voiced_mel_frames(np.full((2, 5), -np.inf), hp).any()        # silence
    # the rule's numbers as arguments: a wider range takes the frame 40 dB down; an edge above the second
    # band's centre (1 kHz < it < 2 kHz) makes the even frame's low share 2/5, enough at a share of 0.4
    assert voiced_mel_frames(log_mel, hp, range_db=45).tolist() == [True, False, True, True, False]
    assert voiced_mel_frames(log_mel, hp, low_hz=2000, low_share=0.4).tolist() == [True, False, True, False, True]
    # each frame's temperature on its hop_size samples; the features are normalised with meanvar
    meanvar = np.stack([np.full(5, -1.0), np.full(5, 4.0)])                      # mean -1, scale 2
    normalised = ((log_mel + 1.0) / 2.0).T
    voiced = voiced_normalised_frames(normalised, hp, meanvar)
    assert voiced.tolist() == [True, False, True, False, False]
    temperatures = sample_temperatures(voiced, hp.hop_size, 0.25, 0.8)
    assert temperatures.dtype == np.float32
    assert temperatures.tolist() == pytest.approx(np.repeat([0.25, 0.8, 0.25, 0.8, 0.8], hp.hop_size).tolist())


def test_voicing_rule_benchmark_agrees_with_the_recordings_periodicity_on_a_vowel_and_a_hiss(tmp_path, capsys):
    import os
    import runpy

    import soundfile as sf
    from conftest import REPO

    bench = runpy.run_path(os.path.join(REPO, "benchmarks", "voicing_rule.py"), run_name="voicing_rule")
    rate = 22050
    t = np.arange(rate) / rate
    vowel = sum(np.sin(2 * np.pi * 140 * k * t) / k ** 2 for k in range(1, 20))       # energy low: voiced
    rng = np.random.default_rng(0)
    hiss = np.diff(rng.standard_normal(rate + 1))                                     # energy high: not voiced
    sf.write(tmp_path / "a.wav", np.concatenate([vowel / np.abs(vowel).max(), 0.5 * hiss / np.abs(hiss).max()]), rate)
    sf.write(tmp_path / "b.wav", vowel / np.abs(vowel).max(), rate)
    preset = f"--preset={os.path.join(REPO, 'egs', 'pnf_real', 'mel_voice.json')}"

    def table(*argv):
        assert bench["main"](list(argv) + [preset]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].startswith("| audio | frames | voiced (recording) | voiced (rule) | agreement |")
        return {line.split("|")[1].strip(): [float(v) if v.strip() != "-" else None for v in line.split("|")[2:-1]]
                for line in lines[2:]}

    rows = table(str(tmp_path / "a.wav"), str(tmp_path / "b.wav"))
    assert set(rows) == {"a.wav", "b.wav", "all"}
    frames, recording, rule, agreement, recall, precision = rows["a.wav"]
    assert frames == 1 + 2 * rate // 256 and recording == pytest.approx(0.5, abs=0.03)
    assert rule == pytest.approx(0.5, abs=0.03) and agreement > 0.95 and recall > 0.95 and precision > 0.95
    assert rows["b.wav"][1:] == [1.0, 1.0, 1.0, 1.0, 1.0]
    assert rows["all"][0] == frames + 1 + rate // 256
    # a folder and a pattern are one row each, their files' frames together; --max-files keeps some
    pattern = str(tmp_path / "*.wav")
    together = table(str(tmp_path), pattern)
    assert together["all"][0] == 2 * rows["all"][0] and together[pattern] == rows["all"]
    assert together[os.path.basename(str(tmp_path))] == rows["all"]
    assert table(pattern, "--max-files=1") == {pattern: rows["a.wav"]}
    # the rule's numbers: with every frame's energy required below 125 Hz nothing is voiced by it
    strict = table(str(tmp_path / "b.wav"), "--low-hz=125", "--low-share=1")["b.wav"]
    assert strict[:3] == [rows["b.wav"][0], 1.0, 0.0] and strict[4] == 0.0 and strict[5] is None
    with pytest.raises(SystemExit) as raised:
        bench["run"](bench["main"], [str(tmp_path / "b.wav"), "--low-share=1.5", preset])
    assert raised.value.code == 2 and "--low-share=1.5: give a share from 0 to 1" in capsys.readouterr().err

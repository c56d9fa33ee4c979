"""The README's "From Python" example runs as printed, and computes what pnf-superres computes."""
import os
import re

import numpy as np
import soundfile as sf

from conftest import REPO


def readme_snippet():
    """The python block of the README's "From Python" section."""
    text = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    section = text[text.index("### From Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_gives_what_pnf_superres_writes(tmp_path, monkeypatch, capsys):
    """Shortened (4096 samples, 2 steps) so that it takes seconds: the example's signal is the command's
    out.wav with the same settings (to the 16-bit file's step), kept samples as given, and it prints
    the line the README shows (its figures are the full excerpt's)."""
    code = readme_snippet()
    for full, short in (("[:22050]", "[:4096]"), ("n_steps=16", "n_steps=2")):
        assert code.count(full) == 1, f"the README's example no longer has {full}"
        code = code.replace(full, short)
    monkeypatch.chdir(REPO)
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    restored, clean = scope["restored"], scope["clean"]
    assert restored.shape == clean.shape == (4096,) and np.isfinite(restored).all()
    assert np.array_equal(restored[::4], clean[::4])
    printed = capsys.readouterr().out
    assert re.search(r"PnF -?\d+\.\d\d dB, LSD \d+\.\d\d; band-limited -?\d+\.\d\d dB, LSD \d+\.\d\d", printed)

    from wavenet_vocoder.pnf import sgld_superres
    out = tmp_path / "cli"
    sgld_superres.main(["egs/pnf_real/mulaw_piano", "egs/sample_piano.wav", str(out),
                        "--preset=egs/pnf_real/mulaw_piano.json", "--downsample_interval", "4", "--n-steps", "2",
                        "--schedule", "tiled", "--sample-size", "4096", "--no-progress"])
    written, _ = sf.read(out / "out.wav")
    assert np.abs(written - restored).max() <= 1.5 / 32768          # one step of the 16-bit file
    assert np.abs(written - scope["interpolated"]).max() > 100 / 32768    # and the sampler did move it

"""Ancestral WaveNet synthesis: draw audio sample by sample from one level's model.

Usage:
  synthesis.py <checkpoint> <output-dir> --preset=<json> [options]

<checkpoint> is a root folder with checkpoints<sigma>/ level folders (the level
is the one of the sigma flag, by default the lowest of the preset's schedule) or one
checkpoint file. Unconditional presets generate the length flag's number of samples;
mel-conditioned ones generate one output per *-feats.npy of the conditioning folder
(a dump_norm folder), as long as its frames.

Options:
  --preset=<json>        Preset file, e.g. egs/pnf_small/mel_voice.json.
  --hparams=<params>     Preset overrides "name=value,..." [default: ].
  --sigma=<s>            Level to sample from (default: the lowest sigma of the schedule).
  --conditioning=<dir>   Folder of normalised mel features (<name>-<i>-feats.npy).
  --length=<n>           Samples to generate without conditioning [default: 22050].
  --max-frames=<n>       Use at most n mel frames per utterance, -1 for all [default: -1].
  --temperature=<t>      Divide the logits by t before drawing (1: the model's own
                         distribution, lower: more conservative) [default: 1.0].
  --voiced-temperature=<t>  Divide the logits by t instead on the samples of the mel frames
                         that look voiced (as pnf-spectrogram's flag judges them, with the
                         prior's meanvar.npy beside its level folders); default: no split.
  --input-noise=<s>      Noise (quantised units) added to each drawn sample before it is fed
                         back; default: the level's sigma, the noise the model was trained on.
  --seed=<n>             Random seed [default: 0].
  --device=<dev>         cpu, cuda or cuda:N; default: cuda when available, else cpu.
  --no-progress          Hide the progress bar.
  -h, --help             Show this help.
"""
import os
import time

import torch
from tqdm import tqdm

from wavenet_vocoder.checkpoints import load_model, require_checkpoints
from wavenet_vocoder.cli import describe_device, parse_args, parse_float, parse_int, resolve_device, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.incremental import IncrementalWaveNet
from wavenet_vocoder.mel_dumps import find_utterances, load_mel
from wavenet_vocoder.outputs import OutputDir
from wavenet_vocoder.quantize import dequantize, silence_units
from wavenet_vocoder.voicing import sample_temperatures, voiced_normalised_frames, voicing_statistics


def ancestral_sample(model, length, c=None, temperature=1.0, input_noise=0.0, generator=None,
                     prime=None, progress=False, sigma=None):
    """Draw ``length`` samples from ``model`` one at a time; returns (length,) int64 classes.

    Each sample t is drawn from ``softmax(logits / temperature)`` (``temperature``: a number, or one
    per sample, all positive), the logits computed
    from the samples before it (the drawn class plus ``input_noise * N(0, 1)``, in quantised
    units, as the model saw noisy input in training).  ``prime``: (P,) quantised samples fed
    first as context (the samplers' noisy silence), their predictions discarded.
    ``c``: for a conditional model, (1, cin, N) mel frames with cin_pad context frames at
    each end covering ``length`` samples; sample t is drawn with the conditioning of
    position t - 1, as the smoothed likelihood scores it.  ``sigma``: the level a
    noise-conditional model is evaluated at (quantised units).
    """
    temperatures = torch.as_tensor(temperature, dtype=torch.float64).reshape(-1)
    if temperatures.numel() not in (1, length) or not bool((temperatures > 0).all()):
        raise ValueError(f"temperature must be positive, one number or one per sample ({length})")
    temperatures = temperatures.expand(length) if temperatures.numel() == 1 else temperatures
    device = next(model.parameters()).device
    net = IncrementalWaveNet(model, sigma)
    net.reset(1)
    upsampled = None
    if c is not None:
        with torch.no_grad():
            upsampled = model.upsample_conditioning(c.to(device, torch.float32))[0].t().contiguous()
        if upsampled.size(0) != length:
            raise ValueError(f"the mel frames cover {upsampled.size(0)} samples, not {length}")
    first_c = upsampled[:1] if upsampled is not None else None
    previous = torch.tensor([127.5], device=device)      # mid-scale if there is no prime
    for value in ([] if prime is None else prime):
        previous = torch.tensor([float(value)], device=device)
        net.step(previous, first_c)
    out = torch.empty(length, dtype=torch.long)
    noise = torch.randn(length, generator=generator) * input_noise
    uniform = torch.rand(length, generator=generator)
    bar = tqdm(total=length, unit="sample", unit_scale=True, disable=not progress, desc="synthesis")
    for t in range(length):
        c_t = upsampled[max(t - 1, 0)].unsqueeze(0) if upsampled is not None else None
        logits = net.step(previous, c_t)[0]
        cdf = torch.cumsum(torch.softmax(logits.double() / temperatures[t], dim=0), dim=0)
        k = int(torch.searchsorted(cdf, uniform[t].to(cdf) * cdf[-1]).clamp(max=logits.numel() - 1))
        out[t] = k
        previous = torch.tensor([k + float(noise[t])], device=device)
        bar.update(1)
    bar.close()
    return out


def _noisy_silence(hp, length, sigma, generator):
    """``length`` samples of quantised silence plus ``sigma * N(0, 1)``: the samplers' left context."""
    silence = silence_units(hp.quantize_channels)
    return (silence + sigma * torch.randn(length, generator=generator)).tolist()


def main(argv=None):
    args = parse_args(__doc__, argv)
    hp = load_preset(args["--preset"], args["--hparams"] or "")
    device = resolve_device(args["--device"])
    sigma = parse_float(args["--sigma"], "--sigma") if args["--sigma"] else min(hp.sigmas)
    checkpoint = args["<checkpoint>"]
    if os.path.isdir(checkpoint):
        (checkpoint,) = require_checkpoints(checkpoint, hp, [sigma])
    elif not os.path.isfile(checkpoint):
        raise PnfError(f"<checkpoint> {checkpoint} is neither a level root folder nor a checkpoint file")
    temperature = parse_float(args["--temperature"], "--temperature")
    voiced_temperature = None
    if args["--voiced-temperature"] is not None:
        voiced_temperature = parse_float(args["--voiced-temperature"], "--voiced-temperature")
    input_noise = (parse_float(args["--input-noise"], "--input-noise", positive=False)
                   if args["--input-noise"] is not None else sigma)
    if input_noise < 0:
        raise PnfError(f"--input-noise={input_noise} must not be negative")
    seed = parse_int(args["--seed"], "--seed", 0)
    conditioning = args["--conditioning"]
    if conditioning and hp.cin_channels <= 0:
        raise PnfError("--conditioning needs a mel-conditioned preset (cin_channels > 0)")
    if not conditioning and hp.cin_channels > 0:
        raise PnfError("this preset is mel-conditioned: pass --conditioning=<dump_norm folder>")
    meanvar = None
    if voiced_temperature is not None:
        if not conditioning:
            raise PnfError("--voiced-temperature judges voicing from mel frames: pass --conditioning=<dump_norm folder>")
        meanvar = voicing_statistics(args["<checkpoint>"] if os.path.isdir(args["<checkpoint>"])
                                     else os.path.dirname(os.path.abspath(args["<checkpoint>"])))
    model = load_model(checkpoint, hp, device)
    print(f"synthesis on {describe_device(device)} from {checkpoint} (sigma {sigma:g})")
    jobs = []
    if conditioning:
        max_frames = parse_int(args["--max-frames"], "--max-frames", -1)
        utterances = find_utterances(conditioning)
        for name, feats, wave in utterances:
            mel = load_mel(feats, hp.cin_channels, max_frames, hp.cin_pad)
            folder = args["<output-dir>"] if len(utterances) == 1 else os.path.join(args["<output-dir>"], name)
            temperatures = temperature
            if voiced_temperature is not None:
                voiced = voiced_normalised_frames(mel[:, hp.cin_pad:mel.shape[1] - hp.cin_pad], hp, meanvar)
                temperatures = sample_temperatures(voiced, hp.hop_size, voiced_temperature, temperature)
            jobs.append((folder, name, torch.from_numpy(mel).unsqueeze(0), (mel.shape[1] - 2 * hp.cin_pad) * hp.hop_size,
                         [feats] + ([wave] if wave else []), temperatures))
    else:
        jobs.append((args["<output-dir>"], "unconditional", None, parse_int(args["--length"], "--length", 1), [],
                     temperature))
    for folder, name, mel, length, inputs, temperatures in jobs:
        generator = torch.Generator().manual_seed(seed)
        prime = _noisy_silence(hp, model.receptive_field, input_noise, generator)
        started = time.perf_counter()
        classes = ancestral_sample(model, length, mel, temperatures, input_noise, generator, prime,
                                   progress=not args["--no-progress"], sigma=sigma)
        seconds = time.perf_counter() - started
        out = OutputDir(folder, hp.sample_rate, inputs=inputs)
        out.wav("out.wav", dequantize(classes.numpy(), hp.input_type, hp.quantize_channels))
        out.json("run.json", {"task": "synthesis", "utterance": name, "checkpoint": checkpoint, "sigma": sigma,
                              "temperature": temperature, "voiced_temperature": voiced_temperature,
                              "input_noise": input_noise, "seed": seed,
                              "device": describe_device(device), "samples": length, "seconds": seconds,
                              "samples_per_second": length / seconds})
        print(f"{name}: {length} samples in {seconds:.1f} s ({length / seconds:.0f} samples/s) -> {folder}")
    return 0


def cli():
    run(main)


if __name__ == "__main__":
    cli()

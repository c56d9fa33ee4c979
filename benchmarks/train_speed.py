"""How fast does a prior train, and does mixed precision keep the loss? float32 against bfloat16 autocast, side by side.

Usage:
  train_speed.py [options]

Measures, in one run on one device, for each preset and each training precision
(``pnf-train --precision``), with a per-level model and with a noise-conditional one:
- training throughput: crop samples per second of full training steps (forward,
  backward, Adam and the EMA update, as pnf-train runs them), the median of --repeats
  timed blocks of --steps steps after one warm-up step;
- for the first preset only, whether the precision keeps the loss curve: --loss-steps
  steps from the same initial weights and crops for each of --seeds seeds, then the
  mean loss on pnf-train's dev set (32 fixed held-out crops); bfloat16 keeps the curve
  when its mean is within the seed-to-seed spread of float32's (the noise of the measurement).
With --compile each throughput row is measured a second time with the training step compiled
(``pnf-train --compile``, torch.compile), side by side; its first step, which compiles, is
reported apart (first_step_seconds, as for every row) and left out of the rate.

Crops come from --data (a pnf-preprocess dump folder with train/ and dev/) or, without it,
from a synthesised quantised signal (decaying tones plus noise, seeded).

Options:
  --presets=<list>       Comma-separated presets [default: egs/pnf_small/mulaw_piano.json,egs/mulaw_maxaudio/config.json].
  --precisions=<list>    Training precisions to compare [default: fp32,bf16].
  --data=<dump-dir>      Dump folder to draw crops from; default: a synthesised signal.
  --steps=<n>            Timed steps per block [default: 3].
  --repeats=<n>          Timed blocks (the median is reported) [default: 3].
  --loss-steps=<n>       Steps of the loss comparison, 0 to skip it [default: 200].
  --seeds=<n>            Seeds of the loss comparison [default: 2].
  --batch-size=<n>       Crops per step; default: each preset's batch_size.
  --crop=<n>             Crop length in samples; default: each preset's max_time_steps.
  --sigma=<s>            Noise level of the per-level model, quantised units [default: 4.1].
  --compile              Also measure every row with the training step compiled (torch.compile).
  --device=<dev>         cpu, cuda or cuda:N; default: cuda when available, else cpu.
  --json                 Print one JSON object instead of the table.
  -h, --help             Show this help.
"""
import json
import os
import statistics
import tempfile
import time

import numpy as np
import torch

from wavenet_vocoder.cli import describe_device, parse_args, parse_float, parse_int, resolve_device, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.quantize import quantize
from wavenet_vocoder.train import TRAIN_PRECISIONS, DumpData, Trainer, dev_batches, sigma_sampler, step_generators


class SynthesisedData:
    """Crops of a seeded synthesised signal (decaying tones plus noise), quantised with the preset."""

    def __init__(self, hp, seconds=30.0, seed=0):
        rng = np.random.default_rng(seed)
        sr = hp.sample_rate
        signal = np.zeros(int(seconds * sr))
        for start in range(0, signal.size - sr, sr // 4):
            t = np.arange(sr) / sr
            freq = 110 * 2 ** (rng.integers(0, 36) / 12)
            signal[start:start + sr] += 0.3 * np.sin(2 * np.pi * freq * t) * np.exp(-3 * t)
        signal += 0.01 * rng.standard_normal(signal.size)
        signal /= np.abs(signal).max()
        self.wave = quantize(signal, hp.input_type, hp.quantize_channels).astype(np.int64)

    def crops(self, batch, length, generator, hop=None, cin_pad=0):
        starts = torch.randint(0, self.wave.size - length - 1, (batch,), generator=generator)
        return torch.from_numpy(np.stack([self.wave[s:s + length + 1] for s in starts.tolist()])), None


def crop_source(hp, data, part):
    if data is None:
        return SynthesisedData(hp, seed=0 if part == "train" else 1)
    return DumpData(os.path.join(data, part), conditional=False)


def make_trainer(hp, precision, noise_conditional, device, seed, folder, compiled=False):
    hp = hp.replace(noise_conditional=noise_conditional)
    return Trainer(hp, folder, device, seed=seed, precision=precision, compile=compiled)


def sigmas_of(hp, noise_conditional, sigma):
    """The noise level(s) a batch trains at: one level, or one per crop for a noise-conditional model."""
    return sigma_sampler(hp.sigmas, "loguniform") if noise_conditional else (lambda batch, gen: sigma)


def throughput(hp, precision, noise_conditional, data, args, folder, compiled=False):
    """(Median crop samples per second of --steps training steps, seconds of the first step)."""
    if compiled:
        torch._dynamo.reset()    # each row compiles afresh (not against another row's cache and its size limit)
    trainer = make_trainer(hp, precision, noise_conditional, args["device"], 0, folder, compiled)
    gen, noise_gen, sigma_gen = step_generators(trainer, 0)
    draw = sigmas_of(hp, noise_conditional, args["sigma"])
    batch, crop = args["batch"] or hp.batch_size, args["crop"] or hp.max_time_steps

    def steps(n):
        for _ in range(n):
            q, c = data.crops(batch, crop, gen)
            trainer.train_step(q, c, draw(batch, sigma_gen), noise_gen)
        if trainer.device.type == "cuda":
            torch.cuda.synchronize(trainer.device)

    started = time.perf_counter()
    steps(1)                     # warm-up; for a compiled step, the compilation
    first = time.perf_counter() - started
    rates = []
    for _ in range(args["repeats"]):
        started = time.perf_counter()
        steps(args["steps"])
        rates.append(args["steps"] * batch * crop / (time.perf_counter() - started))
    return statistics.median(rates), first


def final_loss(hp, precision, noise_conditional, train, dev, args, seed, folder):
    """Mean held-out loss (nats/sample) after --loss-steps steps from seed ``seed``."""
    trainer = make_trainer(hp, precision, noise_conditional, args["device"], seed, folder)
    gen, noise_gen, sigma_gen = step_generators(trainer, seed)
    draw = sigmas_of(hp, noise_conditional, args["sigma"])
    batch, crop = args["batch"] or hp.batch_size, args["crop"] or hp.max_time_steps
    for _ in range(args["loss_steps"]):
        q, c = train.crops(batch, crop, gen)
        trainer.train_step(q, c, draw(batch, sigma_gen), noise_gen)
    batches = dev_batches(hp, dev, batch, crop)    # pnf-train's dev set: the same crops and noise for every precision
    levels = list(hp.sigmas) if noise_conditional else [args["sigma"]]
    # Evaluated in float32 for both, so the comparison is of the weights each precision learnt.
    trainer.precision = "fp32"
    return statistics.mean(trainer.dev_loss(batches, s) for s in levels)


def measure(argv):
    options = parse_args(__doc__, argv)
    precisions = [p.strip() for p in options["--precisions"].split(",") if p.strip()]
    for p in precisions:
        if p not in TRAIN_PRECISIONS:
            raise PnfError(f"--precisions: {p!r} is not one of {', '.join(TRAIN_PRECISIONS)}")
    args = dict(device=resolve_device(options["--device"]), steps=parse_int(options["--steps"], "--steps", 1),
                repeats=parse_int(options["--repeats"], "--repeats", 1),
                loss_steps=parse_int(options["--loss-steps"], "--loss-steps", 0),
                seeds=parse_int(options["--seeds"], "--seeds", 1),
                batch=parse_int(options["--batch-size"], "--batch-size", 1) if options["--batch-size"] else None,
                crop=parse_int(options["--crop"], "--crop", 16) if options["--crop"] else None,
                sigma=parse_float(options["--sigma"], "--sigma"))
    presets = [p.strip() for p in options["--presets"].split(",") if p.strip()]
    result = {"device": describe_device(args["device"]), "threads": torch.get_num_threads(),
              "data": options["--data"] or "synthesised", "rows": [], "loss": []}
    with tempfile.TemporaryDirectory() as scratch:
        for i, preset in enumerate(presets):
            hp = load_preset(preset)
            if hp.cin_channels > 0:
                raise PnfError(f"--presets: {preset} is mel-conditioned; measure unconditional presets")
            train = crop_source(hp, options["--data"], "train")
            for noise_conditional in (False, True):
                for precision in precisions:
                    for compiled in (False, True) if options["--compile"] else (False,):
                        folder = os.path.join(scratch, f"{i}-{noise_conditional}-{precision}-{compiled}")
                        rate, first = throughput(hp, precision, noise_conditional, train, args, folder, compiled)
                        result["rows"].append(dict(preset=preset, noise_conditional=noise_conditional,
                                                   precision=precision, compiled=compiled, samples_per_s=rate,
                                                   first_step_seconds=first,
                                                   batch=args["batch"] or hp.batch_size,
                                                   crop=args["crop"] or hp.max_time_steps))
            if i == 0 and args["loss_steps"]:
                dev = crop_source(hp, options["--data"], "dev")
                for precision in precisions:
                    losses = [final_loss(hp, precision, False, train, dev, args, seed,
                                         os.path.join(scratch, f"loss-{precision}-{seed}"))
                              for seed in range(args["seeds"])]
                    result["loss"].append(dict(preset=preset, precision=precision, steps=args["loss_steps"],
                                               losses=losses, mean=statistics.mean(losses),
                                               spread=max(losses) - min(losses)))
    base = {(r["preset"], r["noise_conditional"]): r["samples_per_s"] for r in result["rows"]
            if r["precision"] == precisions[0] and not r["compiled"]}
    for r in result["rows"]:
        r["vs_" + precisions[0]] = r["samples_per_s"] / base[(r["preset"], r["noise_conditional"])]
    result["recommended"] = recommend(result, precisions)
    return result, options["--json"]


def recommend(result, precisions):
    """The faster precision whose loss is within the float32 seed spread, else fp32; None when this run
    cannot tell (no loss comparison, or float32 not measured beside the others)."""
    if "fp32" not in precisions or not result["loss"]:
        return None
    loss = {r["precision"]: r for r in result["loss"]}
    first = result["rows"][0]["preset"]
    speed = {r["precision"]: r["samples_per_s"] for r in result["rows"]
             if r["preset"] == first and not r["noise_conditional"] and not r["compiled"]}
    best = "fp32"
    for p in precisions:
        keeps = abs(loss[p]["mean"] - loss["fp32"]["mean"]) <= max(loss["fp32"]["spread"], 1e-3)
        if keeps and speed[p] > speed[best]:
            best = p
    return best


def format_table(r):
    lines = [f"device: {r['device']} ({r['threads']} threads); crops from {r['data']}", "",
             "| preset | model | precision | compiled | batch x crop | samples/s | vs first precision, not compiled | first step (s) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in r["rows"]:
        ratio = next(v for k, v in row.items() if k.startswith("vs_"))
        lines.append(f"| {os.path.basename(os.path.dirname(row['preset']))}/{os.path.basename(row['preset'])} | "
                     f"{'noise-conditional' if row['noise_conditional'] else 'per-level'} | {row['precision']} | "
                     f"{'torch.compile' if row['compiled'] else 'no'} | {row['batch']} x {row['crop']} | "
                     f"{row['samples_per_s']:.0f} | {ratio:.2f}x | {row['first_step_seconds']:.1f} |")
    if r["loss"]:
        lines += ["", "| preset | precision | steps | held-out loss per seed (nats/sample) | mean | spread |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for row in r["loss"]:
            lines.append(f"| {os.path.basename(row['preset'])} | {row['precision']} | {row['steps']} | "
                         + ", ".join(f"{v:.4f}" for v in row["losses"]) + f" | {row['mean']:.4f} | {row['spread']:.4f} |")
    lines += ["", f"recommended training precision: {r['recommended']}" if r["recommended"] else
              "no recommended training precision: it needs the loss comparison (--loss-steps above 0) "
              "and fp32 among --precisions"]
    return "\n".join(lines)


def main(argv=None):
    result, as_json = measure(argv)
    print(json.dumps(result, indent=2) if as_json else format_table(result))
    return 0


if __name__ == "__main__":
    run(main)

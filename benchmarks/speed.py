"""How fast are the Langevin gradient and ancestral synthesis? The plain formulation and the fast path, side by side.

Usage:
  speed.py [options]

Measures, in one run on one device:
- sample-updates per second of the engine's gradient (the smoothed log-likelihood of a
  batch of windows and its gradient with respect to the samples, one window of W targets
  scored with the receptive field as left context, as the sampler does) for the plain
  formulation (the model's weight-normalised convolutions, weight norm applied on every
  call, autograd; every position of the span computed) and for the fast path at each
  precision (wavenet_vocoder/fast_log_prob.py);
- the FLOP count of one sample-update of the preset (forward plus gradient to the input,
  matrix products only) and the rate each path achieves by that count, beside the rate
  this device multiplies large float32 and bfloat16 matrices at;
- the peak memory one gradient call adds (CUDA: allocator peak; CPU on Linux: the
  resident size's high-water mark, in a fresh process per path);
- each path's gradient against a float64 evaluation of the plain formulation,
  ||g - g64|| / ||g64||, the median (and the largest) over several inputs of a shorter
  window: where a ReLU of the head sits within rounding of zero, float32 and float64
  take different sides of the kink and that input's error jumps to about 1e-3 for any
  float32 path (the plain one included); the longer the window, the likelier such a
  kink, so the arithmetic's accuracy is measured on short windows and several inputs;
- ancestral synthesis, samples per second: a plain incremental loop (each layer's cached
  input taps through its weight-normalised weights, weight norm applied on every sample,
  the block finished by the module's own code) against the folded incremental step
  (wavenet_vocoder/incremental.py).

Random weights (seeded) unless --checkpoint gives a trained model of the preset. The
input is a quantised two-tone signal plus sigma * N(0, 1).

Options:
  --preset=<json>          Model preset [default: egs/mulaw_maxaudio/config.json].
  --checkpoint=<path>      A checkpoint of the preset to use instead of random weights.
  --window=<n>             Targets per window, W (SGLD_WINDOW) [default: 4000].
  --batch-size=<n>         Windows per call (BATCH_SIZE) [default: 1].
  --sigma=<s>              Noise level, quantised units [default: 1.0].
  --repeats=<n>            Timed calls per path (the median is reported) [default: 3].
  --error-inputs=<n>       Inputs (seeds) the gradient error is measured on [default: 5].
  --error-window=<n>       Targets per window in the error measurement [default: 1000].
  --ancestral-samples=<n>  Samples per ancestral measurement, 0 to skip [default: 200].
  --precisions=<list>      Fast-path precisions to measure (on a GPU the engine's fp32 path, the plain
                           convolutions in full float32, is measured too) [default: fp32,bf16].
  --no-memory              Skip the peak-memory measurement.
  --matmul-size=<n>        Side of the square matrices the device's matmul peak is measured on
                           [default: 2048].
  --device=<dev>           cpu, cuda or cuda:N; default: cuda when available, else cpu.
  --seed=<n>               Seed of the weights and the input [default: 0].
  --json                   Print one JSON object instead of the table.
  -h, --help               Show this help.
"""
import contextlib
import copy
import json
import math
import multiprocessing
import statistics
import time

import torch
import torch.nn.functional as F

from wavenet_vocoder.checkpoints import load_model
from wavenet_vocoder.cli import describe_device, parse_args, parse_float, parse_int, resolve_device, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.fast_log_prob import FastLogProb
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.incremental import IncrementalWaveNet
from wavenet_vocoder.pnf.langevin import full_float32
from wavenet_vocoder.pnf.priors import WindowLogProb
from wavenet_vocoder.wavenet import WaveNet


def flop_per_update(hp):
    """Multiply-add FLOPs (2 per MAC) of one sample-update: the forward of one position plus its input gradient.

    The gradient to the input (the weights are fixed) repeats every product of the
    forward once, transposed, so it is twice the forward; the first convolution (1 input
    channel) and elementwise work are left out.
    """
    per_layer = hp.residual_channels * hp.kernel_size * hp.gate_channels          # dilated conv
    per_layer += (hp.gate_channels // 2) * (hp.residual_channels + hp.skip_out_channels)   # out + skip
    if hp.cin_channels > 0:
        per_layer += hp.cin_channels * hp.gate_channels                          # conditioning (forward only)
    head = hp.skip_out_channels * hp.skip_out_channels + hp.skip_out_channels * hp.out_channels
    forward = 2 * (hp.layers * per_layer + head)
    backward = forward - (2 * hp.layers * hp.cin_channels * hp.gate_channels if hp.cin_channels > 0 else 0)
    return forward + backward


def build_model(hp, checkpoint, device, seed):
    if checkpoint:
        model = load_model(checkpoint, hp, device)
    else:
        torch.manual_seed(seed)
        model = WaveNet.from_hparams(hp).to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def make_spans(model, hp, window, batch, sigma, device, seed):
    """(B, 1, W + rf) spans of a quantised two-tone signal plus noise, and their conditioning or None."""
    generator = torch.Generator().manual_seed(seed)
    length = window + model.receptive_field
    t = torch.arange(batch * length, dtype=torch.float64) / hp.sample_rate
    tone = 0.4 * torch.sin(2 * math.pi * 220 * t) + 0.2 * torch.sin(2 * math.pi * 1375 * t)
    q = torch.round((tone + 1) / 2 * (hp.quantize_channels - 1))
    x = (q + sigma * torch.randn(q.shape, generator=generator, dtype=torch.float64)).float()
    c = None
    if model.is_conditional:
        c = torch.randn(batch, hp.cin_channels, length - 1, generator=generator)
        c = c.to(device)
    return x.view(batch, 1, length).to(device), c


def gradient(net, spans, sigma, c, first_term, name=None):
    """(gradient of the sum of the window terms w.r.t. the spans, number of terms).  Path "conv-fp32"
    runs in full float32 as the engine runs it on a GPU; the plain row keeps PyTorch's defaults."""
    spans = spans.detach().requires_grad_(True)
    exact = full_float32(spans.device) if name == "conv-fp32" else contextlib.nullcontext()
    with torch.enable_grad(), exact:
        terms = net(spans, sigma, c, first_term=first_term)
        (grad,) = torch.autograd.grad(terms.sum(), spans)
    return grad, terms.numel()


def executed_positions_per_target(model, name, window):
    """Positions per scored target that a path runs the layers at, averaged over layers (head excluded).

    A window of W targets is scored with rf samples of context: the plain path computes every
    position of the span (W + rf - 1); the fast path stops each layer where the terms stop
    needing it.
    """
    steps = window + model.receptive_field - 1
    if name in ("reference", "conv-fp32"):
        return steps / window
    starts = FastLogProb(model, name)._layer_starts(model.receptive_field - 1)
    return sum(steps - s for s in starts) / len(starts) / window


def gradient_errors(model, hp, window, batch, sigma, device, seed, inputs, names):
    """{path: [||g - g64|| / ||g64|| for each of ``inputs`` inputs]}, g64 from the plain formulation in float64."""
    model64 = copy.deepcopy(model).double()
    first_term = model.receptive_field - 1
    errors = {name: [] for name in names}
    nets = {name: path_module(model, name) for name in names}
    for i in range(inputs):
        spans, c = make_spans(model, hp, window, batch, sigma, device, seed + i)
        g64, _ = gradient(WindowLogProb(model64), spans.double(), sigma, None if c is None else c.double(), first_term)
        for name, net in nets.items():
            grad, _ = gradient(net, spans, sigma, c, first_term, name)
            errors[name].append(float((grad.double() - g64).norm() / g64.norm()))
    return errors


def path_names(precisions, device):
    """The gradient paths measured: the plain one, the fast (folded) path at each precision and, on a
    GPU, the engine's fp32 path there (the plain convolutions in full float32, "conv-fp32")."""
    return ["reference"] + precisions + (["conv-fp32"] if device.type == "cuda" else [])


def path_module(model, name):
    if name in ("reference", "conv-fp32"):      # the same module; conv-fp32 runs in full float32
        return WindowLogProb(model)
    return FastLogProb(model, name)


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn, repeats, device):
    """Median seconds of ``repeats`` calls after one warm-up call."""
    fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def matmul_peak(dtype, device, size=2048, repeats=5):
    """FLOP/s of a (size x size) @ (size x size) product in ``dtype`` on ``device``."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    seconds = time_calls(lambda: a @ b, repeats, device)
    return 2 * size ** 3 / seconds


def _proc_status_bytes(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {key} in /proc/self/status")


def _peak_memory_child(settings, name, queue):
    """In a fresh process: the resident high-water mark one gradient call adds (Linux), or None."""
    try:
        torch.set_num_threads(settings["threads"])
        hp = load_preset(settings["preset"])
        device = torch.device("cpu")
        model = build_model(hp, settings["checkpoint"], device, settings["seed"])
        spans, c = make_spans(model, hp, settings["window"], settings["batch"], settings["sigma"], device, settings["seed"])
        net = path_module(model, name)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")                                         # reset VmHWM to the current size
        base = _proc_status_bytes("VmRSS")
        gradient(net, spans, settings["sigma"], c, model.receptive_field - 1)
        queue.put(_proc_status_bytes("VmHWM") - base)
    except OSError:
        queue.put(None)


def peak_memory(name, model, spans, c, sigma, device, settings):
    """Bytes one gradient call of path ``name`` adds at its peak, or None where it cannot be measured.

    CUDA: the allocator's peak above what was allocated before.  CPU (Linux): in a fresh
    process (so no memory freed by earlier calls is reused unseen), the resident size's
    high-water mark, reset just before the call, above the resident size before it.
    """
    if device.type == "cuda":
        net = path_module(model, name)
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        gradient(net, spans, sigma, c, model.receptive_field - 1, name)
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_peak_memory_child, args=(settings, name, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


class PlainIncremental:
    """The plain incremental loop: the module's own blocks, one sample at a time, weight norm applied every sample.

    Keeps each layer's last ``(k - 1) d + 1`` inputs (B, R, span) and, per sample, gathers
    the k taps, multiplies them by the layer's weight-normalised weight (recomputed from
    ``weight_g`` and ``weight_v``) and finishes the block with its own
    :meth:`~wavenet_vocoder.modules.ResidualConv1dGLU.gated` and the model's own head
    (:meth:`~wavenet_vocoder.wavenet.WaveNet.output_logits`): no caching beyond the inputs.
    """

    def __init__(self, model, batch=1):
        self.model = model
        self.inputs = [torch.zeros(batch, layer.conv.in_channels, (layer.conv.kernel_size - 1) * layer.conv.dilation + 1,
                                   device=next(model.parameters()).device) for layer in model.conv_layers]

    @staticmethod
    def _apply(conv, x):
        return F.linear(x, conv.weight().flatten(1), conv.bias)

    @torch.no_grad()
    def step(self, x_t):
        model = self.model
        h = self._apply(model.first_conv, x_t.view(-1, 1)).unsqueeze(-1)          # (B, R, 1)
        skips = 0
        for layer, buffer in zip(model.conv_layers, self.inputs):
            buffer.copy_(torch.cat([buffer[:, :, 1:], h], dim=2))
            taps = buffer[:, :, ::layer.conv.dilation]                   # (B, R, k), oldest first
            z = self._apply(layer.conv, taps.flatten(1)).unsqueeze(-1)
            h, skip = layer.gated(z, h)
            skips = skips + skip
        return model.output_logits(skips)[:, :, -1]


def ancestral_rates(model, samples, device):
    """(plain samples/s, fast samples/s, max |logit difference| between the two) over ``samples`` steps."""
    plain, fast = PlainIncremental(model), IncrementalWaveNet(model)
    fast.reset(1)
    x = torch.full((1,), 127.0, device=device)
    diff = 0.0
    for _ in range(5):                                                   # warm-up, and the two agree
        diff = max(diff, float((plain.step(x) - fast.step(x)).abs().max()))
    rates = []
    for net in (plain, fast):
        synchronize(device)
        started = time.perf_counter()
        for _ in range(samples):
            net.step(x)
        synchronize(device)
        rates.append(samples / (time.perf_counter() - started))
    return rates[0], rates[1], diff


def measure(args):
    preset = args["--preset"]
    hp = load_preset(preset)
    device = torch.device(resolve_device(args["--device"]))
    window = parse_int(args["--window"], "--window", 1)
    batch = parse_int(args["--batch-size"], "--batch-size", 1)
    sigma = parse_float(args["--sigma"], "--sigma")
    repeats = parse_int(args["--repeats"], "--repeats", 1)
    ancestral = parse_int(args["--ancestral-samples"], "--ancestral-samples", 0)
    seed = parse_int(args["--seed"], "--seed", 0)
    matmul_size = parse_int(args["--matmul-size"], "--matmul-size", 1)
    precisions = [p.strip() for p in args["--precisions"].split(",") if p.strip()]
    for p in precisions:
        if p not in ("fp32", "bf16"):
            raise PnfError(f"--precisions: {p!r} is not fp32 or bf16")
    if hp.noise_conditional:
        raise PnfError(f"--preset={preset} is noise-conditional: measure a copy with noise_conditional false "
                       "(a level only adds a gate bias, so the gradient and the step cost the same)")
    model = build_model(hp, args["--checkpoint"], device, seed)
    spans, c = make_spans(model, hp, window, batch, sigma, device, seed)
    first_term = model.receptive_field - 1
    error_window = parse_int(args["--error-window"], "--error-window", 1)
    errors = gradient_errors(model, hp, error_window, batch, sigma, device, seed,
                             parse_int(args["--error-inputs"], "--error-inputs", 1), path_names(precisions, device))
    flop = flop_per_update(hp)
    settings = dict(preset=preset, checkpoint=args["--checkpoint"], seed=seed, window=window, batch=batch,
                    sigma=sigma, threads=torch.get_num_threads())
    paths = {}
    for name in path_names(precisions, device):
        net = path_module(model, name)
        updates = batch * window
        seconds = time_calls(lambda: gradient(net, spans, sigma, c, first_term, name), repeats, device)
        memory = None if args["--no-memory"] else peak_memory(name, model, spans, c, sigma, device, settings)
        paths[name] = dict(executed_positions_per_target=executed_positions_per_target(model, name, window),
                           updates_per_s=updates / seconds, seconds_per_call=seconds,
                           grad_rel_err=statistics.median(errors[name]), grad_rel_err_max=max(errors[name]),
                           flop_per_s=flop * updates / seconds, peak_memory_bytes=memory)
    result = {
        "device": describe_device(device),
        "preset": preset,
        "weights": args["--checkpoint"] or f"random (seed {seed})",
        "window": window, "batch_size": batch, "sigma": sigma, "receptive_field": model.receptive_field,
        "error_window": error_window, "error_inputs": len(errors["reference"]),
        "flop_per_update": flop,
        "matmul_size": matmul_size,
        "matmul_peak_fp32_flop_per_s": matmul_peak(torch.float32, device, matmul_size),
        "matmul_peak_bf16_flop_per_s": matmul_peak(torch.bfloat16, device, matmul_size),
        "paths": paths,
        "reference_updates_per_s": paths["reference"]["updates_per_s"],
        "reference_grad_rel_err": paths["reference"]["grad_rel_err"],
    }
    default = "fp32" if "fp32" in paths else precisions[0] if precisions else "reference"
    result.update(fast_path=default, fast_updates_per_s=paths[default]["updates_per_s"],
                  fast_grad_rel_err=paths[default]["grad_rel_err"],
                  fast_speedup=paths[default]["updates_per_s"] / paths["reference"]["updates_per_s"])
    if ancestral:
        plain, fast, diff = ancestral_rates(model, ancestral, device)
        result.update(ancestral_reference_samples_per_s=plain, ancestral_fast_samples_per_s=fast,
                      ancestral_speedup=fast / plain, ancestral_max_logit_diff=diff)
    return result


def format_table(r):
    lines = [f"device: {r['device']}; preset {r['preset']} ({r['weights']}); window {r['window']} x "
             f"batch {r['batch_size']}, receptive field {r['receptive_field']}, sigma {r['sigma']:g}",
             f"FLOP per sample-update (forward + input gradient, products only): {r['flop_per_update'] / 1e6:.2f} M; "
             f"this device multiplies {r['matmul_size']}^2 matrices at {r['matmul_peak_fp32_flop_per_s'] / 1e9:.0f} GFLOP/s "
             f"(fp32), {r['matmul_peak_bf16_flop_per_s'] / 1e9:.0f} GFLOP/s (bf16)",
             "",
             f"| gradient path | sample-updates/s | vs plain | GFLOP/s (by the count above) | peak memory (MiB) | "
             f"grad rel. error vs float64, median (max) of {r['error_inputs']} windows of {r['error_window']} |",
             "| --- | --- | --- | --- | --- | --- |"]
    names = {"reference": "plain (conv1d + autograd, weight norm per call; PyTorch's defaults)", "fp32": "fast, fp32",
             "bf16": "fast, bf16", "conv-fp32": "plain convolutions, full fp32 (the engine's fp32 on a GPU)"}
    base = r["paths"]["reference"]["updates_per_s"]
    for name, p in r["paths"].items():
        memory = "-" if p["peak_memory_bytes"] is None else f"{p['peak_memory_bytes'] / 2 ** 20:.0f}"
        lines.append(f"| {names[name]} | {p['updates_per_s']:.0f} | {p['updates_per_s'] / base:.2f}x | "
                     f"{p['flop_per_s'] / 1e9:.0f} | {memory} | {p['grad_rel_err']:.1e} ({p['grad_rel_err_max']:.1e}) |")
    if "ancestral_fast_samples_per_s" in r:
        lines += ["", "| ancestral synthesis (batch 1) | samples/s | vs plain |", "| --- | --- | --- |",
                  f"| plain incremental loop (weight norm per sample) | {r['ancestral_reference_samples_per_s']:.0f} | 1.00x |",
                  f"| fast (incremental.py) | {r['ancestral_fast_samples_per_s']:.0f} | {r['ancestral_speedup']:.2f}x |",
                  "", f"largest logit difference between the two: {r['ancestral_max_logit_diff']:.1e}"]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(__doc__, argv)
    result = measure(args)
    print(json.dumps(result, indent=2) if args["--json"] else format_table(result))
    return 0


if __name__ == "__main__":
    run(main)

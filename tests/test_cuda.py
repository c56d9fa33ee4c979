"""CUDA: the fast gradient, the engine (with DataParallel) and a training step on a GPU equal their
CPU results. Skipped where no GPU is visible (every CI machine here); benchmarks/gpu_check.sh runs
them when a GPU is lent."""
import copy

import pytest
import torch

from conftest import make_root, tiny_hparams
from test_fast_log_prob import inputs, model_with_biases, relative_error, terms_and_gradient
from wavenet_vocoder import train as training
from wavenet_vocoder.fast_log_prob import FastLogProb
from wavenet_vocoder.pnf.langevin import SamplerConfig, anneal, full_float32
from wavenet_vocoder.pnf.noise_schedule import AnnealingSchedule
from wavenet_vocoder.pnf.priors import Prior, WindowLogProb
from wavenet_vocoder.pnf.tasks.superres import SuperResolution

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("path", ["fast", "plain"])
def test_gpu_gradient_paths_equal_the_float64_model(conditional, path):
    """The folded fast path and the engine's GPU path (the plain module, run as the engine runs it:
    inside full_float32, so that cuDNN does not round to TF32)."""
    hp = tiny_hparams(conditional=conditional)
    model = model_with_biases(hp)
    spans, c = inputs(hp, model, batch=2, length=60)
    weights = torch.randn(2, 59, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ref_terms, ref_grad = terms_and_gradient(WindowLogProb(copy.deepcopy(model).double()), spans, 1.5, c, 0, weights)
    gpu_model = copy.deepcopy(model).cuda()
    net = FastLogProb(gpu_model, "fp32") if path == "fast" else WindowLogProb(gpu_model)
    with full_float32("cuda"):
        terms, grad = terms_and_gradient(net, spans.float().cuda(), 1.5, None if c is None else c.float().cuda(), 0,
                                         weights.float().cuda())
    # float32 products (TF32 off for matmuls by PyTorch's default, for convolutions by full_float32):
    # the CPU fast path's bound; TF32 convolutions would give about 1e-2
    assert relative_error(terms.cpu(), ref_terms) < 1e-5 and relative_error(grad.cpu(), ref_grad) < 1e-4


@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_engine_on_cuda_gives_the_cpu_samples(tmp_path, device):
    hp = tiny_hparams()
    root, _ = make_root(tmp_path / "prior", hp)
    observed = torch.rand(800, generator=torch.Generator().manual_seed(3)) * 255
    schedule = AnnealingSchedule(tuple(hp.sigmas), 0.05)
    config = SamplerConfig(n_steps=3, window=200, windows_per_step=2, schedule="tiled", progress=False)
    cpu, _ = anneal(SuperResolution(observed, 4), [Prior(root, hp)], schedule, config)
    gpu, _ = anneal(SuperResolution(observed, 4), [Prior(root, hp, device)], schedule,
                    SamplerConfig(**{**config.__dict__, "device": device}))
    # the noise is drawn on the device, so the chains differ; both must be finite and keep the kept samples
    assert torch.isfinite(gpu).all() and torch.equal(gpu[0, ::4], cpu[0, ::4])


class _TemperedSuperResolution(SuperResolution):
    """Super-resolution whose samples each carry temperature 0.25 (a per-sample map, as --voiced-temperature
    gives)."""

    def temperature(self):
        return torch.full((1, self.length), 0.25)


def test_a_per_sample_temperature_reaches_the_device(tmp_path):
    hp = tiny_hparams()
    root, _ = make_root(tmp_path / "prior", hp)
    observed = torch.rand(800, generator=torch.Generator().manual_seed(3)) * 255
    schedule = AnnealingSchedule(tuple(hp.sigmas), 0.05)
    config = SamplerConfig(n_steps=3, window=200, windows_per_step=2, schedule="tiled", progress=False, device="cuda")
    tempered, _ = anneal(_TemperedSuperResolution(observed, 4), [Prior(root, hp, "cuda")], schedule, config)
    scalar, _ = anneal(SuperResolution(observed, 4), [Prior(root, hp, "cuda")], schedule,
                       SamplerConfig(**{**config.__dict__, "temperature": 0.25}))
    # the same draws on the same device: the map equals the one temperature
    assert torch.isfinite(tempered).all() and torch.equal(tempered, scalar)


def test_a_training_step_on_cuda_equals_the_cpu_step(tmp_path):
    hp = tiny_hparams()
    # eps 1.0: Adam's step nearly linear in the gradient, so last-bit differences stay last-bit
    hp = hp.replace(optimizer_params={**hp.optimizer_params, "eps": 1.0})
    q = torch.randint(0, 256, (2, 100), generator=torch.Generator().manual_seed(0))
    states = {}
    for device in ("cpu", "cuda"):
        trainer = training.Trainer(hp, str(tmp_path / device), device, seed=0)
        trainer.train_step(q, None, 0.0, torch.Generator(device=device))
        states[device] = {k: v.cpu() for k, v in trainer.model.state_dict().items()}
    for key, value in states["cpu"].items():
        torch.testing.assert_close(states["cuda"][key], value, rtol=1e-4, atol=1e-4, msg=key)

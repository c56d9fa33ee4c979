"""The ``run.json`` record of a task run: its arguments, settings, levels, time and metrics."""
from ..cli import describe_device


def run_report(task_name, args, settings, reports, seconds, metrics=None, extra=None):
    """The ``run.json`` object: arguments, device, seed, levels, steps, time, log p, metrics."""
    report = {
        "task": task_name,
        "arguments": {k: v for k, v in args.items() if k not in ("--help",)},
        "device": describe_device(settings.sampler.device),
        "seed": settings.sampler.seed,
        "schedule": settings.sampler.schedule,
        "precision": settings.sampler.precision,
        "n_steps": settings.sampler.n_steps,
        "sgld_window": settings.sampler.window,
        "batch_size": settings.sampler.windows_per_step,
        "step_scale": settings.step_scale,
        "sigmas": list(settings.schedule.sigmas),
        "init": settings.sampler.init,
        "denoise": settings.sampler.denoise,
        "temperature": settings.sampler.temperature,
        "level_steps": list(settings.schedule.level_steps) if settings.schedule.level_steps else None,
        "steps": sum(r.steps for r in reports),
        "seconds": seconds,
        "levels": [r.to_dict() for r in reports],
    }
    if extra:
        report.update(extra)
    if metrics is not None:
        report["metrics"] = metrics
    return report

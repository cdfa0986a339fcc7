"""The GPU check (run by benchmarks/gpu_check.sh): every family on one accelerator.

Sections, each printing one line per family and a verdict:

1. model: each family (benchmarks/loop_parity.py's list) built on the CPU, copied to the
   device: its loss, gradients and a few samples are finite and of the right shape there,
   and, where the density is exact (the autoregressive models), ``log_prob`` on the device
   matches the CPU's (fp32, relative 1e-3);
2. loop: a short training per family through :func:`genzoo.train.loop.fit` at
   ``--train.precision bf16-mixed`` on the device (in-memory random data), which must end
   without a non-finite loss; its images/s over the steps after the first few;
3. throughput: loop_parity's bare step and loop per family on the device (fp32);
4. samplers: the autoregressive families' samplers at batch 256 (each of cached and naive
   that the model offers), seconds each.

Environment: GZ_DEVICE (default cuda), GZ_TINY=1 for tiny sizes (a CPU smoke test of the
logic in about a minute: ``GZ_DEVICE=cpu GZ_TINY=1 bash benchmarks/gpu_check.sh``).
Exits non-zero if a check failed.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
from _steps import now, timed_fit, window_rate  # noqa: E402
from loop_parity import FAMILIES, dataset, measure  # noqa: E402

import genzoo  # noqa: E402
from genzoo.config import TrainConfig  # noqa: E402
from genzoo.registry import get_entry  # noqa: E402

DEVICE = os.environ.get("GZ_DEVICE", "cuda")
TINY = os.environ.get("GZ_TINY", "") == "1"
# tiny model options per registry name (GZ_TINY=1)
TINY_OPTIONS: dict[str, dict[str, Any]] = {
    "pixelcnn": {"hidden_channels": 8, "num_blocks": 2, "output_channels": 16},
    "gated-pixelcnn": {"hidden_channels": 8, "num_layers": 2, "output_channels": 16},
    "pixelcnn++": {"filters": 8, "num_resnet": 1, "num_mixtures": 2},
    "pixelrnn": {"hidden_channels": 8, "num_layers": 2, "output_channels": 16},
    "vae": {"hidden": 32, "latent_dim": 4},
    "gan": {"width": 8, "latent_dim": 8},
    "progan": {"latent_dim": 16, "max_channels": 16, "channel_base": 64},
    "rbm": {"hidden": 16, "num_chains": 8},
    "dbm": {"hidden": (16, 16), "num_chains": 8, "pretrain_steps": 2},
}
failures: list[str] = []


def options(family: str) -> dict[str, Any]:
    name, _, _, opts = FAMILIES[family]
    return opts | (TINY_OPTIONS.get(name, {}) if TINY else {})


def build(family: str) -> Any:
    name, shape, kind, _ = FAMILIES[family]
    torch.manual_seed(0)
    return genzoo.create_model(name, image_shape=shape, kind=kind, **options(family)).train()


def check(section: str, family: str, fn: Any) -> None:
    try:
        line = fn()
        print(f"  {family:16s} ok  {line}", flush=True)
    except Exception as e:  # report every family, then fail at the end
        failures.append(f"{section}/{family}: {type(e).__name__}: {e}")
        print(f"  {family:16s} FAIL {type(e).__name__}: {e}", flush=True)
        traceback.print_exc(limit=3)


def model_check(family: str) -> str:
    _, shape, kind, _ = FAMILIES[family]
    cpu = build(family)
    dev = build(family).to(DEVICE)
    data = dataset(shape, kind)
    images, labels = data.batch(torch.arange(8))
    torch.manual_seed(1)
    out = dev.loss(images.to(DEVICE), labels.to(DEVICE)) if hasattr(dev, "loss") else {}
    loss = out.get("loss") if isinstance(out, dict) else None
    if loss is not None:
        if not torch.isfinite(loss):
            raise AssertionError(f"loss {float(loss)} on {DEVICE}")
        if loss.requires_grad:
            loss.backward()
            bad = [n for n, p in dev.named_parameters() if p.grad is not None
                   and not torch.isfinite(p.grad).all()]  # fmt: skip
            if bad:
                raise AssertionError(f"non-finite gradients: {bad[:3]}")
    dev.eval()
    g = torch.Generator(DEVICE).manual_seed(0)
    s = dev.sample(4, generator=g)
    if s.shape[0] != 4 or s.device.type != torch.device(DEVICE).type:
        raise AssertionError(f"sample of shape {tuple(s.shape)} on {s.device}")
    extra = ""
    if dev.density == "exact":
        cpu.eval()
        a = cpu.log_prob(images)
        b = dev.log_prob(images.to(DEVICE)).cpu()
        err = float(((a - b).abs() / a.abs().clamp_min(1e-6)).max())
        if err > 1e-3:
            raise AssertionError(f"log_prob on {DEVICE} differs from the CPU's by {err:.2g}")
        extra = f", log_prob vs CPU rel {err:.1e}"
    return f"loss {float(loss) if loss is not None else float('nan'):.4g}{extra}"


def loop_check(family: str) -> str:
    name, shape, kind, _ = FAMILIES[family]
    steps = 6 if TINY else 40
    train = TrainConfig(
        **(dict(get_entry(name).train_defaults) | {
            "steps": steps, "progress": False, "accelerator": DEVICE,
            "precision": "bf16-mixed", "batch_size": 16 if TINY else 64,
            "log_every": 10, "sample_every": 0, "checkpoint_every": 1000,
        })
    )  # fmt: skip
    model = build(family)
    with tempfile.TemporaryDirectory() as tmp:
        stamps, _ = timed_fit(model, dataset(shape, kind), train, Path(tmp) / "run")
    warm = 2 if TINY else 10
    rate = window_rate(stamps, warm, steps - 1, train.batch_size)
    return f"{steps} steps at bf16-mixed, {rate:.0f} img/s after step {warm}"


def throughput(family: str) -> str:
    steps, warmup = (8, 2) if TINY else (60, 15)
    m = measure(family, steps, warmup, 1, False, DEVICE, {"batch_size": 16} if TINY else None)
    bare, loop = m["bare"][0], m["loop"][0]
    return f"bare {bare:.0f} img/s, loop {loop:.0f} img/s, loop/bare {loop / bare:.3f}"


def samplers(family: str) -> str:
    model = build(family).to(DEVICE).eval()
    n = 8 if TINY else 256
    parts = []
    for sampler in ("cached", "naive"):
        if "sampler" not in model.sample_options:
            break
        g = torch.Generator(DEVICE).manual_seed(0)
        t = now()
        try:
            model.sample(n, generator=g, sampler=sampler)
        except genzoo.errors.UserInputError as e:  # a sampler this model does not offer
            parts.append(f"{sampler} n/a ({str(e).splitlines()[0][:60]})")
            continue
        parts.append(f"{sampler} {now() - t:.2f} s")
    return f"batch {n}: " + ", ".join(parts)


def main() -> None:
    only = [f for f in os.environ.get("GZ_FAMILIES", "").split(",") if f]
    families = only or list(FAMILIES)
    if TINY:  # 8x8 images keep the autoregressive models quick on a CPU
        for f, (name, shape, kind, opts) in list(FAMILIES.items()):
            if len(shape) == 3:
                FAMILIES[f] = (name, (shape[0], 8, 8), kind, opts | TINY_OPTIONS.get(name, {}))
    start = time.monotonic()
    device_name = torch.cuda.get_device_name() if DEVICE.startswith("cuda") else DEVICE
    print(f"device {DEVICE} ({device_name}), torch {torch.__version__}, tiny={TINY}")
    sections = [("model", model_check), ("loop", loop_check), ("throughput", throughput)]
    for section, fn in sections:
        print(f"== {section} ({time.monotonic() - start:.0f} s)", flush=True)
        for f in families:
            check(section, f, lambda f=f, fn=fn: fn(f))
    print(f"== samplers ({time.monotonic() - start:.0f} s)", flush=True)
    for f in families:
        if FAMILIES[f][0] in ("pixelcnn", "gated-pixelcnn", "pixelcnn++", "pixelrnn"):
            check("samplers", f, lambda f=f: samplers(f))
    print(f"== done in {time.monotonic() - start:.0f} s: {len(failures)} failure(s)")
    for line in failures:
        print("  " + line)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

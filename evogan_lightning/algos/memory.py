"""How much memory one generation needs, and refusing, before training, a setting that cannot fit.

``generation_size(module)`` estimates what a generation holds at once, in float32 numbers, from the
algorithm's sizes and the networks' activations per sample (counted by a forward pass on the meta device,
so nothing is computed or allocated):

    the real batch                     reals_per_generation x sample
    every child's mutation graph       k x m x (act_G + act_D)          (backpropagated together)
    the D steps                        P x 2m x act_D                   (m reals and m fakes per D)
    the kept evaluation samples        k x n x sample                   (for selection and the D steps)
    one candidate's D pass             n x act_D                        (its samples come without gradients)
    weights, gradients, Adam moments   4 x (G slots x G params + P x D params)

with m = ``algo.batch_size``, n = ``algo.eval_batch_size``, k = generator children per generation and P
discriminators (GAGAN). It leaves out the framework itself and, with ``algo.backend=batched``, the other
candidates' passes, so it is a lower bound (measured on a CPU, E-GAN 32x32: 0.58 MB estimated vs. 0.76 MB
used per evaluation sample): a setting above the memory of its device cannot fit; the maximum suggested
fills half of it.
``algo.eval_batch_size`` is also bounded by ``MAX_EVAL_BATCH_SIZE`` (checked by the typed configs, algos/config.py).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..core.errors import ConfigError

BYTES_PER_NUMBER = 4  # float32
MAX_EVAL_BATCH_SIZE = (
    65536  # fitness samples per candidate; the papers use 256 (its error shrinks as 1/sqrt(n))
)


def check_eval_batch_size(n: Any) -> None:
    """``algo.eval_batch_size`` at most ``MAX_EVAL_BATCH_SIZE`` (called by the typed configs, algos/config.py)."""
    if isinstance(n, int) and n > MAX_EVAL_BATCH_SIZE:
        raise ConfigError(
            f"algo.eval_batch_size={n} is more than the maximum {MAX_EVAL_BATCH_SIZE} (fitness samples per "
            f"candidate; the papers use 256); use algo.eval_batch_size<={MAX_EVAL_BATCH_SIZE}"
        )


def activations_per_sample(net: nn.Module, example: torch.Tensor) -> int:
    """Numbers the layers of ``net`` output per sample (``example``: a small batch on the meta device; two
    samples, not one, because batch norm in training mode refuses a batch of one)."""
    total = 0

    def count(module: nn.Module, inputs: Any, output: Any) -> None:
        nonlocal total
        if torch.is_tensor(output):
            total += output.numel()

    leaves = [m for m in net.modules() if not any(True for _ in m.children())]
    hooks = [m.register_forward_hook(count) for m in leaves]
    try:
        net(example)
    finally:
        for h in hooks:
            h.remove()
    return total // example.shape[0]


@dataclass(frozen=True)
class GenerationSize:
    """The sizes that set a generation's memory (see the module docstring); ``numbers()`` is linear in m, n."""

    m: int  # algo.batch_size
    n: int  # algo.eval_batch_size (0: the algorithm has none)
    d_steps: int
    k: int  # generator children evaluated per generation (1 for gan/gagan)
    num_d: int  # discriminators trained per generation
    reals_per_n: int  # 1 when the fitness reads n real samples too (fitness=egan), else 0
    sample: int  # numbers per data sample
    act_g: int
    act_d: int
    state: int  # weights, gradients and Adam moments of every network

    @property
    def per_m(self) -> int:
        return self.d_steps * self.sample + self.k * (self.act_g + self.act_d) + 2 * self.num_d * self.act_d

    @property
    def per_n(self) -> int:
        return (self.reals_per_n + self.k) * self.sample + self.act_d

    def numbers(self) -> int:
        return self.m * self.per_m + self.n * self.per_n + self.state


def generation_size(module: Any) -> GenerationSize:
    """The ``GenerationSize`` of a built algorithm module (``train.build_module``)."""
    spec, shape = module.net_spec, tuple(module.shape)
    with torch.device("meta"):
        g, d = spec.generator_factory(shape)(), spec.build_discriminator(shape)
        act_g = activations_per_sample(g, torch.empty(2, spec.latent_dim))
        act_d = activations_per_sample(d, torch.empty(2, *shape))
    params_g = sum(p.numel() for p in g.parameters())
    params_d = sum(p.numel() for p in d.parameters())
    m, d_steps = module.hp.batch_size, module.hp.d_steps
    n = int(getattr(module.hp, "eval_batch_size", 0))  # 0: the algorithm has no evaluation batch
    pop = module.generators
    num_d = int(getattr(module, "num_discriminators", 1))
    return GenerationSize(
        m=m,
        n=n,
        d_steps=d_steps,
        k=max(int(pop.num_children), 1),
        num_d=num_d,
        reals_per_n=int(n > 0 and module.reals_per_generation > d_steps * m),
        sample=math.prod(shape),
        act_g=act_g,
        act_d=act_d,
        state=4 * ((pop.num_parents + pop.num_children) * params_g + num_d * params_d),
    )


def available_ram() -> int | None:
    """Bytes of RAM available now (Linux ``MemAvailable``; else free pages), None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def memory_limit(accelerator: str = "auto") -> tuple[int | None, str]:
    """(bytes, what) a generation may use on the run's device: the smallest visible GPU's memory for a GPU
    run (``trainer.accelerator`` gpu/cuda, or auto with a GPU visible), else the RAM available now."""
    gpus = torch.cuda.device_count()
    if gpus and accelerator in ("auto", "gpu", "cuda"):
        total = min(torch.cuda.get_device_properties(i).total_memory for i in range(gpus))
        return total, "GPU memory"
    return available_ram(), "RAM available now"


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.1f} GiB"


def _round_down(x: float) -> int:
    """``x`` rounded down to two significant digits (a value to type), at least 1."""
    if x < 1:
        return 0
    scale = 10 ** max(int(math.log10(x)) - 1, 0)
    return int(x // scale * scale)


def check_generation_memory(module: Any, accelerator: str = "auto") -> None:
    """ConfigError when one generation of ``module`` needs more memory than its device has, naming the
    setting that dominates (``algo.eval_batch_size`` or ``algo.batch_size``) and a maximum that fits."""
    limit, where = memory_limit(accelerator)
    size = generation_size(module)
    need = BYTES_PER_NUMBER * size.numbers()
    if limit is None or need <= limit:
        return
    budget = limit / 2 / BYTES_PER_NUMBER - size.state  # numbers: half the device, as the estimate is low
    if size.n * size.per_n >= size.m * size.per_m:
        key, value, best = "eval_batch_size", size.n, _round_down((budget - size.m * size.per_m) / size.per_n)
    else:
        key, value, best = "batch_size", size.m, _round_down((budget - size.n * size.per_n) / size.per_m)
    fix = (
        f"use algo.{key}<={best}"
        if best >= 1
        else "use a smaller algo.batch_size, algo.eval_batch_size or population"
    )
    raise ConfigError(
        f"algo.{key}={value} cannot fit: one generation of algo={module.algo_name} on data of shape "
        f"{tuple(module.shape)} needs at least about {_gib(need)} ({size.k} candidate(s), batch {size.m}, "
        f"evaluation batch {size.n}, plus the networks' activations), more than the {_gib(limit)} of "
        f"{where}; {fix}"
    )

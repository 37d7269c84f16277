"""One whole generation captured as a CUDA graph and replayed (``algo.cuda_graph=true``).

The evolutionary GANs run tiny networks on small batches, so on a GPU a generation is bound by kernel
launches and Python, not by arithmetic (issue 9: a plain GAN iteration of the CIFAR setting took 15.3 ms
eagerly and 3.8 ms as one CUDA graph on an H100). ``GraphedGeneration`` runs ``generation_step`` eagerly for
a few warm-up generations on a side stream (lazy state such as optimizer moments and cuDNN plans is created
there, as PyTorch's graph capture requires), captures the next generation once (``torch.cuda.CUDAGraph``,
with the run's own random generator registered so every replay draws fresh numbers from it), and from then
on copies each real batch into the captured input and replays the graph: one launch per generation.

What makes a generation capturable: no host synchronisation and no host-side decision that depends on
device values. Selection (``top_mu``), survivor copies, operator counts (``OperatorTally``), the
"every candidate diverged" flag and all random numbers stay on the device; ``forbid_host_sync`` checks this
on the CPU (tests), ``torch.cuda.set_sync_debug_mode`` on the GPU (the last warm-up generation).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
import torch.optim.optimizer as _optim
from torch import Tensor
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

WARMUP_GENERATIONS = 3  # eager generations before the capture (PyTorch recommends a few, on a side stream)


class HostSyncError(RuntimeError):
    """A generation step synchronised with the host, so it cannot be captured as a CUDA graph."""


# ATen ops that copy a device value to the host or whose output size depends on device values.
_SYNC_OPS = {
    "_local_scalar_dense",  # .item(), int(t), float(t), bool(t)
    "nonzero",
    "masked_select",
    "_unique2",
    "unique_dim",
    "unique_consecutive",
    "equal",
    "is_nonzero",
}
# Python-level tensor methods that copy to the host (not all of them reach the dispatcher on a CPU).
_SYNC_METHODS = {"item", "tolist", "numpy", "cpu", "__bool__", "__int__", "__float__", "__index__"}


class _SyncCheck:
    paused = 0  # > 0 inside a torch.optim step (see forbid_host_sync)


def _bool_mask_index(name: str, args: tuple) -> bool:
    """x[mask] / x[mask] = v with a boolean mask: the result size depends on device values."""
    if name not in ("index", "index_put", "index_put_", "_index_put_impl_") or len(args) < 2:
        return False
    return any(isinstance(i, Tensor) and i.dtype == torch.bool for i in (args[1] or ()))


class _DispatchSyncCheck(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name.split("::")[-1]
        if not _SyncCheck.paused and (name in _SYNC_OPS or _bool_mask_index(name, args)):
            raise HostSyncError(f"{func} synchronises with the host")
        return func(*args, **(kwargs or {}))


class _FunctionSyncCheck(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if not _SyncCheck.paused and (name in _SYNC_METHODS or name in _SYNC_OPS):
            raise HostSyncError(f"Tensor.{name} synchronises with the host")
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def forbid_host_sync() -> Iterator[None]:
    """Raise ``HostSyncError`` on any host synchronisation inside the block: ``.item()``, ``.tolist()``,
    ``bool(t)``, ``.cpu()``, ``nonzero``, ``masked_select``, ``unique``... A CPU stand-in for
    ``torch.cuda.set_sync_debug_mode("error")``, so the tests can prove a generation capturable without a GPU.

    ``torch.optim`` steps are exempt: on a CPU they read their step counts with ``.item()``, while on CUDA
    the discriminator's Adam runs with ``capturable=True`` (step counts on the device), which PyTorch
    itself makes graph-safe."""

    def pause(*_):
        _SyncCheck.paused += 1

    def resume(*_):
        _SyncCheck.paused -= 1

    pre = _optim.register_optimizer_step_pre_hook(pause)
    post = _optim.register_optimizer_step_post_hook(resume)
    try:
        with _FunctionSyncCheck(), _DispatchSyncCheck():
            yield
    finally:
        pre.remove()
        post.remove()


@contextlib.contextmanager
def _cuda_sync_check(enabled: bool) -> Iterator[None]:
    """CUDA raises on any synchronising call inside the block (then the user's own mode is restored)."""
    if not enabled:
        yield
        return
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(previous)


Step = Callable[[Tensor], dict[str, Tensor]]


class GraphedGeneration:
    """Runs ``step(real)`` (an algorithm's ``generation_step``): ``warmup`` eager generations on a side
    stream, then one capture, then a graph replay per generation. ``generator`` is the step's own random
    generator, registered with the graph so every replay draws fresh numbers; ``name`` names the step in
    errors. ``real`` [n, *shape] must keep its shape (it does: the data module yields
    ``reals_per_generation`` rows every generation). Returns the step's stats, as tensors that the next
    replay overwrites (read them before the next generation)."""

    def __init__(
        self, step: Step, generator: torch.Generator, name: str, warmup: int = WARMUP_GENERATIONS
    ) -> None:
        self.step, self.generator, self.name, self.warmup = step, generator, name, int(warmup)
        self.eager_generations = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_real: Tensor | None = None
        self.static_stats: dict[str, Tensor] = {}

    def __call__(self, real: Tensor) -> dict[str, Tensor]:
        if self.graph is None:
            if self.eager_generations < self.warmup:
                return self._warmup(real)
            self._capture(real)
        assert self.static_real is not None and self.graph is not None
        if real.shape != self.static_real.shape:
            raise RuntimeError(
                f"algo.cuda_graph: the real batch changed shape from {tuple(self.static_real.shape)} to "
                f"{tuple(real.shape)}; a captured generation needs the same shape every time"
            )
        self.static_real.copy_(real)
        self.graph.replay()
        return self.static_stats

    def _warmup(self, real: Tensor) -> dict[str, Tensor]:
        """One eager generation on a side stream; the last one with CUDA's sync check on, so a step that
        cannot be captured fails here with the offending call instead of inside the capture."""
        last = self.eager_generations == self.warmup - 1
        current = torch.cuda.current_stream(real.device)
        side = torch.cuda.Stream(real.device)
        side.wait_stream(current)
        try:
            with torch.cuda.stream(side), _cuda_sync_check(enabled=last):
                stats = self.step(real)
        except RuntimeError as err:
            if last and "synchroniz" in str(err).lower():
                raise HostSyncError(
                    f"algo.cuda_graph: the generation step of algo={self.name} synchronises with "
                    f"the host, so it cannot be captured ({err}). Drop algo.cuda_graph"
                ) from err
            raise
        current.wait_stream(side)
        self.eager_generations += 1
        return stats

    def _capture(self, real: Tensor) -> None:
        """Record one generation (nothing runs yet: the caller replays it for this generation)."""
        self.static_real = real.detach().clone()
        graph = torch.cuda.CUDAGraph()
        graph.register_generator_state(self.generator)  # the default generator is registered by torch
        torch.cuda.synchronize(real.device)
        with torch.cuda.graph(graph):
            self.static_stats = self.step(self.static_real)
        self.graph = graph

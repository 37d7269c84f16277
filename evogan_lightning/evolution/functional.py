"""Stacked-parameter views of a Population for ``torch.func`` (vmap) backends.

Because every member's parameters are views into rows of the flat ``Population.params`` [S, P], the
parameters of rows ``a:b`` *as a stacked batch* are zero-copy views ``params[a:b, off:off+n].view(k, *shape)``.
``torch.func.functional_call`` + ``torch.vmap`` then run all k members in one batched call (one kernel
launch per layer instead of k): the batched population backend of DESIGN.md, "The population".
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call

from .population import Population


class NotVmappable(ValueError):
    """The networks cannot run under vmap (e.g. a generator with batch-norm running statistics)."""


def _layout(module: nn.Module, tensors) -> list[tuple[str, tuple[int, ...], int, int]]:
    out, off = [], 0
    for name, t in tensors(module):
        out.append((name, tuple(t.shape), off, t.numel()))
        off += t.numel()
    return out


def param_layout(pop: Population) -> list[tuple[str, tuple[int, ...], int, int]]:
    """(name, shape, offset, numel) of every parameter of one member, in flat-storage order."""
    return _layout(pop.member(0), lambda m: m.named_parameters())


def stacked(flat_rows: Tensor, layout: list[tuple[str, tuple[int, ...], int, int]]) -> dict[str, Tensor]:
    """Split flat rows [k, P] into {name: [k, *shape]} views (differentiable if ``flat_rows`` is)."""
    k = flat_rows.shape[0]
    return {name: flat_rows[:, off : off + n].view(k, *shape) for name, shape, off, n in layout}


def check_vmappable(pop: Population) -> None:
    """Raise NotVmappable (with the reason and the fix) when members hold buffers updated in forward."""
    member = pop.member(0)
    for name, module in member.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats:
            raise NotVmappable(
                f"the generator has batch norm with running statistics ({name or type(module).__name__}); "
                "the batched backend cannot update per-member running stats under vmap. Use algo.backend=loop "
                "(or auto, which falls back to loop), or a generator without batch norm (e.g. net=egan32)"
            )


def generator_fn(pop: Population) -> Callable[[dict[str, Tensor], Tensor], Tensor]:
    """f(params_of_one_member, z [B, latent]) -> samples, for vmapping over members."""
    template = pop.member(0)

    def f(params: dict[str, Tensor], z: Tensor) -> Tensor:
        return functional_call(template, params, (z,))

    return f


def vmapped_generate(pop: Population, flat_rows: Tensor, z: Tensor) -> Tensor:
    """Samples of k members at once: ``flat_rows`` [k, P] (e.g. ``pop.params[rows]``), z [k, B, latent]
    -> [k, B, *sample_shape]."""
    params = stacked(flat_rows, param_layout(pop))
    return torch.vmap(generator_fn(pop), in_dims=(0, 0), randomness="error")(params, z)


def discriminator_fn(
    discriminator: nn.Module,
) -> Callable[[dict[str, Tensor], dict[str, Tensor], Tensor], Tensor]:
    """f(d_params, d_buffers, x [B, ...]) -> logits [B]; buffers are passed per call so that under vmap
    each member's batch gets its own batch-norm statistics and its own throwaway running-stat copy
    (D's running statistics are never read: it stays in train mode, ALGORITHMS.md)."""

    def f(params: dict[str, Tensor], buffers: dict[str, Tensor], x: Tensor) -> Tensor:
        return functional_call(discriminator, {**params, **buffers}, (x,))

    return f


def vmapped_discriminate(
    discriminator: nn.Module, x: Tensor, params: dict[str, Tensor] | None = None
) -> Tensor:
    """D on k separate batches x [k, B, ...] -> logits [k, B], batch statistics per batch, shared weights.
    D's real running statistics are left untouched."""
    k = x.shape[0]
    params = dict(discriminator.named_parameters()) if params is None else params
    buffers = {n: b.unsqueeze(0).expand(k, *b.shape).clone() for n, b in discriminator.named_buffers()}
    return torch.vmap(discriminator_fn(discriminator), in_dims=(None, 0, 0), randomness="error")(
        params, buffers, x
    )

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
    """Split flat rows [k, P] into {name: [k, *shape]} views (differentiable if ``flat_rows`` is). One
    ``split``, so the backward is one concatenation rather than a zero-filled [k, P] copy per tensor."""
    k = flat_rows.shape[0]
    parts = flat_rows.split([n for _, _, _, n in layout], dim=1)  # layout is contiguous from offset 0
    return {name: part.view(k, *shape) for (name, shape, _, _), part in zip(layout, parts)}


def check_vmappable(pop: Population) -> None:
    """Raise NotVmappable (with the reason and the fix) when members hold buffers updated in forward."""
    member = pop.member(0)
    for name, module in member.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats:
            raise NotVmappable(
                f"the generator has batch norm with running statistics ({name or type(module).__name__}); "
                "the batched backend cannot update per-member running stats under vmap. Use algo.backend=loop "
                "(or auto, which falls back to loop); of the image nets only net=egan32 (32x32) has no batch norm"
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
    (D's running statistics are never read: it stays in train mode, docs/algorithms.md). The running statistics
    of batch norm in train mode are swapped for None: batch norm then normalises by the batch alone and
    updates nothing, so those need no per-member copy at all."""
    untracked = {name: None for name in _train_mode_bn_buffers(discriminator)}

    def f(params: dict[str, Tensor], buffers: dict[str, Tensor], x: Tensor) -> Tensor:
        return functional_call(discriminator, {**params, **buffers, **untracked}, (x,))

    return f


def _train_mode_bn_buffers(module: nn.Module) -> list[str]:
    """Names of the running-statistic buffers of batch-norm layers in train mode."""
    out = []
    for prefix, m in module.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training:
            out += [f"{prefix}.{n}" if prefix else n for n, _ in m.named_buffers(recurse=False)]
    return out


def per_member_buffers(discriminator: nn.Module, k: int) -> dict[str, Tensor]:
    """k throwaway copies [k, ...] of D's buffers that a forward may update (not the train-mode batch-norm
    statistics, which ``discriminator_fn`` replaces by None)."""
    skip = set(_train_mode_bn_buffers(discriminator))
    return {
        n: b.unsqueeze(0).expand(k, *b.shape).clone()
        for n, b in discriminator.named_buffers()
        if n not in skip
    }


def vmapped_discriminate(
    discriminator: nn.Module, x: Tensor, params: dict[str, Tensor] | None = None
) -> Tensor:
    """D on k separate batches x [k, B, ...] -> logits [k, B], batch statistics per batch, shared weights.
    D's real running statistics are left untouched."""
    k = x.shape[0]
    params = dict(discriminator.named_parameters()) if params is None else params
    buffers = per_member_buffers(discriminator, k)
    return torch.vmap(discriminator_fn(discriminator), in_dims=(None, 0, 0), randomness="error")(
        params, buffers, x
    )


# ---------------------------------------------------------------------------------------------- batched ops
def loss_codes(losses: list[Callable[[Tensor], Tensor]], device: torch.device) -> tuple[list, Tensor]:
    """(the distinct losses in order of first use, codes [k]: index of ``losses[j]`` among them), for
    ``per_row_losses``. Built once per run and cached by the caller (a host-to-device copy)."""
    distinct = list(dict.fromkeys(losses))
    return distinct, torch.tensor([distinct.index(f) for f in losses], device=device)


def per_row_losses(distinct: list[Callable[[Tensor], Tensor]], codes: Tensor, logits: Tensor) -> Tensor:
    """Row j's own loss ``distinct[codes[j]](logits[j])`` for every row of ``logits`` [k, m] -> [k].

    Each distinct loss runs once over all rows (vmapped), and each row picks its own: the number of
    device ops depends on the number of distinct losses (E-GAN: 3), not on the number of children."""
    every = torch.stack([torch.vmap(f)(logits) for f in distinct], dim=1)  # [k, n_distinct]
    return every.gather(1, codes.unsqueeze(1)).squeeze(1)


def batched_mutation_grads(
    pop: Population,
    rows: slice,
    discriminator: nn.Module,
    losses: list[Callable[[Tensor], Tensor]],
    z: Tensor,
    codes: tuple[list, Tensor] | None = None,
) -> Tensor:
    """Gradients of k children's mutation losses in ONE vmapped forward/backward, written into
    ``pop.grads[rows]`` (ready for ``pop.adam_step(rows)``).

    ``losses[j]`` is child j's generator loss on logits [m] (E-GAN Eq. 3-5); ``z`` [k, m, latent];
    ``codes``: ``loss_codes(losses)``, cached by the caller (computed here when None).
    D is frozen (no gradient to its parameters) and each child's batch gets its own D batch statistics.
    Returns the detached losses [k].
    """
    flat = pop.params[rows].detach().requires_grad_(True)
    d_params = {n: p.detach() for n, p in discriminator.named_parameters()}
    logits = vmapped_discriminate(discriminator, vmapped_generate(pop, flat, z), d_params)  # [k, m]
    distinct, code = loss_codes(losses, logits.device) if codes is None else codes
    per_child = per_row_losses(distinct, code, logits)
    (grad,) = torch.autograd.grad(per_child.sum(), flat)
    with torch.no_grad():
        pop.grads[rows].copy_(grad)
    return per_child.detach()


def _flat_grad_norm_parts(grads: dict[str, Tensor]) -> Tensor:
    return torch.cat([g.flatten(1) for g in grads.values()], dim=1)


def batched_egan_fitness(
    pop: Population,
    rows: slice,
    discriminator: nn.Module,
    z: Tensor,
    real_grad: Tensor,
    gamma: float,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """E-GAN fitness of k children at once (Wang et al. 2019, Eq. 6-8).

    F_q = mean sigmoid(C(G(z))); F_d = -log ||grad_theta_D L_D(fake, real)||_2 over ALL D parameters,
    first-order, with the real part of the gradient ``real_grad`` [P_D] computed once per generation
    (L_D is a sum of a real and a fake term, so its gradient is real_grad + grad of the fake term).
    ``z`` [k, n, latent]. Returns (F, F_q, F_d, samples [k, n, ...], logits [k, n]).
    """
    params = {n: p.detach() for n, p in discriminator.named_parameters()}
    buffers = per_member_buffers(discriminator, z.shape[0])
    f = discriminator_fn(discriminator)

    def fake_term(p: dict[str, Tensor], b: dict[str, Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
        logits = f(p, b, x)
        return torch.nn.functional.softplus(logits).mean(), logits  # BCE(fake, 0)

    with torch.no_grad():
        samples = vmapped_generate(pop, pop.params[rows], z)
    grad_fn = torch.func.grad(fake_term, has_aux=True)
    grads, logits = torch.vmap(grad_fn, in_dims=(None, 0, 0), randomness="error")(params, buffers, samples)
    total = _flat_grad_norm_parts(grads) + real_grad.unsqueeze(0)
    f_d = -torch.log(total.norm(dim=1))
    f_q = torch.sigmoid(logits).mean(dim=1)
    return f_q + gamma * f_d, f_q, f_d, samples, logits.detach()


def batched_logit_fitness(
    pop: Population, rows: slice, discriminator: nn.Module, z: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """CE-GAN fitness F = mean C(G(z)) (raw logits) of k children at once. ``z`` [k, n, latent] (CE-GAN
    shares one noise batch across all mutants: pass it expanded). Returns (F [k], samples, logits [k, n])."""
    with torch.no_grad():
        samples = vmapped_generate(pop, pop.params[rows], z)
        logits = vmapped_discriminate(discriminator, samples)
    return logits.mean(dim=1), samples, logits

"""Stacked-parameter (vmap) views of a population agree with running members one by one."""

import pytest
import torch
from torch import nn

from evogan_lightning.engine.functional import (
    NotVmappable,
    check_vmappable,
    param_layout,
    stacked,
    vmapped_discriminate,
    vmapped_generate,
)
from evogan_lightning.engine.population import Population
from evogan_lightning.nets import resolve_net


def small_pair():
    spec = resolve_net({"name": "egan32", "g_width": 8, "d_width": 8}, (3, 32, 32))
    return (
        spec,
        Population(spec.generator_factory((3, 32, 32)), 2, 3, independent_init=True),
        spec.build_discriminator((3, 32, 32)),
    )


def test_stacked_views_are_zero_copy():
    _, pop, _ = small_pair()
    views = stacked(pop.params[1:4], param_layout(pop))
    name, p = next(iter(pop.member(2).named_parameters()))
    assert views[name][1].data_ptr() == p.data_ptr()


def test_vmapped_generator_and_discriminator_match_the_loop():
    torch.manual_seed(0)
    spec, pop, d = small_pair()
    z = torch.rand(3, 5, spec.latent_dim) * 2 - 1
    batched = vmapped_generate(pop, pop.params[2:5], z)
    loop = torch.stack([pop.member(2 + k)(z[k]) for k in range(3)])
    torch.testing.assert_close(batched, loop, rtol=1e-5, atol=1e-6)
    running_mean = [b.clone() for b in d.buffers()]
    logits = vmapped_discriminate(d, loop)
    # each batch normalised with its own statistics, exactly as separate D calls
    d_ref = [d(loop[k]) for k in range(3)]
    torch.testing.assert_close(logits, torch.stack(d_ref), rtol=1e-5, atol=1e-5)
    d2 = spec.build_discriminator((3, 32, 32))
    d2.load_state_dict(
        {**d.state_dict(), **{n: b for n, b in zip([n for n, _ in d.named_buffers()], running_mean)}}
    )
    vmapped_discriminate(d2, loop)
    for before, after in zip(running_mean, d2.buffers()):
        assert torch.equal(before, after)  # the vmapped call never touches D's running stats


def test_gradients_flow_to_each_member_row():
    spec, pop, d = small_pair()
    flat = pop.params[2:5].detach().requires_grad_(True)
    z = torch.rand(3, 4, spec.latent_dim)
    loss = vmapped_discriminate(d, vmapped_generate(pop, flat, z)).mean(dim=1).sum()
    (g,) = torch.autograd.grad(loss, flat)
    for k in range(3):
        pop.zero_grad(slice(2 + k, 3 + k))
        d(pop.member(2 + k)(z[k])).mean().backward()
        torch.testing.assert_close(g[k], pop.grads[2 + k], rtol=1e-4, atol=1e-6)


def test_batch_norm_generator_is_rejected_with_the_fix():
    spec = resolve_net({"name": "mnist28"}, (1, 28, 28))
    pop = Population(spec.generator_factory((1, 28, 28)), 1, 1)
    with pytest.raises(NotVmappable, match="algo.backend=loop"):
        check_vmappable(pop)
    check_vmappable(small_pair()[1])  # no error for the BN-free EGAN32 generator
    assert isinstance(pop.member(0), nn.Module)


def test_batched_mutation_grads_match_loop():
    from evogan_lightning.engine.functional import batched_mutation_grads
    from evogan_lightning.evolution.losses import generator_loss

    spec, pop, d = small_pair()
    heuristic = generator_loss("heuristic")
    # rows pick their own loss; a loss used by two rows runs once for both (grouped, vmapped)
    losses = [heuristic, generator_loss("least_squares"), heuristic, generator_loss("minimax")]
    pop = Population(spec.generator_factory((3, 32, 32)), 1, 4, independent_init=True)
    z = torch.rand(4, 4, spec.latent_dim)
    got = batched_mutation_grads(pop, slice(1, 5), d, losses, z).clone()
    batched = pop.grads[1:5].clone()
    assert all(p.grad is None for p in d.parameters())
    for k in range(4):
        pop.zero_grad(slice(1 + k, 2 + k))
        loss = losses[k](d(pop.member(1 + k)(z[k])))
        loss.backward()
        torch.testing.assert_close(got[k], loss.detach())
        torch.testing.assert_close(batched[k], pop.grads[1 + k], rtol=1e-4, atol=1e-6)


def test_batched_egan_fitness_matches_a_direct_computation():
    import torch.nn.functional as F

    from evogan_lightning.engine.functional import batched_egan_fitness, batched_logit_fitness

    torch.manual_seed(1)
    spec, pop, d = small_pair()
    real = torch.rand(6, 3, 32, 32) * 2 - 1
    params = list(d.parameters())
    real_grad = torch.cat([g.flatten() for g in torch.autograd.grad(F.softplus(-d(real)).mean(), params)])
    z = torch.rand(3, 6, spec.latent_dim) * 2 - 1
    fit, f_q, f_d, samples, _ = batched_egan_fitness(pop, slice(2, 5), d, z, real_grad, gamma=0.01)
    for k in range(3):
        with torch.no_grad():
            fake = pop.member(2 + k)(z[k])
        logits = d(fake)
        loss = F.softplus(-d(real)).mean() + F.softplus(logits).mean()
        g = torch.cat([x.flatten() for x in torch.autograd.grad(loss, params)])
        torch.testing.assert_close(f_d[k], -torch.log(g.norm()), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(f_q[k], torch.sigmoid(logits).mean().detach(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(fit[k], f_q[k] + 0.01 * f_d[k])
        torch.testing.assert_close(samples[k], fake, rtol=1e-5, atol=1e-6)
    f_c, _, logits = batched_logit_fitness(pop, slice(2, 5), d, z)
    torch.testing.assert_close(f_c, logits.mean(dim=1))

"""The population store: fused per-row Adam, in-place copies, selection, checkpoint state."""

import pytest
import torch
from torch import nn

from evogan_lightning.engine.population import Population


def make_net() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))


def make_plain_net() -> nn.Module:
    # no bias before batch norm: its gradient is ~0 noise that Adam would amplify
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))


def loss_of(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net(x).pow(2).mean()


def test_adam_matches_torch_adam_per_row():
    torch.manual_seed(0)
    pop = Population(make_plain_net, num_parents=1, num_children=2, lr=1e-2, betas=(0.5, 0.999))
    refs = []
    for slot in range(3):
        ref = make_plain_net()
        ref.load_state_dict(pop.member(slot).state_dict())
        refs.append((ref, torch.optim.Adam(ref.parameters(), lr=1e-2, betas=(0.5, 0.999))))
    xs = [torch.randn(8, 3) for _ in range(3)]
    # Rows take different numbers of steps, so per-row step counts / bias corrections are exercised.
    for it in range(4):
        rows = slice(0, 3) if it % 2 == 0 else slice(1, 3)
        pop.zero_grad(rows)
        for slot in range(rows.start, rows.stop):
            loss_of(pop.member(slot), xs[slot]).backward()
            ref, opt = refs[slot]
            opt.zero_grad()
            loss_of(ref, xs[slot]).backward()
            opt.step()
        pop.adam_step(rows)
    for slot, (ref, opt) in enumerate(refs):
        for p, q in zip(pop.member(slot).parameters(), ref.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)
        state = opt.state[next(ref.parameters())]
        assert float(pop.step[slot]) == float(state["step"])
    assert pop.step.tolist() == [2.0, 4.0, 4.0]


def test_spawn_copies_weights_and_adam_state_and_children_are_independent():
    torch.manual_seed(1)
    pop = Population(make_net, num_parents=2, num_children=4, lr=1e-2, independent_init=True)
    pop.zero_grad(pop.parent_rows)
    for i in range(2):
        loss_of(pop.parent(i), torch.randn(6, 3)).backward()
    pop.adam_step(pop.parent_rows)
    parents_before = pop.params[:2].clone()
    pop.spawn(torch.tensor([0, 0, 1, 1]))
    for j, parent in enumerate([0, 0, 1, 1]):
        slot = 2 + j
        assert torch.equal(pop.params[slot], pop.params[parent])
        for key, value in pop.adam_state(parent).items():
            assert torch.equal(pop.adam_state(slot)[key], value), key
        assert torch.equal(pop.member(slot)[1].running_mean, pop.member(parent)[1].running_mean)
    # Training the children never changes the parents (nothing is aliased).
    pop.zero_grad(pop.children_rows)
    for j in range(4):
        loss_of(pop.child(j), torch.randn(6, 3)).backward()
    pop.adam_step(pop.children_rows)
    assert torch.equal(pop.params[:2], parents_before)
    assert not torch.equal(pop.params[2], pop.params[0])
    assert pop.step.tolist() == [1.0, 1.0, 2.0, 2.0, 2.0, 2.0]


def test_select_carries_weights_and_state_together():
    torch.manual_seed(2)
    pop = Population(make_net, num_parents=2, num_children=3, independent_init=True)
    pop.exp_avg[2:].copy_(torch.arange(3.0).unsqueeze(1))  # tag the children's moments
    pop.step[2:] = torch.tensor([5.0, 6.0, 7.0])
    children = pop.params[2:].clone()
    pop.select(torch.tensor([2, 0]), fitness=torch.tensor([0.9, 0.1]))
    assert torch.equal(pop.params[0], children[2]) and torch.equal(pop.params[1], children[0])
    assert pop.step[:2].tolist() == [7.0, 5.0]
    assert pop.exp_avg[0, 0].item() == 2.0 and pop.exp_avg[1, 0].item() == 0.0
    assert pop.best_index() == 0
    # Module views follow the flat storage.
    x = torch.randn(4, 3)
    pop.parent(0).eval()
    ref = make_net().eval()
    ref.load_state_dict(pop.parent(0).state_dict())
    torch.testing.assert_close(pop.parent(0)(x), ref(x))


def test_best_index_ignores_nan():
    pop = Population(make_net, num_parents=3)
    pop.fitness.copy_(torch.tensor([float("nan"), 0.2, 0.1]))
    assert pop.best_index() == 1
    pop.fitness.fill_(float("nan"))
    assert pop.best_index() == 0


def test_state_dict_holds_parents_only_and_round_trips():
    torch.manual_seed(3)
    pop = Population(make_net, num_parents=2, num_children=5, independent_init=True)
    pop.step.fill_(3.0)
    sd = pop.state_dict()
    assert sd["params"].shape == (2, pop.num_parameters)
    assert sd["exp_avg"].shape == (2, pop.num_parameters) and sd["step"].shape == (2,)
    other = Population(make_net, num_parents=2, num_children=1)
    other.load_state_dict(sd)
    assert torch.equal(other.params[:2], pop.params[:2])
    assert other.step.tolist() == [3.0, 3.0, 0.0]
    x = torch.randn(4, 3)
    torch.testing.assert_close(other.parent(1)(x), pop.parent(1)(x))


def test_load_rejects_other_population_size():
    sd = Population(make_net, num_parents=2).state_dict()
    with pytest.raises(RuntimeError, match="population_size or network architecture differ"):
        Population(make_net, num_parents=3).load_state_dict(sd)


def test_dtype_move_keeps_views():
    pop = Population(make_net, num_parents=1, num_children=1)
    pop.to(torch.float64)
    assert pop.params.dtype == torch.float64
    pop.copy_slots(slice(1, 2), torch.tensor([0]))
    with torch.no_grad():
        pop.params[1].zero_()
    assert all(float(p.detach().abs().sum()) == 0 for p in pop.member(1).parameters())
    pop.zero_grad(slice(0, 1))
    pop.member(0)(torch.randn(4, 3, dtype=torch.float64)).sum().backward()
    assert pop.grads[0].abs().sum() > 0


def test_bad_sizes():
    with pytest.raises(ValueError, match="population_size must be >= 1"):
        Population(make_net, num_parents=0)
    pop = Population(make_net, num_parents=1, num_children=2)
    with pytest.raises(ValueError, match="spawn needs 2"):
        pop.spawn(torch.tensor([0]))


def test_integer_buffers_live_in_flat_rows_and_copy_on_the_device():
    """Batch norm's num_batches_tracked: a row gather like every other state (no host sync, CUDA-graph safe),
    still the tensor the module updates, through device/dtype moves and checkpoints."""
    from evogan_lightning.engine.capture import forbid_host_sync

    pop = Population(make_net, num_parents=2, num_children=2)
    assert pop.int_buffers_flat is not None and pop.int_buffers_flat.shape == (4, 1)
    pop.member(1)(torch.randn(4, 3))  # BN in train mode counts the batch in its flat row
    pop.member(1)(torch.randn(4, 3))
    assert pop.int_buffers_flat[:, 0].tolist() == [0, 2, 0, 0]
    with forbid_host_sync():
        pop.copy_slots(slice(2, 4), torch.tensor([1, 0]))
        pop.spawn(torch.tensor([1, 1]))
    assert pop.int_buffers_flat[:, 0].tolist() == [0, 2, 2, 2]
    pop.to(torch.float64)  # a move keeps the module's buffer a view of its row
    pop.member(3)(torch.randn(4, 3, dtype=torch.float64))
    assert pop.int_buffers_flat[:, 0].tolist() == [0, 2, 2, 3]
    assert pop.member(3)[1].num_batches_tracked.item() == 3
    other = Population(make_net, num_parents=2, num_children=1)
    other.load_state_dict(pop.state_dict())
    assert other.int_buffers_flat[:, 0].tolist() == [0, 2, 0]

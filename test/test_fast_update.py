"""The speed layer (jsrl_learning/learners/fast_update.py): its Adam is torch.optim.Adam, its eager
update is the plain module-and-optimiser update, and its threaded and compiled paths make the eager
update (for IQL, whose update it runs)."""
import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from jsrl_learning.learners.fast_update import FlatParams, Half, SplitUpdate, adam_state, adam_step
from jsrl_learning.learners.iql import IQLConfig, IQLLearner
from learner_helpers import ACT, OBS, random_batch

# A compiled graph fuses kernels and so sums floats in another order; Adam's normalised step at
# lr 1e-2 turns those ulp-level gradient differences into ~1e-4 relative drift after a few
# updates (one CI run measured 3.5e-4). A wrong constant or a stale graph is off by far more.
COMPILED_REL = 2e-3


def test_flat_adam_is_torch_adam():
    torch.manual_seed(0)
    params = [nn.Parameter(torch.randn(4, 3)), nn.Parameter(torch.randn(5))]
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    reference, state = torch.optim.Adam(params, lr=1e-2), adam_state(flat)
    for _ in range(5):
        grads = [torch.randn_like(p) for p in params]
        for p, g in zip(params, grads):
            p.grad = g
        reference.step()
        flat = adam_step(flat, torch.cat([g.reshape(-1) for g in grads]), state, lr=1e-2)
    torch.testing.assert_close(flat, torch.cat([p.detach().reshape(-1) for p in params]))
    assert state["step"].item() == 5.0
    torch.testing.assert_close(state["exp_avg_sq"], torch.cat([reference.state[p]["exp_avg_sq"].reshape(-1)
                                                               for p in params]))


def test_flat_params_are_the_modules_parameters():
    module = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    before = copy.deepcopy(module.state_dict())
    flat = FlatParams(module)
    assert flat.flat.numel() == sum(p.numel() for p in module.parameters()) == 21
    for name, view in flat.views(flat.flat).items():
        assert torch.equal(view, before[name])
    flat.flat.zero_()  # the module reads the flat tensor ...
    assert all(torch.all(p == 0) for p in module.parameters())
    module.load_state_dict(before)  # ... and loading the module writes it
    assert torch.equal(flat.flat[:12], before["0.weight"].reshape(-1))


def toy_networks(seed: int = 0) -> dict[str, nn.Module]:
    torch.manual_seed(seed)
    b = nn.Linear(3, 2)
    return {"a": nn.Linear(3, 2), "b": b, "b_target": copy.deepcopy(b).requires_grad_(False)}


def a_loss(nets, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    loss = (nets.a(x) - nets.b_target(x)).square().mean()
    return loss, loss.detach()


def b_loss(nets, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        goal = nets.a(x).flip(-1)
    loss = (nets.b(x) - goal).square().mean()
    return loss, loss.detach()


TOY_HALVES = [Half(a_loss, trains=("a",), reads=("b_target",)),
              Half(b_loss, trains=("b",), reads=("a",), polyak=("b_target", "b"))]


def test_eager_split_update_is_the_plain_module_update():
    # The plain update: both losses from the networks before the step, one torch.optim.Adam per
    # trained network, then Polyak. Each half reads a network the other one steps. The two Adams
    # round their float32 ops in different orders: ~1e-6 relative apart after four steps, where
    # reading a half-updated network, a wrong rate or a missing Polyak step is off by > 1e-3.
    plain, fast_nets = toy_networks(), toy_networks()
    fast = SplitUpdate(fast_nets, TOY_HALVES, lr=1e-2, tau=0.1, compile=False, compile_after=0, owner="toy")
    optimisers = [torch.optim.Adam(plain[name].parameters(), lr=1e-2) for name in ("a", "b")]
    for step in range(4):
        x = torch.randn(8, 3, generator=torch.Generator().manual_seed(step))
        modules = SimpleNamespace(**plain)  # the losses run on the modules themselves
        losses = [a_loss(modules, x), b_loss(modules, x)]
        for optimiser, (loss, _) in zip(optimisers, losses):
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            for target, source in zip(plain["b_target"].parameters(), plain["b"].parameters()):
                target.lerp_(source, 0.1)
        metrics = fast((x,))
        assert [m.item() for m in metrics] == pytest.approx([loss.item() for loss, _ in losses], rel=1e-5)
    for name, module in plain.items():
        for p, q in zip(module.parameters(), fast_nets[name].parameters()):
            torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6)


def test_a_network_a_half_does_not_declare_cannot_be_read():
    nets = toy_networks()
    update = SplitUpdate(nets, [Half(a_loss, trains=("a",))], lr=1e-2, tau=0.1, compile=False, compile_after=0,
                         owner="toy")
    with pytest.raises(AttributeError, match="b_target"):
        update((torch.randn(4, 3),))


@pytest.mark.parametrize("halves, match", [
    ([Half(a_loss, trains=("c",))], "unknown networks"),
    ([Half(a_loss, trains=("a",)), Half(b_loss, trains=("a",))], "written by two halves"),
    ([Half(b_loss, trains=("b",), polyak=("b_target", "a"))], "Polyak source 'a'"),
])
def test_inconsistent_halves_are_refused(halves, match):
    with pytest.raises(ValueError, match=match):
        SplitUpdate(toy_networks(), halves, lr=1e-2, tau=0.1, compile=False, compile_after=0, owner="toy")


def iql(**overrides) -> IQLLearner:
    return IQLLearner(IQLConfig(**{"hidden": [16, 16], "lr": 1e-2, "reward_shift": -1.0, **overrides}), OBS, ACT)


def flat_state(learner: IQLLearner) -> dict[str, torch.Tensor]:
    return {name: flat.flat.clone() for name, flat in learner.update_rule.flat.items()}


def test_two_update_threads_make_the_plain_update():
    plain, threaded = iql(compile=False), iql(compile=False, update_threads=2)
    for step in range(5):
        batch = random_batch(seed=step)
        assert plain.update(batch) == threaded.update(batch)
    for name, tensor in flat_state(plain).items():
        assert torch.equal(tensor, threaded.update_rule.flat[name].flat), name


def test_no_module_is_called_by_two_halves_at_once():
    """functional_call swaps a module's parameters while it runs: IQL's V is called by both halves,
    and with one shared module the threaded update read the other thread's V (1 run in 5 failed above)."""
    modules = iql(compile=False, update_threads=2).update_rule._half_modules
    ids = [id(module) for per_half in modules for module in per_half.values()]
    assert len(ids) == len(set(ids))
    assert "value" in modules[0] and "value" in modules[1]


def assert_metrics_close(ours: dict, theirs: dict, rel: float) -> None:
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, rel=rel, abs=1e-6), key


def test_compiled_and_threaded_update_matches_the_plain_update():
    # Two compiled learners of one shape but different settings, updated in turn: each compiled
    # graph must keep its own learner's constants (compiled entries are per learner).
    torch.set_num_threads(1)  # the states below are counted from one torch thread, whatever ran before
    pairs = [(iql(compile=False, hidden=[8], **kw),
              iql(compile=True, compile_after=2, update_threads=2, hidden=[8], **kw))
             for kw in ({}, {"lr": 1e-3, "reward_shift": 0.0, "expectile": 0.7})]  # hidden [8]: quick to compile
    batches = [random_batch(seed=s) for s in range(3)] + [random_batch(n=8, seed=3), random_batch(seed=4)]
    for batch in batches:  # eager, compiled (first call), compiled on two threads, another size, back
        for plain, fast in pairs:
            assert_metrics_close(fast.update(batch), plain.update(batch), COMPILED_REL)
    plain, fast = pairs[0]
    # one compiled function per state (batch size, torch threads, grad mode): each holds one graph
    assert {(shapes[0][0], threads, grad) for shapes, threads, grad in fast.update_rule.compiled} == {
        (20, 1, True), (8, 1, True)}
    torch.set_num_threads(2)  # another thread count: compiled for it, not a refused guard skip
    try:
        assert_metrics_close(fast.update(batches[0]), plain.update(batches[0]), COMPILED_REL)
    finally:
        torch.set_num_threads(1)
    assert len(fast.update_rule.compiled) == 3
    for name, tensor in flat_state(plain).items():
        torch.testing.assert_close(fast.update_rule.flat[name].flat, tensor, rtol=COMPILED_REL, atol=1e-5)
    assert np.isfinite(fast.update(batches[0])["q_loss"]) and fast.updates == plain.updates + 1 == 7

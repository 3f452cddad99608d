"""CEM finds the argmax of known functions over a box, batched, and stays inside the box."""
import pytest
import torch

from jsrl_learning.config import ConfigError, from_mapping
from jsrl_learning.learners.cem import CEMConfig, cem_maximize

LOW, HIGH = torch.tensor([-1.0, -2.0, 0.0]), torch.tensor([1.0, 2.0, 3.0])


def concave(targets: torch.Tensor):
    """Score -(a - a*)^2 summed over dimensions, one a* per batch row."""
    return lambda a: -(a - targets.unsqueeze(1)).square().sum(-1)


def test_finds_interior_maximisers_of_a_batch():
    targets = torch.tensor([[0.5, -1.5, 2.5], [-0.8, 1.0, 0.2], [0.0, 0.0, 1.5], [0.9, 1.9, 0.1]])
    gen = torch.Generator().manual_seed(0)
    best, score = cem_maximize(concave(targets), 4, LOW, HIGH, n_samples=200, n_iters=6, n_elites=20,
                               generator=gen)
    assert best.shape == (4, 3) and score.shape == (4,)
    assert torch.allclose(best, targets, atol=0.05)


def test_default_settings_beat_the_box_centre_by_far():
    targets = torch.tensor([[0.5, -1.5, 2.5], [-0.8, 1.0, 0.2]])
    gen = torch.Generator().manual_seed(1)
    best, _ = cem_maximize(concave(targets), 2, LOW, HIGH, generator=gen)
    centre_error = (targets - (LOW + HIGH) / 2).norm(dim=1)
    assert torch.all((best - targets).norm(dim=1) < 0.3 * centre_error)


def test_maximiser_outside_the_box_ends_on_its_boundary():
    targets = torch.tensor([[5.0, 0.0, -4.0]])
    best, _ = cem_maximize(concave(targets), 1, LOW, HIGH, n_samples=100, n_iters=4, n_elites=10,
                           generator=torch.Generator().manual_seed(2))
    assert torch.allclose(best, torch.tensor([[1.0, 0.0, 0.0]]), atol=0.05)


def test_returns_in_bounds_actions_with_their_own_scores():
    targets = torch.randn(5, 3, generator=torch.Generator().manual_seed(3)) * 4
    fn = concave(targets)
    best, score = cem_maximize(fn, 5, LOW, HIGH, generator=torch.Generator().manual_seed(4))
    assert torch.all(best >= LOW) and torch.all(best <= HIGH)
    assert torch.allclose(score, fn(best.unsqueeze(1)).squeeze(1))


def test_same_generator_seed_same_result():
    fn = concave(torch.tensor([[0.3, 0.3, 0.3]]))
    a, _ = cem_maximize(fn, 1, LOW, HIGH, generator=torch.Generator().manual_seed(5))
    b, _ = cem_maximize(fn, 1, LOW, HIGH, generator=torch.Generator().manual_seed(5))
    c, _ = cem_maximize(fn, 1, LOW, HIGH, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("data, key", [
    ({"n_samples": 0}, "n_samples"),
    ({"n_samples": 4, "n_elites": 6}, "n_elites"),
    ({"n_iters": 0}, "n_iters"),
    ({"n_elite": 3}, "n_elite"),
])
def test_bad_config_names_the_key(data, key):
    with pytest.raises(ConfigError, match=key):
        from_mapping(CEMConfig, data, "learner.cem")


def test_bad_arguments_are_refused():
    with pytest.raises(ConfigError, match="n_elites"):
        cem_maximize(concave(torch.zeros(1, 3)), 1, LOW, HIGH, n_samples=4, n_elites=5)

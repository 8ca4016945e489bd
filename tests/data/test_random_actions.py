"""The simulators' random actions."""
import numpy as np

from lawm_jax.data.random_actions import smooth_actions


def test_smooth_actions_have_the_asked_statistics():
    a = smooth_actions(np.random.default_rng(0), 20000, scale=[0.5, 2.0], correlation=0.8, mean=[1.0, 0.0])
    np.testing.assert_allclose(a.mean(0), [1.0, 0.0], atol=0.1)
    np.testing.assert_allclose(a.std(0), [0.5, 2.0], rtol=0.05)
    lag1 = np.corrcoef(a[1:, 0], a[:-1, 0])[0, 1]
    assert abs(lag1 - 0.8) < 0.02

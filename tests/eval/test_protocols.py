"""The evaluations on cases whose answer is known: fake world models (an oracle that
knows the next frame, one that only copies, one whose latents are exact state deltas)
on smooth random clips of distinct 'videos'."""
import jax.numpy as jnp
import numpy as np
import pytest

from lawm_jax.eval import scoring
from lawm_jax.eval.capacity import capacity, latent_stats
from lawm_jax.eval.leakage import leakage, partners, splice
from lawm_jax.eval.motion_probe import motion_r2, probe_r2
from lawm_jax.eval.sampling import separability
from lawm_jax.eval.pictures import ROWS, rollout_examples
from lawm_jax.eval.transfer import cycle, transfer, transfer_steps

Q = 2  # frames per step


def clips(m=6, t=4, size=12, seed=0):
    """m clips of t steps: each a random colour field drifting slowly (so that copying the
    last step is good within a clip and bad across clips)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 255, (m, 1, size, size, 3))
    drift = rng.normal(0, 8, (m, t * Q, 1, 1, 3)).cumsum(1)
    return np.clip(base + drift, 0, 255).astype(np.uint8), np.arange(m)


class FakeModel:
    """States: the mean of each step's frames, as 4 tokens of 3*16 channels."""

    def __init__(self, kind):
        self.kind = kind

    def encode(self, video):
        b, f, h, w, c = video.shape
        x = jnp.asarray(video, jnp.float32).reshape(b, f // Q, Q, h, w, c).mean(2) / 255.0
        x = x.reshape(b, f // Q, 2, h // 2, 2, w // 2, c).transpose(0, 1, 2, 4, 3, 5, 6)
        return x.reshape(b, f // Q, 4, -1)

    def infer_actions(self, states):
        b, t = states.shape[:2]
        if self.kind == "copy":      # knows nothing of the future
            return jnp.zeros((b, t - 1, 1))
        if self.kind == "oracle":    # the latent IS the next state: a leaking model
            return states[:, 1:].reshape(b, t - 1, -1)
        return (states[:, 1:] - states[:, :-1]).reshape(b, t - 1, -1)  # "delta": exact actions

    def predict(self, states, latents):
        if self.kind == "copy":
            return states
        z = latents.reshape(states.shape)
        return z + 0.01 if self.kind == "oracle" else states + z  # the oracle is off by 0.01 everywhere

    def rollout(self, context, latents):
        out, s = [], context[:, -1]
        for k in range(latents.shape[1]):
            s = self.predict(s[:, None], latents[:, k:k + 1])[:, 0]
            out.append(s)
        return jnp.stack(out, 1)


def test_identical_inputs_give_zero_error():
    video, _ = clips()
    states = FakeModel("copy").encode(video)
    assert float(np.max(scoring.state_errors(states, states))) == 0.0
    m = scoring.pixel_errors(video.astype(np.float32) / 255.0, video, Q)
    assert m["pixel_l1"].shape == (6, 4) and float(m["pixel_l1"].max()) < 1e-7  # x / 255 rounding
    assert float(m["psnr"].min()) > 120 and np.allclose(m["ssim"], 1.0, atol=1e-6)


def test_capacity_orders_oracle_below_copy():
    video, _ = clips()
    oracle = capacity(FakeModel("oracle"), video, batch_size=4)
    copy = capacity(FakeModel("copy"), video, batch_size=4)
    assert abs(oracle["model"]["repr_l1"] - 0.01) < 1e-6
    np.testing.assert_allclose(copy["model"]["repr_l1"], copy["copy_last"]["repr_l1"], rtol=1e-6)
    assert copy["model"]["repr_l1"] > 2 * oracle["model"]["repr_l1"] and oracle["clips"] == 6


def test_splice_and_partners():
    a = np.zeros((2, 8, 4, 4, 3), np.uint8)
    b = np.full((2, 8, 4, 4, 3), 9, np.uint8)
    s = splice(a, b, 4)
    assert s[:, :4].max() == 0 and s[:, 4:].min() == 9
    p = partners(np.array([0, 0, 0, 1, 1, 2]))
    assert all(np.array([0, 0, 0, 1, 1, 2])[p] != np.array([0, 0, 0, 1, 1, 2]))
    with pytest.raises(ValueError, match="at least two videos"):
        partners(np.zeros(4, int))


def test_leakage_finds_the_cut_and_spares_no_model():
    video, ids = clips(m=8, t=5)
    copy = leakage(FakeModel("copy"), video, ids, Q, cut_step=3, batch_size=3)
    profile = np.asarray(copy["model"]["repr_l1"]["profile"])
    assert profile.argmax() == 2          # transition 2 predicts step 3, the cut
    assert copy["model"]["repr_l1"]["ratio"] > 3
    # A model whose latent carries the next state shows no jump: ratio 1.
    oracle = leakage(FakeModel("oracle"), video, ids, Q, cut_step=3)
    assert abs(oracle["model"]["repr_l1"]["ratio"] - 1) < 1e-4
    assert oracle["copy_last"]["repr_l1"]["ratio"] > 3  # the reference still sees the cut
    with pytest.raises(ValueError, match="cut_step"):
        leakage(FakeModel("copy"), video, ids, Q, cut_step=5)


def test_transfer_of_exact_actions_is_lossless_and_of_no_actions_costs_nothing():
    video, ids = clips(m=6, t=4)
    delta = FakeModel("delta")
    s = delta.encode(video)
    a_orig, a_trans, b_pred = cycle(delta, s[:3], s[3:], context=1)
    np.testing.assert_allclose(np.asarray(a_trans), np.asarray(a_orig), atol=1e-6)
    np.testing.assert_allclose(np.asarray(a_orig), np.asarray(s[:3, 1:]), atol=1e-6)
    # B moved by A's actions: B's start plus A's displacement
    np.testing.assert_allclose(np.asarray(b_pred), np.asarray(s[3:, :1] + s[:3, 1:] - s[:3, :1]), atol=1e-6)
    result = transfer(FakeModel("copy"), video, ids, Q, context=2, batch_size=4)
    assert result["ratio"]["repr_l1"] == 1.0 and result["predicted_steps"] == 2
    np.testing.assert_allclose(result["original"]["repr_l1"], result["copy_last"]["repr_l1"], rtol=1e-6)


def test_latent_statistics_tell_sparse_codes_from_dense_ones():
    rng = np.random.default_rng(0)
    one_hot = np.eye(8)[rng.integers(0, 4, 100)] * rng.uniform(1, 3, (100, 1))  # 1-sparse, 4 dimensions used
    s = latent_stats(one_hot)
    assert s["participation"] == pytest.approx(1.0) and s["near_zero"] == pytest.approx(7 / 8)
    assert s["active_dims"] == 4 and s["l1_norm"] == pytest.approx(s["l2_norm"])
    dense = latent_stats(np.sign(rng.normal(size=(100, 8))))  # every entry +-1
    assert dense["participation"] == pytest.approx(8.0) and dense["near_zero"] == 0 and dense["active_dims"] == 8
    assert latent_stats(np.zeros((10, 8)))["active_dims"] == 0  # the deterministic model's


def test_the_transfer_predicts_the_papers_two_seconds():
    assert transfer_steps(2.0, 4.0, 2) == 4      # the paper: 8 frames, 4 latent steps
    assert transfer_steps(2.0, 4.0, 1) == 8      # one state per frame
    assert transfer_steps(0.1, 4.0, 2) == 1      # at least one step


def test_separability():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 5))
    assert abs(separability(a, rng.normal(size=(400, 5))) - 0.5) < 0.08
    assert separability(a, rng.normal(size=(400, 5)) + np.array([6, 0, 0, 0, 0])) > 0.98  # Bayes: 0.9987
    assert separability(a, 0.01 * rng.normal(size=(400, 5))) > 0.95  # same mean, collapsed spread


def test_rollout_pictures_come_from_distinct_videos():
    video, _ = clips(m=8, t=4)
    ids = np.array([0, 0, 0, 1, 1, 2, 2, 2])

    def decode(states):  # grey frames of the right shape
        return np.full((states.shape[0], states.shape[1] * Q, 12, 12, 3), 0.5, np.float32)

    examples = rollout_examples(FakeModel("delta"), video, ids, Q, count=3, decode=decode)
    assert len(examples) == 3 and list(examples[0]) == list(ROWS)
    partner = partners(ids)
    for example, clip in zip(examples, (0, 3, 5)):  # the first window of each video
        np.testing.assert_array_equal(example["A: real"], video[clip])
        np.testing.assert_array_equal(example["B: real"], video[partner[clip]])
    grid = examples[0]["A: IDM rollout"]
    assert grid.shape == video[0].shape and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[:Q], video[0][:Q])  # real context, then decoded frames
    assert np.all(grid[Q:] == 128)
    np.testing.assert_array_equal(examples[0]["B: A's latents"][:Q], video[partner[0]][:Q])


def test_rollout_pictures_without_decoder_show_states():
    """The oracle's rollout equals A's real states, so its colours are A's; copying the
    last state repeats the context's colours."""
    video, ids = clips(m=4, t=4)
    oracle = rollout_examples(FakeModel("delta"), video, ids, Q, count=2, grid=(2, 2))
    assert len(oracle) == 2
    for example in oracle:
        assert all(v.shape == (4, 2, 2, 3) and v.dtype == np.uint8 for v in example.values())
        diff = np.abs(example["A: IDM rollout"].astype(int) - example["A: real"])
        assert diff.max() <= 1  # equal up to float rounding at a colour's quantisation edge
        assert example["A: real"].std() > 5  # colours, not a flat image
    copy = rollout_examples(FakeModel("copy"), video, ids, Q, count=1, grid=(2, 2))[0]
    assert np.all(copy["A: IDM rollout"] == copy["A: IDM rollout"][:1])
    assert not np.array_equal(copy["A: IDM rollout"], copy["A: real"])


def test_the_motion_probe_reads_linear_motion_and_nothing_from_noise():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 8))
    motion = z[:, :3] @ rng.normal(size=(3, 4)) + 0.01 * rng.normal(size=(400, 4))
    assert probe_r2(z[:200], motion[:200], z[200:], motion[200:]) > 0.99
    unrelated = rng.normal(size=(400, 4))
    assert abs(probe_r2(z[:200], unrelated[:200], z[200:], unrelated[200:])) < 0.1
    wide = rng.normal(size=(400, 64))  # many features of nothing: the chosen ridge keeps R^2 near 0
    assert abs(probe_r2(wide[:200], unrelated[:200], wide[200:], unrelated[200:])) < 0.05
    zeros = np.zeros((400, 8))  # the deterministic model's latent carries nothing
    assert abs(probe_r2(zeros[:200], motion[:200], zeros[200:], motion[200:])) < 0.05


def test_motion_r2_tells_what_the_latent_and_the_states_carry():
    """A latent that carries the camera and not the agents; states that carry both (mixed
    into many dimensions): the probes say so, and a part that never moves is left out."""
    rng = np.random.default_rng(1)
    camera, agents = rng.normal(size=(600, 3)), rng.normal(size=(600, 4))
    z = np.concatenate([camera @ rng.normal(size=(3, 3)), rng.normal(size=(600, 5))], axis=1)
    change = np.concatenate([camera, agents], axis=1) @ rng.normal(size=(7, 40))
    r2 = motion_r2(z, change, {"camera": camera, "agents": agents, "still": np.zeros((600, 2))})
    assert set(r2) == {"state change", "camera", "state change -> camera", "agents", "state change -> agents"}
    assert r2["camera"] > 0.99 and abs(r2["agents"]) < 0.05
    assert r2["state change -> camera"] > 0.99 and r2["state change -> agents"] > 0.99
    assert 0.2 < r2["state change"] < 0.8  # the camera's share of the state change's main directions

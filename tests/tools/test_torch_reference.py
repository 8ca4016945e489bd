"""The PyTorch timing reference has lawm_jax's shapes, optimizer split and arithmetic."""
import dataclasses
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the [convert] extra (torch) is not installed")
pytest.importorskip("transformers", reason="the [convert] extra (transformers) is not installed")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from lawm_jax.objective import lam_loss  # noqa: E402
from lawm_jax.train.optimizer import muon_dimension_numbers  # noqa: E402
from lawm_jax.world_model import WorldModel  # noqa: E402
from tests.helpers import tiny_world_model_config  # noqa: E402
from tools import torch_reference  # noqa: E402


def square_config(kind="noisy", residual=False):
    """The tiny test model on square 12x12 frames (Hugging Face's VJEPA2 assumes square
    crops): 5 steps of a 3x3 grid, head dims 26 (encoder) and 20 (IDM, predictor), both
    with unrotated RoPE channels; the encoder's MLP ratio 56/52 is not a round number."""
    cfg = dataclasses.replace(tiny_world_model_config(kind), image_size=(12, 12))
    return dataclasses.replace(cfg, predictor=dataclasses.replace(cfg.predictor, residual=residual))


def count(tree):
    return sum(math.prod(x.shape) for x in jax.tree.leaves(tree))


def param_shapes(cfg):
    """lawm_jax's parameter tree as shapes: traced, not compiled (seconds saved)."""
    return jax.eval_shape(WorldModel(cfg).init, jax.random.key(0))


def torch_count(model, prefix):
    return sum(math.prod(s) for k, s in torch_reference.trainable_shapes(model).items() if k.startswith(prefix))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny matrices: with several OpenMP threads the synchronisation dominates, and on a
    shared, busy machine a descheduled thread stalls every op (seen: 60x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def noisy():
    cfg = square_config("noisy")
    torch.manual_seed(0)
    return cfg, param_shapes(cfg), torch_reference.TorchLAM(cfg)


@pytest.mark.parametrize("kind", ["noisy", "deterministic"])
def test_trainable_parameters_match_lawm_jax(kind, noisy):
    cfg, params, model = noisy if kind == "noisy" else (square_config(kind), None, None)
    params = params or param_shapes(cfg)
    model = model or torch_reference.TorchLAM(cfg)
    assert not params["bottleneck"]  # only vq has bottleneck parameters
    trained = {k: v for k, v in params.items() if k not in ("encoder", "bottleneck")}
    assert sum(math.prod(s) for s in torch_reference.trainable_shapes(model).values()) == count(trained)
    for net in ("idm", "predictor"):
        assert torch_count(model, net + ".") == (count(params[net]) if net in params else 0), net
    # The same matrices go to Muon: lawm_jax's hidden kernels, one torch weight each.
    muon, adam = torch_reference.make_optimizer(model)
    n_muon = sum(d is not None for d in jax.tree.leaves(muon_dimension_numbers(trained),
                                                         is_leaf=lambda x: x is None or hasattr(x, "reduction_axis")))
    assert len(muon.param_groups[0]["params"]) == n_muon > 0
    assert len(adam.param_groups[0]["params"]) == len(jax.tree.leaves(trained)) - n_muon


def test_encoder_parameters_match_lawm_jax(noisy):
    cfg, params, model = noisy
    hf = model.encoder.encoder  # VJEPA2Model.encoder; its (skipped) predictor is not ours
    assert sum(p.numel() for p in hf.parameters()) == count(params["encoder"])
    assert not any(p.requires_grad for p in model.encoder.parameters())
    assert hf.layer[0].mlp.fc1.out_features == cfg.encoder.mlp_hidden
    video = np.random.default_rng(0).integers(0, 256, (2, cfg.frames, 12, 12, 3), np.uint8)
    states = model.encode(video)
    assert states.shape == (2, cfg.steps, 9, cfg.encoder.width)
    assert torch.allclose(states.mean(-1), torch.zeros(()), atol=1e-5)  # LayerNorm'd, as normalize_states


def load_flax(module, tree, prefix):
    """Copies a Flax parameter tree into the torch module's parameters; returns the names filled."""
    own, filled = dict(module.named_parameters()), set()
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        names = [prefix] + [k.key for k in path]
        names = [f"layers.{n[6:]}" if n.startswith("layer_") else n for n in names]
        last = names[-1]
        names[-1] = {"kernel": "weight", "scale": "weight"}.get(last, last)
        p, a = own[".".join(names)], np.asarray(leaf)
        if last == "kernel":  # Flax (in..., out...) -> torch (out, in)
            a = a.reshape(p.shape[1], p.shape[0]).T
        with torch.no_grad():
            p.copy_(torch.tensor(a.reshape(p.shape)))
        filled.add(".".join(names))
    return filled


@pytest.mark.slow  # two compiled losses; the benchmark's reference only
@pytest.mark.parametrize("kind,residual,train", [("noisy", False, False), ("sparse", True, True)])
def test_same_weights_same_loss(kind, residual, train, noisy):
    """With the same IDM and predictor weights (random everywhere: AdaLN-zero's zeros would
    hide the conditioning) and the same states, the torch loss is lawm_jax's: same RoPE
    layout, masks, blocks and bottleneck loss. The noisy one is compared at its mean (eval
    mode, lawm_jax's train=False); in training it samples, so the loss moves."""
    cfg = square_config(kind, residual)
    model = noisy[2] if (kind, residual) == ("noisy", False) else torch_reference.TorchLAM(cfg)
    wm, rng = WorldModel(cfg), np.random.default_rng(1)
    params = jax.tree.map(lambda x: (0.3 * rng.normal(size=x.shape)).astype(np.float32),
                          {k: v for k, v in param_shapes(cfg).items() if k in ("idm", "predictor")})
    filled = load_flax(model, params["idm"], "idm") | load_flax(model, params["predictor"], "predictor")
    assert filled == set(torch_reference.trainable_shapes(model))
    states = np.random.default_rng(2).normal(size=(2, cfg.steps, 9, cfg.encoder.width)).astype(np.float32)
    ref = jax.jit(lambda p, s: lam_loss(wm, p, s, jax.random.key(0), train=train)[0])(
        {**params, "bottleneck": {}}, jnp.asarray(states))
    model.train(train)
    with torch.no_grad():
        ours = model.loss_from_states(torch.from_numpy(states)).item()
    assert abs(ours - float(ref)) < 1e-4 * max(1.0, abs(float(ref))), (ours, float(ref))
    if kind == "noisy":
        model.train()
        with torch.no_grad():
            assert abs(model.loss_from_states(torch.from_numpy(states)).item() - ours) > 1e-3


def test_train_steps_run_and_reduce_the_loss():
    cfg = square_config("noisy")
    torch.manual_seed(0)
    model = torch_reference.TorchLAM(cfg).train()
    optimizers = torch_reference.make_optimizer(model)
    video = np.random.default_rng(0).integers(0, 256, (2, cfg.frames, 12, 12, 3), np.uint8)
    losses = [torch_reference.train_step(model, optimizers, video) for _ in range(10)]
    assert all(math.isfinite(x) for x in losses), losses
    assert losses[-1] < 0.9 * losses[0], losses  # one batch, ten steps: it must fit


def test_reference_muon_is_torchs_muon_in_bf16_and_differs_in_float32():
    """The reference's Muon (Newton-Schulz in a chosen dtype) steps as torch.optim.Muon
    does with bf16, and float32 products change the update (they are the option)."""
    from tools.torch_reference import Muon
    torch.manual_seed(0)
    start = [torch.randn(24, 40), torch.randn(40, 16)]
    runs = {}
    for name, make in (("torch", lambda ps: torch.optim.Muon(ps, lr=0.02, weight_decay=0.04)),
                       ("bf16", lambda ps: Muon(ps, lr=0.02, weight_decay=0.04)),
                       ("f32", lambda ps: Muon(ps, lr=0.02, weight_decay=0.04, ns_dtype=torch.float32))):
        ps = [torch.nn.Parameter(w.clone()) for w in start]
        opt, gen = make(ps), torch.Generator().manual_seed(1)
        for _ in range(4):
            for p in ps:
                p.grad = torch.randn(p.shape, generator=gen)
            opt.step()
        runs[name] = [p.detach() for p in ps]
    for ours, theirs, first in zip(runs["bf16"], runs["torch"], start):
        assert torch.equal(ours, theirs) and not torch.equal(ours, first)
    assert all(0 < float((a - b).abs().max()) < 0.05 for a, b in zip(runs["f32"], runs["torch"]))

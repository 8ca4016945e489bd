"""LPIPS-VGG16 against an independent PyTorch computation of the reference formula,
with random weights (the pretrained ones cannot be downloaded here)."""
import subprocess
import sys

import jax
import numpy as np
import pytest

from lawm_jax.models import lpips
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
    return lpips.load_lpips(str(path))


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
    shapes = lpips.param_shapes()
    arrays = {k: np.zeros(s, np.float32) for k, s in shapes.items() if k != "lin/2"}
    arrays["vgg/conv1_1/bias"] = np.zeros(7, np.float32)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"lin/2: missing.*|.*conv1_1/bias: shape"):
        lpips.load_lpips(str(path))
    with pytest.raises(FileNotFoundError, match="convert_lpips"):
        lpips.load_lpips(str(tmp_path / "nowhere.npz"))


def test_convert_command(tmp_path):
    vgg, lin = random_torch_states(1)
    torch.save(vgg, tmp_path / "vgg.pth")
    torch.save(lin, tmp_path / "lin.pth")
    out = tmp_path / "w.npz"
    subprocess.run([sys.executable, "tools/convert_lpips.py", f"--vgg={tmp_path / 'vgg.pth'}",
                    f"--lin={tmp_path / 'lin.pth'}", f"--output={out}"], check=True, capture_output=True)
    params = lpips.load_lpips(str(out))
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

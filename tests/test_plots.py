"""The pictures: each file written, of the expected size, and not blank."""
import numpy as np
from PIL import Image

from lawm_jax import plots


def picture(path):
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.std() > 5, f"{path} is blank"
    return img


def test_frame_grid_layout(tmp_path):
    rng = np.random.default_rng(0)
    rows = {"real": rng.integers(0, 255, (4, 10, 12, 3), np.uint8),
            "predicted (short)": rng.integers(0, 255, (3, 10, 12, 3), np.uint8)}
    img = picture(plots.frame_grid(rows, str(tmp_path / "g.png"), scale=2, gap=1))
    label_w = 8 + 7 * len("predicted (short)")
    assert img.shape == (2 * (20 + 1), label_w + 4 * (24 + 1), 3)
    # frame 0 of row 0 sits right of the label, upscaled 2x (nearest)
    np.testing.assert_array_equal(img[0:20:2, label_w:label_w + 24:2], rows["real"][0])
    assert np.all(img[21:41, label_w + 3 * 25:label_w + 3 * 25 + 24] == 128)  # padding of the short row


def test_capacity_scaling_and_profile_plots(tmp_path):
    rows = [{"kind": "sparse", "coef": c, "repr_l1": 0.2 + c} for c in (0.4, 0.1, 0.01)]
    rows += [{"kind": "noisy", "coef": c, "repr_l1": 0.2 + 10 * c} for c in (1e-2, 1e-4)]
    rows += [{"kind": "vq", "coef": n, "repr_l1": 0.5 - n / 1e4} for n in (8, 512)]
    rows += [{"kind": k, "coef": None, "repr_l1": v} for k, v in
             (("deterministic", 0.6), ("unconstrained", 0.2), ("copy_last", 0.7))]
    assert picture(plots.capacity_curve(rows, str(tmp_path / "c.png"))).shape == (420, 800, 3)
    scaling = [{"kind": k, "axis": a, "value": v, "repr_l1": 1 / v} for k in ("sparse", "noisy")
               for a, vs in (("steps", (10, 20)), ("width", (0.5, 1)), ("data", (0.25, 1))) for v in vs]
    assert picture(plots.scaling_curves(scaling, str(tmp_path / "s.png"))).shape == (320, 1020, 3)
    assert picture(plots.leakage_profile({"model": [1, 3, 1]}, 2, str(tmp_path / "p.png"))).shape == (320, 500, 3)

"""PSNR and SSIM against scikit-image's implementations (the reference)."""
import numpy as np
import pytest

from lawm_jax.models.pixel_metrics import psnr, ssim

metrics = pytest.importorskip("skimage.metrics", reason="scikit-image comes with the [sim] extra")


def image_pairs():
    rng = np.random.default_rng(0)
    noise = rng.random((2, 24, 20, 3), np.float32)
    yy, xx = np.mgrid[:24, :20] / 20.0
    smooth = np.stack([np.sin(3 * xx + yy), np.cos(2 * yy), xx * yy], -1).astype(np.float32) * 0.5 + 0.5
    yield noise[0], noise[1]                                                   # unrelated
    yield smooth, np.clip(smooth + 0.05 * rng.standard_normal(smooth.shape), 0, 1).astype(np.float32)
    yield smooth, np.roll(smooth, 2, axis=1)                                   # shifted


@pytest.mark.parametrize("pair", list(image_pairs()), ids=["noise", "noisy_copy", "shifted"])
def test_match_scikit_image(pair):
    a, b = pair
    want_ssim = metrics.structural_similarity(a, b, data_range=1.0, channel_axis=-1, gaussian_weights=True,
                                              sigma=1.5, use_sample_covariance=False)
    assert float(ssim(a, b)) == pytest.approx(want_ssim, abs=2e-5)
    assert float(psnr(a, b)) == pytest.approx(metrics.peak_signal_noise_ratio(a, b, data_range=1.0), rel=1e-5)


def test_batched_and_edge_cases():
    pairs = list(image_pairs())
    a = np.stack([p[0] for p in pairs])[None]  # (1, 3, H, W, C): leading axes are kept
    b = np.stack([p[1] for p in pairs])[None]
    assert ssim(a, b).shape == (1, 3) and psnr(a, b).shape == (1, 3)
    np.testing.assert_allclose(ssim(a, b)[0], [float(ssim(x, y)) for x, y in pairs], rtol=1e-5)
    assert float(ssim(a[0, 1], a[0, 1])) == pytest.approx(1.0, abs=1e-6)
    assert np.isinf(float(psnr(a[0, 1], a[0, 1])))
    with pytest.raises(ValueError, match="at least 11x11 pixels; got 8x32"):
        ssim(np.zeros((8, 32, 3)), np.zeros((8, 32, 3)))

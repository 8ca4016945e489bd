"""Pixel-space metrics that need no pretrained network: PSNR and SSIM, in JAX.

Images are (..., H, W, C) in [0, data_range]; both functions return one value per image
(leading axes kept), so they vmap, jit and average however the caller needs. SSIM is
Wang et al. (2004) with the usual settings, matching scikit-image's
structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
channel_axis=-1): an 11-tap Gaussian window, K1 = 0.01, K2 = 0.03, the mean over the
valid (unpadded) region and over channels.
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np


def psnr(a, b, data_range: float = 1.0):
    """Peak signal-to-noise ratio in dB per image; inf for identical images."""
    mse = jnp.mean((jnp.asarray(a, jnp.float32) - jnp.asarray(b, jnp.float32)) ** 2, axis=(-3, -2, -1))
    return 10.0 * jnp.log10(data_range ** 2 / mse)


def _gaussian_taps(sigma: float = 1.5, truncate: float = 3.5) -> np.ndarray:
    radius = int(truncate * sigma + 0.5)  # scipy.ndimage's rule: 5 for sigma 1.5 -> 11 taps
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (x / sigma) ** 2)
    return (taps / taps.sum()).astype(np.float32)


def _blur_valid(x, taps):
    """Separable Gaussian over H and W of (N, H, W, C), valid region only."""
    k = taps.shape[0]
    rows = sum(taps[i] * x[:, i:x.shape[1] - k + 1 + i] for i in range(k))
    return sum(taps[i] * rows[:, :, i:x.shape[2] - k + 1 + i] for i in range(k))


def ssim(a, b, data_range: float = 1.0, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03):
    """Structural similarity per image (mean over the valid region and channels)."""
    a = jnp.asarray(a, jnp.float32)
    b = jnp.asarray(b, jnp.float32)
    lead, (h, w, c) = a.shape[:-3], a.shape[-3:]
    taps = _gaussian_taps(sigma)
    if min(h, w) < taps.shape[0]:
        raise ValueError(f"SSIM needs images of at least {taps.shape[0]}x{taps.shape[0]} pixels; got {h}x{w}")
    a, b = a.reshape(-1, h, w, c), b.reshape(-1, h, w, c)
    blur = functools.partial(_blur_valid, taps=taps)
    ua, ub = blur(a), blur(b)
    va = blur(a * a) - ua * ua
    vb = blur(b * b) - ub * ub
    cov = blur(a * b) - ua * ub
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * ua * ub + c1) * (2 * cov + c2)) / ((ua ** 2 + ub ** 2 + c1) * (va + vb + c2))
    return jnp.mean(s, axis=(-3, -2, -1)).reshape(lead)

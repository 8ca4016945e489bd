"""The real footage bundled with the package: the tiny config's default data."""
import os
import re

import numpy as np

from configs import tiny
from lawm_jax.data.clips import BUNDLED_FOOTAGE, ClipSpec, build_index, load_clip


def test_bundled_footage_is_real_usable_video_with_licences():
    files = sorted(f for f in os.listdir(BUNDLED_FOOTAGE) if f.endswith(".mp4"))
    assert len(files) >= 5
    assert sum(os.path.getsize(os.path.join(BUNDLED_FOOTAGE, f)) for f in files) <= 5 * 2**20
    index = build_index(BUNDLED_FOOTAGE, ClipSpec(frames=8, fps=4.0, size=32), cache=False)
    assert index.bad == {} and len(index.videos) == len(files)
    assert len(index.clips) * 2.0 >= 60  # at least a minute of 2 s clips
    licences = open(os.path.join(BUNDLED_FOOTAGE, "LICENSES.md")).read()
    for f in files:  # every clip has its own section naming its source and licence
        section = re.search(rf"^## {re.escape(f)}\n(.*?)(?=^## |\Z)", licences, re.M | re.S)
        assert section and "Licence:" in section.group(1) and "Source:" in section.group(1), f
    # Real footage: frames vary in space and in time.
    video, start = index.clips[len(index.clips) // 2]
    clip = load_clip(index.videos[video], start, index.sizes[video], ClipSpec(frames=8, size=32), None)
    assert clip.std() > 20 and np.abs(np.diff(clip.astype(int), axis=0)).mean() > 1


def test_the_tiny_config_trains_on_it_by_default():
    c = tiny.get_config()
    assert (c.data.source, c.data.path) == ("video", BUNDLED_FOOTAGE)

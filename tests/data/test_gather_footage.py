"""tools/gather_footage.py: licences read right, and one real Debian package gathered."""
import json
import os
import subprocess
import sys

import pytest

from lawm_jax.data.video import probe
from tools.gather_footage import Package, dep5_stanza, licence_of, licence_problem, parse_dep5

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: demo

Files: *
Copyright: 2020 Upstream
License: GPL-2+

Files: media/*
Copyright: 2019 A. Filmer
License: CC-BY-4.0
 Attribution text.

Files: media/secret.mov
Copyright: 2019 Studio
License: CC-BY-NC-4.0
"""


def test_the_last_matching_dep5_stanza_gives_the_licence():
    paragraphs = parse_dep5(DEP5)
    assert parse_dep5("This package was debianised by ...") is None  # free-form
    pkg = Package("demo", {})
    assert dep5_stanza(paragraphs, "usr/share/doc/demo/media/walk.mov", {})["Copyright"] == "2019 A. Filmer"
    licence, quoted = licence_of(pkg, DEP5, "usr/share/doc/demo/media/walk.mov")
    assert licence == "CC-BY-4.0" and "A. Filmer" in quoted
    assert licence_of(pkg, DEP5, "usr/share/demo/other.mp4")[0] == "GPL-2+"
    nc, _ = licence_of(pkg, DEP5, "usr/share/doc/demo/media/secret.mov")
    assert "not a known free licence" in licence_problem(nc)
    assert licence_problem("") == "no licence found"
    assert licence_problem("Expat") == "" and licence_problem("CC-BY-4.0") == ""
    assert licence_of(pkg, None, "x.mp4") == ("", "the package has no copyright file")


@pytest.mark.slow
def test_gathering_one_real_package(tmp_path):
    """Downloads node-opencv (4.6 MB) from the Debian mirror and keeps its one real clip."""
    cmd = [sys.executable, "tools/gather_footage.py", f"--out={tmp_path}/out",
           f"--cache_dir={tmp_path}/debs", "--packages=node-opencv"]
    first = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert first.returncode == 0, first.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "LICENSES.json").read_text())
    clips = {c["file"]: c for c in report["clips"]}
    assert list(clips) == ["node-opencv/motion.mov"]
    assert clips["node-opencv/motion.mov"]["licence"] == "Expat"
    assert probe(str(tmp_path / "out" / "node-opencv" / "motion.mov")).duration > 7
    assert (tmp_path / "out" / "licenses").is_dir() and "motion.mov" in (tmp_path / "out" / "LICENSES.md").read_text()
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0 and json.loads((tmp_path / "out" / "LICENSES.json").read_text()) == report

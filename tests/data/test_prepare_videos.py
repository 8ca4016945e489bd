"""tools/prepare_videos.py, run as a user would."""
import os
import subprocess
import sys

from tests.helpers import write_video

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args):
    return subprocess.run([sys.executable, "tools/prepare_videos.py", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_prepare_videos_indexes_and_reports(tmp_path):
    write_video(tmp_path / "a.mp4", 90)
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    out = run(f"--path={tmp_path}", "--frames=4", "--fps=4")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "3 clips of 4 frames at 4.0 fps from 1 videos; 1 unusable" in out.stdout
    assert "broken.mp4" in out.stdout
    assert "2/2" in out.stderr  # the progress bar reached the end
    assert (tmp_path / ".lawm_clip_index.json").exists()
    missing = run(f"--path={tmp_path}/nothing")
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr

"""The notebooks under experiments/, executed top to bottom in a Jupyter kernel with
LAWM_QUICK=1 (a few training steps each): every cell runs without an error and the
pictures they promise are shown."""
import base64
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOKS = {  # notebook -> the least number of pictures (PNG or GIF) it displays
    "quickstart.ipynb": 4, "transfer.ipynb": 3, "planning.ipynb": 4}


def test_notebooks_are_colab_ready():
    """Every notebook under experiments/ is listed here; each starts with its title and
    then the set-up cell that clones and installs the package on a fresh machine, and
    carries no outputs or execution counts (no state from someone's run)."""
    found = sorted(f for f in os.listdir(os.path.join(REPO, "experiments")) if f.endswith(".ipynb"))
    assert found == sorted(NOTEBOOKS)
    for name in found:
        nb = json.load(open(os.path.join(REPO, "experiments", name)))
        cells = nb["cells"]
        assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ")
        setup = "".join(cells[1]["source"])
        assert "git\", \"clone\"" in setup and "pip\", \"install\"" in setup and "LAWM_REPO_URL" in setup
        for cell in cells:
            assert cell.get("outputs", []) == [] and cell.get("execution_count") is None, name


def run_setup_cell(name: str, cwd, **env) -> "subprocess.CompletedProcess":
    source = "".join(json.load(open(os.path.join(REPO, "experiments", name)))["cells"][1]["source"])
    env = {k: v for k, v in os.environ.items() if k != "LAWM_REPO_URL"} | env
    return subprocess.run([sys.executable, "-c", source], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_setup_cell_on_a_fresh_machine(name, tmp_path):
    """The set-up cell as it runs on Colab, outside any checkout: without LAWM_REPO_URL it
    says what to set; with it, it clones that repository (here this one, by path) and asks
    pip to install the clone with the notebook's extras (pip's dry run: nothing changes in
    this environment, but pip resolves the clone's setup.py and every requirement)."""
    missing = run_setup_cell(name, tmp_path)
    assert missing.returncode != 0 and "set REPO_URL in this cell" in missing.stderr, missing.stderr[-2000:]
    assert not os.path.exists(tmp_path / "lawm_jax")
    done = run_setup_cell(name, tmp_path, LAWM_REPO_URL=REPO, PIP_DRY_RUN="1",
                          PIP_NO_BUILD_ISOLATION="0")  # "0" turns isolation off (pip's inverted flag)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"lawm_jax from {tmp_path / 'lawm_jax'}" in done.stdout
    assert os.path.exists(tmp_path / "lawm_jax" / "configs" / "tiny.py")
    again = run_setup_cell(name, tmp_path)  # a restarted kernel finds the clone
    assert again.returncode == 0 and f"lawm_jax from {tmp_path / 'lawm_jax'}" in again.stdout, again.stderr


def displayed_pictures(nb) -> list:
    pictures = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{out.get('ename')}: {out.get('evalue')}"
            for kind in ("image/png", "image/gif"):
                if kind in out.get("data", {}):
                    pictures.append(Image.open(io.BytesIO(base64.b64decode(out["data"][kind]))).convert("RGB"))
    return pictures


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs(name, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("LAWM_QUICK", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebooks' workdirs
    monkeypatch.setenv("MUJOCO_GL", "egl")
    nb = nbformat.read(os.path.join(REPO, "experiments", name), as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": os.path.join(REPO, "experiments")}}).execute()
    pictures = displayed_pictures(nb)
    assert len(pictures) >= NOTEBOOKS[name]
    for img in pictures:
        pixels = np.asarray(img)
        assert min(pixels.shape[:2]) >= 64 and pixels.std() > 5  # a picture, not a blank

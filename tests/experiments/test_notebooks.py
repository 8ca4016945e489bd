"""The notebooks under experiments/, executed top to bottom in a Jupyter kernel with
LAWM_QUICK=1 (a few training steps each): every cell runs without an error and the
pictures they promise are shown."""
import base64
import io
import json
import os

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

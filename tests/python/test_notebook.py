"""examples/notebook.ipynb runs headless, top to bottom, without errors."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from conftest import WORKSPACE

NOTEBOOK = WORKSPACE / "examples" / "notebook.ipynb"


def test_example_notebook_runs_headless(tmp_path, monkeypatch, normalize_wasm):
    monkeypatch.setenv("WEIR_LAKE", str(tmp_path / "lake"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    # Runs in examples/, as Jupyter would; a failing cell raises CellExecutionError.
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    text = "\n".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "1200 records" in text, text
    assert not [o for o in outputs if o.output_type == "error"]

"""Fixtures for the Python package's tests (run by scripts/test in .venv-airflow).

They test the installed wheel: `import weir` and the `weir` binary the wheel
put next to this venv's Python, never python/src or target/release directly.
Transforms are built from source with cargo, as the Rust tests build theirs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

WORKSPACE = Path(__file__).resolve().parents[2]
SAMPLE = WORKSPACE / "samples" / "raw" / "support-2026-11-26.ndjson"


@pytest.fixture(scope="session")
def weir_bin() -> str:
    """The wheel's `weir` binary (this venv's scripts directory)."""
    import weir

    path = weir.find_binary()
    assert Path(path).parent == Path(sys.executable).parent, (
        f"testing {path}, not the wheel's binary: install the wheel into this venv (scripts/setup)"
    )
    return path


def build_guest(package: str) -> Path:
    """The component of the workspace's `package`, built from source (guest profile)."""
    subprocess.run(
        ["cargo", "build", "--locked", "--profile", "guest", "--target", "wasm32-wasip2", "-p", package],
        cwd=WORKSPACE,
        check=True,
    )
    path = WORKSPACE / "target" / "wasm32-wasip2" / "guest" / f"{package.replace('-', '_')}.wasm"
    assert path.is_file(), path
    return path


@pytest.fixture(scope="session")
def normalize_wasm() -> Path:
    """The normalize component, built from transforms/normalize."""
    return build_guest("normalize")


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """A fresh local folder for stages."""
    path = tmp_path / "lake"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def weir_cli(weir_bin: str):
    """Runs the wheel's `weir` binary directly: the reference the helpers are compared with."""

    def run(*args: object, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [weir_bin, *map(str, args)], input=stdin, capture_output=True, text=True, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"weir {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr}")
        return proc

    return run

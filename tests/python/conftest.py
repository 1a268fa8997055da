"""Shared fixtures of the Python interop tests: the mcq binary and lakes it builds."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def mcq_bin() -> str:
    path = os.environ.get("MCQ_BIN", str(ROOT / "target" / "debug" / "mcq"))
    assert pathlib.Path(path).is_file(), f"build mcq first: {path} is missing"
    return path


def run_mcq(mcq_bin: str, *args: str, lake: pathlib.Path | None = None) -> subprocess.CompletedProcess:
    cmd = [mcq_bin]
    if lake is not None:
        cmd += ["--lake", str(lake)]
    cmd += list(args)
    return subprocess.run(cmd, capture_output=True, text=True, check=False)

"""The command line in this test process: ``run("train", "--dataset", "digits")`` returns what a subprocess would
(returncode, stdout, stderr) without paying a fresh interpreter's import of torch, streamlit's pieces and the engine
(about 4 s of CPU per call). One test per entry point still runs the real ``python -m engine`` in a subprocess
(tests/test_cli.py)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


def run(*args: str, env: dict[str, str] | None = None, subprocess_: bool = False) -> Completed:
    """``python -m engine ARGS`` from the repository's folder with ``env`` added to the environment."""
    if subprocess_:
        out = subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True,
                             env={**os.environ, **(env or {})}, timeout=300)
        return Completed(out.returncode, out.stdout, out.stderr)
    from engine.__main__ import main

    stdout, stderr = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update(env or {})
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's usage errors (2), --help (0)
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return Completed(int(code or 0), stdout.getvalue(), stderr.getvalue())

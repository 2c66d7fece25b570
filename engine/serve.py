"""``unlearn-audit serve``: start the dashboard (``app.py`` and ``pages/``) with the project's Streamlit settings.

The dashboard's files are found beside the ``engine`` package in a source checkout, else where an installed wheel put
them (``<prefix>/share/unlearn-audit/``: pyproject.toml's ``data-files``). Streamlit runs in its own process
(``python -m streamlit run``), so the engine itself never imports it. The settings of ``.streamlit/config.toml``
(upload cap, no file watcher, no post-run GC, the viewer toolbar) are passed as flags, so they hold whatever the
current folder is.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

from .errors import UnlearnError

#: where a wheel's data-files put the dashboard, below an installation prefix
SHARE = Path("share") / "unlearn-audit"


def app_dir() -> Path:
    """The folder holding ``app.py``, ``pages/`` and ``.streamlit/config.toml``."""
    prefixes = [Path(sysconfig.get_path("data")), Path(sys.prefix), Path(site.getuserbase())]
    candidates = [Path(__file__).resolve().parents[1]] + [p / SHARE for p in prefixes]
    for folder in candidates:
        if (folder / "app.py").is_file() and (folder / "pages").is_dir():
            return folder
    raise UnlearnError("the dashboard's files (app.py, pages/) are not installed beside the engine; reinstall the "
                       "package (pip install unlearn-audit) or run from a source checkout (make run)")


def config_flags(config: Path) -> list[str]:
    """``.streamlit/config.toml`` as Streamlit command-line flags (``--server.fileWatcherType=none``, …)."""
    if not config.is_file():
        return []
    flags = []
    for section, values in tomllib.loads(config.read_text()).items():
        for key, value in values.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags.append(f"--{section}.{key}={text}")
    return flags


def command(host: str = "127.0.0.1", port: int = 8501, extra: list[str] | None = None) -> list[str]:
    """The command line that serves the dashboard on ``host:port``."""
    folder = app_dir()
    return [sys.executable, "-m", "streamlit", "run", str(folder / "app.py"),
            *config_flags(folder / ".streamlit" / "config.toml"),
            f"--server.address={host}", f"--server.port={port}", *(extra or [])]


def serve(host: str = "127.0.0.1", port: int = 8501, extra: list[str] | None = None) -> int:
    """Serve the dashboard until interrupted. On POSIX this process becomes Streamlit (exec), so a signal to it
    (Ctrl-C, a service manager's stop) reaches the server; elsewhere Streamlit runs as a child."""
    cmd = command(host, port, extra)
    print(f"serving {cmd[4]} on http://{host}:{port} (Ctrl-C stops it)", flush=True)
    if os.name == "posix":
        os.execv(cmd[0], cmd)
    return subprocess.call(cmd)

"""Where the tool reads and writes on disk: its home and the default data directory.

Kept apart from the data layer so that the store (and anything else that only needs a path) does not import
the readers.
"""

from __future__ import annotations

import os
from pathlib import Path


def unlearn_home() -> Path:
    """Root of everything the tool writes: ``$UNLEARN_HOME``, else ``~/.cache/unlearn-audit``."""
    env = os.environ.get("UNLEARN_HOME")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "unlearn-audit"


def default_data_dir() -> Path:
    """``$UNLEARN_DATA_DIR``, else ``<UNLEARN_HOME>/data``."""
    env = os.environ.get("UNLEARN_DATA_DIR")
    return Path(env).expanduser() if env else unlearn_home() / "data"

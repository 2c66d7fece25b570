"""Where the tool reads and writes on disk: its home and the default data directory.

Kept apart from the data layer so that the store (and anything else that only needs a path) does not import
the readers.
"""

from __future__ import annotations

import os
import re
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


def shown_path(path: str | os.PathLike | None) -> str | None:
    """A folder as pages, reports and history show it: its last name only (``…/pets``), never the absolute path of
    the machine that ran it (a shared report or a screenshot would give the server's layout away)."""
    if not path:
        return None
    name = Path(str(path).rstrip("/\\")).name
    return f"…/{name}" if name else "…"


def shown_spec(spec) -> dict:
    """``config.to_dict(spec)`` (a :class:`~engine.config.RunSpec`) with the image folder as :func:`shown_path`
    shows it: the spec as a person is shown it (report JSON, History's differences)."""
    from . import config

    d = config.to_dict(spec)
    data = d.get("data")
    if isinstance(data, dict) and data.get("path"):
        d["data"] = {**data, "path": shown_path(data["path"])}
    return d


#: an absolute POSIX path of two or more parts (``/srv/data/pets``, ``/root/.cache/x.npz``), as it appears in a message
_ABSOLUTE = re.compile(r"(?<![\w.~/-])/(?:[^\s'\"/:,;()\[\]]+/)+([^\s'\"/:,;()\[\]]*)")


def redact(text: str) -> str:
    """``text`` with every absolute path shortened to its last name (``…/pets``): an unexpected error's message
    (``FileNotFoundError: … '/srv/store/x'``) is shown on a page without the server's layout."""
    return _ABSOLUTE.sub(lambda m: f"…/{m.group(1)}", text)

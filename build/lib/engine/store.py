"""Content-addressed run store: every artifact lives in ``<root>/<kind>/<key>/``.

An artifact directory holds ``manifest.json`` (what produced it: config, library versions, timings, metrics,
and the sha256 of every other file), optional ``weights.safetensors`` and optional ``arrays.npz``
(per-sample values; read with ``allow_pickle=False``).

* Atomic: files are written into a private temporary directory under the root and renamed into place in one
  ``os.rename``; a killed writer leaves no half artifact. Its temporary (named with the writer's host and pid)
  is swept when a store opens: at once when that process is gone, else after an hour.
* Two processes: :meth:`Store.cached` takes an exclusive lock per key (``filelock``), so the second caller
  waits and then reads what the first stored — the same request never builds twice.
* Corruption: on load, every file's sha256 is checked against the manifest; a mismatch, a missing file or
  an unreadable manifest counts as absent, the directory is removed and the artifact is rebuilt.
* Moving artifacts between stores (a Ray worker's private store and the driver's, :mod:`engine.sweep`):
  :meth:`Store.export` gives an artifact as the bytes of a tar of its directory; :meth:`Store.import_bytes`
  checks every name and checksum before writing it atomically like :meth:`Store.save`.

Root: ``Store(root)``, else ``$UNLEARN_HOME/store`` (see :func:`engine.paths.unlearn_home`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import platform
import shutil
import socket
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock

from . import config
from .errors import UnlearnError
from .paths import unlearn_home

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
ARRAYS = "arrays.npz"
#: the only file names an artifact directory holds (and an imported tar may carry)
ARTIFACT_FILES = (MANIFEST, WEIGHTS, ARRAYS)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    import sklearn

    return {
        "engine": config.ENGINE_VERSION,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }


@dataclass
class Artifact:
    """A stored artifact; ``from_cache`` says whether this call found it rather than built it."""

    path: Path
    manifest: dict
    from_cache: bool = True

    def tensors(self, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        return load_file(str(self.path / WEIGHTS), device=str(device))

    def arrays(self) -> dict[str, np.ndarray]:
        with np.load(self.path / ARRAYS, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    @property
    def key(self) -> str:
        return self.path.name


class Store:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root else unlearn_home() / "store"
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / ".tmp").mkdir(exist_ok=True)
        (self.root / ".locks").mkdir(exist_ok=True)
        self.sweep_tmp()

    def path(self, kind: str, key: str) -> Path:
        if not kind.replace("-", "").replace("_", "").isalnum() or not key.isalnum():
            raise UnlearnError(f"invalid artifact name {kind}/{key}")
        return self.root / kind / key

    # ------------------------------------------------------------------------------------ reading
    def load(self, kind: str, key: str, verify: bool = True) -> Artifact | None:
        """The artifact, or None if absent or corrupt (a corrupt one is removed)."""
        path = self.path(kind, key)
        if not path.is_dir():
            return None
        try:
            manifest = json.loads((path / MANIFEST).read_text())
            files = manifest["files"]
            if not isinstance(files, dict) or not set(files) <= {WEIGHTS, ARRAYS}:
                raise ValueError(f"the manifest lists unexpected files {files!r:.80}")
            if verify:
                for name, digest in files.items():
                    if _sha256(path / name) != digest:
                        raise ValueError(f"{name} does not match its checksum")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("store: %s/%s is corrupt (%s); removing it so it is rebuilt", kind, key, exc)
            self._remove(path)
            return None
        return Artifact(path, manifest)

    def exists(self, kind: str, key: str) -> bool:
        return (self.path(kind, key) / MANIFEST).is_file()

    # ------------------------------------------------------------------------------------ writing
    def save(
        self,
        kind: str,
        key: str,
        manifest: dict[str, Any],
        tensors: dict[str, torch.Tensor] | None = None,
        arrays: dict[str, np.ndarray] | None = None,
    ) -> Artifact:
        """Write an artifact atomically; if another writer got there first, keep theirs."""
        from safetensors.torch import save_file

        self.path(kind, key)  # validates the name before anything is written
        tmp = self.root / ".tmp" / f"{kind}-{key}-{_writer()}-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        try:
            files = {}
            if tensors is not None:
                save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp / WEIGHTS))
                files[WEIGHTS] = _sha256(tmp / WEIGHTS)
            if arrays is not None:
                for name, arr in arrays.items():
                    if np.asarray(arr).dtype == object:
                        raise UnlearnError(f"array {name!r} has dtype object; the store keeps plain arrays only")
                np.savez(tmp / ARRAYS, **{k: np.asarray(v) for k, v in arrays.items()})
                files[ARRAYS] = _sha256(tmp / ARRAYS)
            full = {
                "kind": kind,
                "key": key,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "versions": library_versions(),
                **config.to_dict(manifest),
                "files": files,
            }
            (tmp / MANIFEST).write_text(json.dumps(full, indent=1, sort_keys=True, default=_json_default))
            self._publish(tmp, kind, key)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        art = self.load(kind, key, verify=False)
        assert art is not None
        art.from_cache = False
        return art

    def _publish(self, tmp: Path, kind: str, key: str) -> bool:
        """Rename a finished temporary directory into place; False when a valid artifact was there first."""
        final = self.path(kind, key)
        for f in tmp.iterdir():  # flush file contents before the rename makes them visible
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # a corrupt leftover: replace it
                raise
            if self.load(kind, key) is not None:
                return False
            os.rename(tmp, final)
        return True

    # ------------------------------------------------------------------------------------ moving
    def export(self, kind: str, key: str) -> bytes:
        """The artifact ``kind/key`` as the bytes of an uncompressed tar of ``kind/key/<file>`` members.

        Its checksums are verified first; raises :class:`UnlearnError` when it is absent or corrupt.
        """
        art = self.load(kind, key)
        if art is None:
            raise UnlearnError(f"{kind}/{key} is not in the store {self.root}")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in (MANIFEST, *sorted(art.manifest["files"])):
                data = (art.path / name).read_bytes()
                info = tarfile.TarInfo(f"{kind}/{key}/{name}")
                info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    def import_bytes(self, data: bytes) -> Artifact:
        """Store an artifact exported by :meth:`export` (from another store) and return it.

        Refuses, before anything is written: members that are not regular files (links, devices, folders),
        names other than ``kind/key/<file>`` for one valid kind and key (absolute paths, ``..``, nesting,
        unknown files), duplicates, a manifest whose kind / key differ from the path, a file the manifest does
        not list or a listed one that is missing, and any sha256 mismatch. Written atomically like
        :meth:`save`; when the store already holds a valid ``kind/key``, that one is kept (``from_cache``).
        """
        try:
            tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
        except tarfile.TarError as exc:
            raise UnlearnError(f"not an exported artifact: {exc}") from None
        files: dict[str, bytes] = {}
        kind = key = None
        with tar:
            for member in tar:
                parts = member.name.split("/")
                if not member.isfile() or len(parts) != 3 or parts[2] not in ARTIFACT_FILES:
                    raise UnlearnError(f"refused artifact member {member.name!r}: expected kind/key/"
                                       f"{{{','.join(ARTIFACT_FILES)}}} regular files")
                if kind is None:
                    kind, key = parts[0], parts[1]
                    self.path(kind, key)  # validates both names (no '..', separators or odd characters)
                if (parts[0], parts[1]) != (kind, key) or parts[2] in files:
                    raise UnlearnError(f"refused artifact member {member.name!r}: one artifact per import, "
                                       "each file once")
                fh = tar.extractfile(member)
                files[parts[2]] = fh.read() if fh is not None else b""
        if kind is None or MANIFEST not in files:
            raise UnlearnError("refused artifact: no manifest.json")
        try:
            manifest = json.loads(files[MANIFEST])
            listed = dict(manifest["files"])
            same = (manifest["kind"], manifest["key"]) == (kind, key)
        except (ValueError, KeyError, TypeError) as exc:
            raise UnlearnError(f"refused artifact {kind}/{key}: unreadable manifest ({exc})") from None
        if not same:
            raise UnlearnError(f"refused artifact {kind}/{key}: its manifest names another artifact")
        if set(listed) != set(files) - {MANIFEST}:
            raise UnlearnError(f"refused artifact {kind}/{key}: files {sorted(set(files) - {MANIFEST})} but the "
                               f"manifest lists {sorted(listed)}")
        for name, digest in listed.items():
            if hashlib.sha256(files[name]).hexdigest() != digest:
                raise UnlearnError(f"refused artifact {kind}/{key}: {name} does not match its checksum")
        existing = self.load(kind, key)
        if existing is not None:
            return existing
        tmp = self.root / ".tmp" / f"{kind}-{key}-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        try:
            for name, content in files.items():
                (tmp / name).write_bytes(content)
            fresh = self._publish(tmp, kind, key)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        art = self.load(kind, key, verify=False)
        assert art is not None
        art.from_cache = not fresh
        return art

    @contextlib.contextmanager
    def lock(self, kind: str, key: str) -> Iterator[None]:
        """Exclusive inter-process lock for one artifact key (blocks until free)."""
        self.path(kind, key)  # validates the name
        with FileLock(str(self.root / ".locks" / f"{kind}-{key}.lock")):
            yield

    def cached(self, kind: str, key: str, build: Callable[[], Artifact]) -> Artifact:
        """Load ``kind/key`` or call ``build`` (which must :meth:`save` it) under the key's lock."""
        art = self.load(kind, key)
        if art is not None:
            return art
        with self.lock(kind, key):
            art = self.load(kind, key)  # another process may have built it while we waited
            if art is not None:
                return art
            return build()

    # ------------------------------------------------------------------------------------ upkeep
    def list(self, kind: str | None = None) -> list[Artifact]:
        kinds = [kind] if kind else [p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        out = []
        for k in kinds:
            base = self.root / k
            if base.is_dir():
                for d in sorted(base.iterdir()):
                    if d.name.startswith("."):
                        continue
                    art = self.load(k, d.name, verify=False)
                    if art:
                        out.append(art)
        return out

    def sweep_tmp(self, older_than_s: float = 3600) -> int:
        """Remove temporaries left by killed writers — those of a process of this host that is gone, and any older
        than ``older_than_s`` — and directories a killed removal left half-deleted; returns how many."""
        removed, now = 0, time.time()
        doomed = list((self.root / ".tmp").iterdir())
        doomed += [d for k in self.root.iterdir() if k.is_dir() and not k.name.startswith(".")
                   for d in k.iterdir() if d.name.startswith(".") and ".del-" in d.name]
        for d in doomed:
            try:
                old = now - d.stat().st_mtime > older_than_s
            except OSError:  # another process removed it meanwhile
                continue
            if old or ".del-" in d.name or _writer_gone(d.name):
                shutil.rmtree(d, ignore_errors=True)
                removed += 1
        return removed

    @staticmethod
    def _remove(path: Path) -> None:
        # rename first so a concurrent reader never sees a half-deleted directory
        doomed = path.with_name(f".{path.name}.del-{uuid.uuid4().hex}")
        try:
            os.rename(path, doomed)
        except OSError:
            return
        shutil.rmtree(doomed, ignore_errors=True)


def _writer() -> str:
    """This process as a writer, ``HOST.PID``: part of its temporaries' names, so a later process can tell that the
    writer of a leftover temporary is gone."""
    return f"{socket.gethostname().replace('-', '_')}.{os.getpid()}"


def _writer_gone(name: str) -> bool:
    """Whether the temporary ``name`` (``kind-key-HOST.PID-uuid``) was written by a process of this host that no longer
    runs. Unknown hosts and old-style names count as alive (they are swept by age)."""
    parts = name.split("-")
    if len(parts) < 4:
        return False
    host, _, pid = parts[-2].rpartition(".")
    if host != _writer().rpartition(".")[0] or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists (another user's process)
        return False
    return False


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")
